"""Chains of dense layers of constant weights run as one planned node
(``runtime.onnx._fuse_dense``): results within float tolerance of onnxruntime's and of the
nodes as written, the nodes as written where the chain's plan does not apply (at load or for
one run), fresh outputs, and concurrent runs of one session."""

import threading

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from runtime.errors import InvalidModelError
from runtime.onnx import InferenceSession, _fuse_dense
from runtime.onnx.ops import elementwise
from tests.runtime.onnx.helpers import ort_session

# float32 products of a few hundred terms, in another order than onnxruntime's.
RTOL, ATOL = 1e-5, 1e-5


@pytest.fixture(autouse=True)
def fallbacks(monkeypatch) -> list:
    """The runs of a planned chain that went through its nodes as written."""
    calls = []
    real = _fuse_dense.run_graph

    def counted(*args, **kwargs):
        calls.append(args[0].name)
        return real(*args, **kwargs)

    monkeypatch.setattr(_fuse_dense, "run_graph", counted)
    return calls


def _const(name, value):
    return numpy_helper.from_array(value, name)


def _layer_norm_nodes(x, prefix, n, consts, rng, dtype, affine=True):
    """PyTorch's pre-opset-17 export of LayerNorm over the last axis of x (with a scale and
    shift when ``affine``), then a Relu."""
    consts.update(
        {
            f"{prefix}two": np.array(2.0, dtype),
            f"{prefix}eps": np.array(1e-5, dtype),
            f"{prefix}gamma": rng.standard_normal(n).astype(dtype),
            f"{prefix}beta": rng.standard_normal(n).astype(dtype),
        }
    )
    p = prefix
    return [
        helper.make_node("ReduceMean", [x], [f"{p}m"], axes=[-1]),
        helper.make_node("Sub", [x, f"{p}m"], [f"{p}d"]),
        helper.make_node("Pow", [f"{p}d", f"{p}two"], [f"{p}p"]),
        helper.make_node("ReduceMean", [f"{p}p"], [f"{p}v"], axes=[-1]),
        helper.make_node("Add", [f"{p}v", f"{p}eps"], [f"{p}e"]),
        helper.make_node("Sqrt", [f"{p}e"], [f"{p}s"]),
        helper.make_node("Div", [f"{p}d", f"{p}s"], [f"{p}n"]),
    ] + (
        [
            helper.make_node("Mul", [f"{p}n", f"{p}gamma"], [f"{p}g"]),
            helper.make_node("Add", [f"{p}g", f"{p}beta"], [f"{p}y"]),
            helper.make_node("Relu", [f"{p}y"], [f"{p}r"]),
        ]
        if affine
        else [helper.make_node("Relu", [f"{p}n"], [f"{p}r"])]
    ), f"{p}r"


def _head(
    sizes=(24, 16, 1),
    *,
    frames=(4, 6),
    layer_norm=False,
    last="Sigmoid",
    trans_b=1,
    elem=TensorProto.FLOAT,
    alpha=1.0,
    beta=1.0,
    bias_shape="row",
    extra_output=None,
    opset=13,
    offset=0.0,
):
    """x [batch, *frames] -> Flatten -> (Gemm [-> LayerNorm] -> Relu) per hidden size ->
    Gemm -> ``last`` (Sigmoid, Softmax or None)."""
    dtype = helper.tensor_dtype_to_np_dtype(elem)
    rng = np.random.default_rng(0)
    consts: dict = {}
    nodes = [helper.make_node("Flatten", ["x"], ["f"], axis=1)]
    k, value = int(np.prod(frames)), "f"
    for i, n in enumerate(sizes):
        w = (rng.standard_normal((n, k) if trans_b else (k, n)) / np.sqrt(k)).astype(dtype)
        shapes = {"row": (n,), "one": (1,), "2d": (1, n), "scalar": ()}
        c = (rng.standard_normal(shapes[bias_shape]) + offset).astype(dtype)
        consts.update({f"w{i}": w, f"c{i}": c})
        attrs = {"transB": trans_b, "alpha": alpha, "beta": beta}
        nodes.append(helper.make_node("Gemm", [value, f"w{i}", f"c{i}"], [f"g{i}"], **attrs))
        value = f"g{i}"
        if i < len(sizes) - 1:
            if layer_norm:
                affine = layer_norm != "plain"
                more, value = _layer_norm_nodes(value, f"ln{i}_", n, consts, rng, dtype, affine)
                nodes += more
            else:
                nodes.append(helper.make_node("Relu", [value], [f"r{i}"]))
                value = f"r{i}"
        k = n
    if last:
        nodes.append(helper.make_node(last, [value], ["y"]))
        value = "y"
    outputs = [helper.make_tensor_value_info(value, elem, None)]
    if extra_output:
        outputs.append(helper.make_tensor_value_info(extra_output, elem, None))
    graph = helper.make_graph(
        nodes,
        "head",
        [helper.make_tensor_value_info("x", elem, ["batch", *frames])],
        outputs,
        [_const(name, v) for name, v in consts.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def _check_runs(model, batches=(1, 3, 1), scale=1.0, rtol=RTOL, atol=ATOL, fallbacks=None):
    """Runs of the planned session on feeds of ``batches`` rows: within tolerance of the
    nodes as written and of onnxruntime, none of them through the nodes as written (when
    ``fallbacks`` is given); returns the planned session."""
    data = model.SerializeToString()
    session = InferenceSession(data)
    written = InferenceSession(data, keep_intermediates=True)  # (the graph as written)
    reference = ort_session(model)
    shape = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    dtype = helper.tensor_dtype_to_np_dtype(model.graph.input[0].type.tensor_type.elem_type)
    rng = np.random.default_rng(1)
    for batch in batches:
        x = (rng.standard_normal((batch, *shape[1:])) * scale).astype(dtype)
        kept = x.copy()
        before = len(fallbacks or ())
        got = session.run(None, {"x": x})
        assert fallbacks is None or len(fallbacks) == before
        for g, w, r in zip(got, written.run(None, {"x": x}), reference.run(None, {"x": x})):
            assert g.dtype == dtype and g.shape == r.shape
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)
            np.testing.assert_allclose(g, r, rtol=rtol, atol=atol)
        np.testing.assert_array_equal(x, kept)  # (the feed is never written)
    return session


def _planned(session) -> list[str]:
    return [n.op_type for n in session._planned.nodes]


@pytest.mark.parametrize("last", ["Sigmoid", "Softmax", None])
@pytest.mark.parametrize("layer_norm", [False, True, "plain"])
def test_a_head_is_one_node_within_tolerance_of_onnxruntime(last, layer_norm, fallbacks):
    sizes = (24, 16, 5 if last == "Softmax" else 1)
    session = _check_runs(_head(sizes, last=last, layer_norm=layer_norm), fallbacks=fallbacks)
    (op_type,) = _planned(session)
    kinds = ["Flatten"] + (["Gemm", "LayerNorm"] if layer_norm else ["Gemm"]) * 2 + ["Gemm"]
    assert op_type == "Dense(" + ",".join(kinds + ([last] if last == "Softmax" else [])) + ")"


@pytest.mark.parametrize("offset", [30.0, -300.0])
def test_a_layer_norm_of_rows_far_from_zero(offset, fallbacks):
    # The layer norm right after a Gemm takes its mean out of the weights (no cancellation in
    # y - mean(y)); onnxruntime subtracts it: they agree within float32's cancellation there
    # (|offset| * eps relative to a row's spread of ~1).
    tolerance = abs(offset) * 1e-6
    model = _head((24, 8), layer_norm=True, offset=offset, last=None)
    _check_runs(model, rtol=tolerance, atol=tolerance, fallbacks=fallbacks)


@pytest.mark.parametrize("elem", [TensorProto.FLOAT, TensorProto.DOUBLE])
@pytest.mark.parametrize("trans_b", [0, 1])
@pytest.mark.parametrize("frames", [(4, 6), (30, 40)])  # (K below and above the rows layout)
def test_weight_layouts_and_dtypes(elem, trans_b, frames, fallbacks):
    model = _head((24, 7), frames=frames, trans_b=trans_b, elem=elem, last="Softmax")
    _check_runs(model, batches=(1, 2), fallbacks=fallbacks)


@pytest.mark.parametrize("bias_shape", ["row", "one", "2d", "scalar"])
@pytest.mark.parametrize("alpha, beta", [(1.0, 1.0), (0.5, 2.0)])
def test_alpha_beta_and_bias_shapes(bias_shape, alpha, beta, fallbacks):
    model = _head((8, 3), alpha=alpha, beta=beta, bias_shape=bias_shape, last=None)
    session = _check_runs(model, fallbacks=fallbacks)
    assert _planned(session) == ["Dense(Flatten,Gemm,Gemm)"]


def test_opset_11_softmax_and_far_scores(fallbacks):
    _check_runs(_head((16, 4), last="Softmax", opset=11), scale=30.0, fallbacks=fallbacks)
    model = _head((16, 1), last="Sigmoid", opset=11)
    _check_runs(model, scale=30.0, rtol=1e-4, fallbacks=fallbacks)


def test_a_value_read_elsewhere_ends_the_chain_there(fallbacks):
    session = _check_runs(_head((24, 16, 1), extra_output="r0"), fallbacks=fallbacks)
    assert _planned(session) == ["Dense(Flatten,Gemm)", "Dense(Gemm,Gemm)"]
    session = _check_runs(_head((24, 1), extra_output="g1"), fallbacks=fallbacks)
    assert _planned(session) == ["Dense(Flatten,Gemm,Gemm)", "Sigmoid"]


def _gemm_model(inputs, initializers, nodes, shapes, elem=TensorProto.FLOAT):
    graph = helper.make_graph(
        nodes,
        "gemm",
        [helper.make_tensor_value_info(n, elem, s) for n, s in zip(inputs, shapes)],
        [helper.make_tensor_value_info(nodes[-1].output[0], elem, None)],
        [_const(n, v) for n, v in initializers.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def test_gemms_the_plan_does_not_take_run_as_written():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((6, 4)).astype(np.float32)
    cases = [
        # transA
        (["x"], {"w": w}, [helper.make_node("Gemm", ["x", "w"], ["y"], transA=1)], [[6, 2]]),
        # B fed at run time
        (["x", "w"], {}, [helper.make_node("Gemm", ["x", "w"], ["y"])], [[2, 6], [6, 4]]),
        # C of several rows
        (
            ["x"],
            {"w": w, "c": rng.standard_normal((2, 4)).astype(np.float32)},
            [helper.make_node("Gemm", ["x", "w", "c"], ["y"])],
            [[2, 6]],
        ),
    ]
    for inputs, initializers, nodes, shapes in cases:
        model = _gemm_model(inputs, initializers, nodes, shapes)
        session = InferenceSession(model.SerializeToString())
        assert _planned(session) == ["Gemm"]
        assert session._planned.nodes[0].fn is elementwise.Gemm
        feeds = {n: rng.standard_normal(s).astype(np.float32) for n, s in zip(inputs, shapes)}
        np.testing.assert_allclose(
            session.run(None, feeds)[0], ort_session(model).run(None, feeds)[0], RTOL, ATOL
        )
    ints = _gemm_model(
        ["x"], {"w": w.astype(np.int32)}, [helper.make_node("Gemm", ["x", "w"], ["y"])], [[2, 6]]
    )
    ints.graph.input[0].type.tensor_type.elem_type = TensorProto.INT32
    ints.graph.output[0].type.tensor_type.elem_type = TensorProto.INT32
    session = InferenceSession(ints.SerializeToString())
    assert session._planned.nodes[0].fn is elementwise.Gemm
    x = np.arange(12, dtype=np.int32).reshape(2, 6)
    np.testing.assert_array_equal(session.run(None, {"x": x})[0], x @ w.astype(np.int32))


def test_a_feed_the_plan_does_not_take_runs_as_written_with_its_errors(fallbacks):
    # The second dim is free: a feed of another width reaches the first Gemm as written.
    model = _head((8, 1), frames=(6,))
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "width"
    session = InferenceSession(model.SerializeToString())
    assert _planned(session) == ["Dense(Flatten,Gemm,Gemm)"]
    with pytest.raises(InvalidModelError, match="Gemm"):
        session.run(None, {"x": np.zeros((1, 5), np.float32)})
    assert len(fallbacks) == 1
    empty = session.run(None, {"x": np.zeros((0, 6), np.float32)})[0]  # (no rows: as written)
    assert empty.shape == (0, 1) and empty.dtype == np.float32
    x = np.ones((2, 6), np.float32)
    np.testing.assert_allclose(
        session.run(None, {"x": x})[0], ort_session(model).run(None, {"x": x})[0], RTOL, ATOL
    )


def test_a_head_in_an_if_branch_reading_outer_weights(fallbacks):
    inner = _head((16, 1), frames=(12,))
    branch = helper.make_graph(inner.graph.node, "then", [], list(inner.graph.output))
    other = helper.make_graph(
        [helper.make_node("Constant", [], ["z"], value=_const("zv", np.zeros((1, 1), "f")))],
        "else",
        [],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)],
    )
    graph = helper.make_graph(
        [
            helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
            helper.make_node("Greater", ["s", "zero"], ["cond"]),
            helper.make_node("If", ["cond"], ["out"], then_branch=branch, else_branch=other),
        ],
        "if_head",
        list(inner.graph.input),
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
        [*inner.graph.initializer, _const("zero", np.array(0.0, np.float32))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    session = InferenceSession(model.SerializeToString())
    then = session._planned.nodes[-1].attrs["then_branch"]
    assert [n.op_type for n in then.nodes] == ["Dense(Flatten,Gemm,Gemm,Sigmoid)"]
    reference = ort_session(model)
    for x in (np.ones((1, 12), np.float32), -np.ones((1, 12), np.float32)):
        np.testing.assert_allclose(
            session.run(None, {"x": x})[0], reference.run(None, {"x": x})[0], RTOL, ATOL
        )
    assert not fallbacks


def test_outputs_are_fresh_and_concurrent_runs_agree():
    session = InferenceSession(
        _head((32, 16, 4), layer_norm=True, last="Softmax").SerializeToString()
    )
    rng = np.random.default_rng(3)
    feeds = [rng.standard_normal((1 + i % 2, 4, 6)).astype(np.float32) for i in range(8)]
    expected = [session.run(None, {"x": x})[0].copy() for x in feeds]
    first = session.run(None, {"x": feeds[0]})[0]
    first[...] = -1  # (the caller owns its output: the next run is unchanged)
    np.testing.assert_array_equal(session.run(None, {"x": feeds[0]})[0], expected[0])
    failures = []

    def worker(order):
        for _ in range(30):
            for i in order:
                got = session.run(None, {"x": feeds[i]})[0]
                if not np.array_equal(got, expected[i]):
                    failures.append(i)

    threads = [
        threading.Thread(target=worker, args=(order,)) for order in (range(8), range(7, -1, -1))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


def test_gemms_whose_sizes_do_not_chain_stay_apart_and_fail_as_written():
    rng = np.random.default_rng(4)
    weights = {
        "w0": rng.standard_normal((6, 4)).astype(np.float32),
        "w1": rng.standard_normal((5, 3)).astype(np.float32),
    }
    nodes = [
        helper.make_node("Gemm", ["x", "w0"], ["h"]),
        helper.make_node("Gemm", ["h", "w1"], ["y"]),
    ]
    model = _gemm_model(["x"], weights, nodes, [[1, 6]])
    session = InferenceSession(model.SerializeToString())
    assert _planned(session) == ["Gemm", "Gemm"]
    with pytest.raises(InvalidModelError, match="Gemm"):
        session.run(None, {"x": np.ones((1, 6), np.float32)})
