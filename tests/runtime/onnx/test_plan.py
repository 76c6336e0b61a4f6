"""Work planned once at load (``runtime.onnx._plan``): constant nodes folded, constant Conv
weights packed; the graph as written still runs when a feed overrides an initializer. The
fast Conv and AveragePool paths agree with onnxruntime."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from runtime.errors import BudgetExceededError
from runtime.onnx import InferenceSession
from tests.runtime.onnx.helpers import ort_session

FLOAT, INT64 = TensorProto.FLOAT, TensorProto.INT64


def _model(nodes, inputs, outputs, initializers=(), opset=17):
    graph = helper.make_graph(nodes, "plan", inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def _weights_built_at_run_time(w_as_input: bool):
    """Conv whose weights come from ConstantOfShape + Mul (as the onnx backend CNNs build
    them); the shape may be listed as a graph input too (then a feed may override it)."""
    shape = helper.make_tensor("w_shape", INT64, [4], [6, 3, 3, 3])
    fill = helper.make_tensor("fill", FLOAT, [1], [0.5])
    ramp = helper.make_tensor(
        "ramp", FLOAT, [6, 3, 3, 3], np.linspace(-1, 1, 162, dtype=np.float32)
    )
    nodes = [
        helper.make_node("ConstantOfShape", ["w_shape"], ["w0"], value=fill, name="fill"),
        helper.make_node("Mul", ["w0", "ramp"], ["w"], name="scale"),
        helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1], name="conv"),
    ]
    inputs = [helper.make_tensor_value_info("x", FLOAT, [2, 3, 7, 7])]
    if w_as_input:
        inputs.append(helper.make_tensor_value_info("ramp", FLOAT, [6, 3, 3, 3]))
    return _model(nodes, inputs, [helper.make_tensor_value_info("y", FLOAT, None)], [shape, ramp])


def test_constant_nodes_are_folded_at_load_and_results_match_onnxruntime():
    model = _weights_built_at_run_time(w_as_input=False)
    session = InferenceSession(model.SerializeToString())
    assert [n.op_type for n in session._planned.nodes] == ["Conv"]
    assert not session._planned.initializers["w"].flags.writeable
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 7)).astype(np.float32)
    expected = ort_session(model).run(None, {"x": x})[0]
    for _ in range(2):  # the folded weights are reused, never written
        np.testing.assert_allclose(session.run(None, {"x": x})[0], expected, rtol=1e-5, atol=1e-6)


def test_a_feed_overriding_a_folded_initializer_runs_the_graph_as_written():
    model = _weights_built_at_run_time(w_as_input=True)
    session = InferenceSession(model.SerializeToString())
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 7, 7)).astype(np.float32)
    ramp = rng.standard_normal((6, 3, 3, 3)).astype(np.float32)
    ort = ort_session(model)
    got = session.run(None, {"x": x, "ramp": ramp})[0]
    np.testing.assert_allclose(got, ort.run(None, {"x": x, "ramp": ramp})[0], rtol=1e-5, atol=1e-6)
    # and without the override, the folded default again
    got = session.run(None, {"x": x})[0]
    np.testing.assert_allclose(got, ort.run(None, {"x": x})[0], rtol=1e-5, atol=1e-6)


def test_a_fed_conv_weight_replaces_the_packed_one():
    w = helper.make_tensor("w", FLOAT, [4, 2, 3, 3], np.ones(72, np.float32))
    model = _model(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="conv")],
        [
            helper.make_tensor_value_info("x", FLOAT, [1, 2, 5, 5]),
            helper.make_tensor_value_info("w", FLOAT, [4, 2, 3, 3]),
        ],
        [helper.make_tensor_value_info("y", FLOAT, None)],
        [w],
    )
    session = InferenceSession(model.SerializeToString())
    assert "_packed" in session._planned.nodes[0].fn.keywords
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    fed = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    ort = ort_session(model)
    for feeds in ({"x": x}, {"x": x, "w": fed}, {"x": x}):
        np.testing.assert_allclose(
            session.run(None, feeds)[0], ort.run(None, feeds)[0], rtol=1e-5, atol=1e-5
        )


def test_a_constant_node_too_large_to_fold_still_fails_at_run_time():
    shape = helper.make_tensor("s", INT64, [2], [1 << 15, 1 << 15])  # 4 GiB of float32
    model = _model(
        [helper.make_node("ConstantOfShape", ["s"], ["y"], name="big")],
        [],
        [helper.make_tensor_value_info("y", FLOAT, None)],
        [shape],
    )
    session = InferenceSession(model.SerializeToString())  # loads: nothing folded
    assert [n.op_type for n in session._planned.nodes] == ["ConstantOfShape"]
    with pytest.raises(BudgetExceededError, match="'big'"):
        session.run(None, {})


@pytest.mark.parametrize("multiplier", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_depthwise_conv_matches_onnxruntime(multiplier, dtype):
    ttype = TensorProto.FLOAT if dtype == np.float32 else TensorProto.FLOAT16
    rng = np.random.default_rng(3)
    w = rng.standard_normal((5 * multiplier, 1, 3, 3)).astype(dtype)
    b = rng.standard_normal(5 * multiplier).astype(dtype)
    model = _model(
        [
            helper.make_node(
                "Conv", ["x", "w", "b"], ["y"], group=5, strides=[2, 1], pads=[1, 0, 1, 2]
            )
        ],
        [helper.make_tensor_value_info("x", ttype, [2, 5, 9, 8])],
        [helper.make_tensor_value_info("y", ttype, None)],
        [
            helper.make_tensor("w", ttype, w.shape, w.tobytes(), raw=True),
            helper.make_tensor("b", ttype, b.shape, b.tobytes(), raw=True),
        ],
    )
    x = rng.standard_normal((2, 5, 9, 8)).astype(dtype)
    got = InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    expected = ort_session(model).run(None, {"x": x})[0]
    tol = 1e-5 if dtype == np.float32 else 2e-3
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("kernel", [[3, 3], [8, 8], [3, 9], [2, 3, 2]])
def test_average_pool_sums_in_onnxruntimes_order(kernel):
    # 2-D: exactly equal, onnxruntime's MLAS pooling adds the first kernel axis innermost.
    rng = np.random.default_rng(4)
    shape = [2, 3] + [12] * len(kernel)
    node = helper.make_node(
        "AveragePool", ["x"], ["y"], kernel_shape=kernel, pads=[1] * 2 * len(kernel)
    )
    model = _model(
        [node],
        [helper.make_tensor_value_info("x", FLOAT, shape)],
        [helper.make_tensor_value_info("y", FLOAT, None)],
    )
    x = rng.standard_normal(shape).astype(np.float32)
    got = InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    expected = ort_session(model, optimize=False).run(None, {"x": x})[0]
    if len(kernel) == 2:
        np.testing.assert_array_equal(got, expected)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shared", [False, True])
def test_batch_norm_after_conv_is_fused_unless_the_conv_output_is_read_elsewhere(shared):
    rng = np.random.default_rng(5)
    params = {
        "w": rng.standard_normal((4, 3, 3, 3)),
        "b": rng.standard_normal(4),
        "scale": rng.uniform(0.5, 2, 4),
        "beta": rng.standard_normal(4),
        "mean": rng.standard_normal(4),
        "var": rng.uniform(0.1, 2, 4),
    }
    inits = [
        helper.make_tensor(k, FLOAT, v.shape, v.astype(np.float32).ravel())
        for k, v in params.items()
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], name="conv"),
        helper.make_node(
            "BatchNormalization", ["c", "scale", "beta", "mean", "var"], ["y"], epsilon=1e-3
        ),
    ]
    outputs = [helper.make_tensor_value_info("y", FLOAT, None)]
    if shared:
        nodes.append(helper.make_node("Relu", ["c"], ["r"]))
        outputs.append(helper.make_tensor_value_info("r", FLOAT, None))
    model = _model(nodes, [helper.make_tensor_value_info("x", FLOAT, [2, 3, 6, 6])], outputs, inits)
    session = InferenceSession(model.SerializeToString())
    ops = [n.op_type for n in session._planned.nodes]
    assert ops == (["Conv", "BatchNormalization", "Relu"] if shared else ["Conv"])
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    for got, want in zip(
        session.run(None, {"x": x}), ort_session(model).run(None, {"x": x}), strict=True
    ):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_channel_concat_of_conv_outputs_matches_onnxruntime():
    # Conv outputs are channels-last memory; their channel Concat stays so (no transpose).
    rng = np.random.default_rng(6)
    inits = [
        helper.make_tensor(name, FLOAT, shape, rng.standard_normal(shape).astype(np.float32))
        for name, shape in (("w1", [4, 3, 1, 1]), ("w2", [5, 3, 3, 3]), ("w3", [2, 9, 3, 3]))
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["a"]),
        helper.make_node("Conv", ["x", "w2"], ["b"], pads=[1, 1, 1, 1]),
        helper.make_node("Concat", ["a", "b"], ["c"], axis=1),
        helper.make_node("Conv", ["c", "w3"], ["y"], pads=[1, 1, 1, 1]),
    ]
    outputs = [helper.make_tensor_value_info(n, FLOAT, None) for n in ("c", "y")]
    model = _model(nodes, [helper.make_tensor_value_info("x", FLOAT, [2, 3, 5, 6])], outputs, inits)
    x = rng.standard_normal((2, 3, 5, 6)).astype(np.float32)
    got = InferenceSession(model.SerializeToString()).run(None, {"x": x})
    for g, want in zip(got, ort_session(model).run(None, {"x": x}), strict=True):
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shared", [False, True])
def test_relu_after_conv_is_applied_by_the_conv_unless_the_conv_output_is_read(shared):
    rng = np.random.default_rng(7)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
        helper.make_node("Relu", ["c"], ["y"]),
    ]
    outputs = [helper.make_tensor_value_info("y", FLOAT, None)]
    if shared:
        outputs.append(helper.make_tensor_value_info("c", FLOAT, None))
    model = _model(
        nodes,
        [helper.make_tensor_value_info("x", FLOAT, [1, 3, 6, 6])],
        outputs,
        [helper.make_tensor("w", FLOAT, w.shape, w.ravel())],
    )
    session = InferenceSession(model.SerializeToString())
    assert [n.op_type for n in session._planned.nodes] == (["Conv", "Relu"] if shared else ["Conv"])
    x = rng.standard_normal((1, 3, 6, 6)).astype(np.float32)
    got = session.run(None, {"x": x})
    assert (got[0] >= 0).all() and (not shared or (got[1] < 0).any())
    for g, want in zip(got, ort_session(model).run(None, {"x": x}), strict=True):
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-5)


def test_constants_inside_if_branches_are_folded_and_branches_still_read_outer_values():
    def branch(name, value):
        nodes = [
            helper.make_node("Constant", [], ["k"], value_float=value),
            helper.make_node("Mul", ["x", "k"], ["out"]),  # x: a value of the enclosing graph
        ]
        return helper.make_graph(
            nodes, name, [], [helper.make_tensor_value_info("out", FLOAT, None)]
        )

    nodes = [
        helper.make_node(
            "If",
            ["c"],
            ["y"],
            then_branch=branch("then", 2.0),
            else_branch=branch("else", -3.0),
        )
    ]
    model = _model(
        nodes,
        [
            helper.make_tensor_value_info("c", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x", FLOAT, [3]),
        ],
        [helper.make_tensor_value_info("y", FLOAT, None)],
    )
    session = InferenceSession(model.SerializeToString())
    (if_node,) = session._planned.nodes
    for key in ("then_branch", "else_branch"):
        assert [n.op_type for n in if_node.attrs[key].nodes] == ["Mul"]
    x = np.array([1.0, -2.0, 0.5], np.float32)
    ort = ort_session(model)
    for c in (True, False):
        feeds = {"c": np.array(c), "x": x}
        np.testing.assert_array_equal(session.run(None, feeds)[0], ort.run(None, feeds)[0])


def test_a_loop_body_initializer_shadowed_by_an_input_is_not_folded():
    # The body's input "v" has the same name as one of its initializers: the input is seen.
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Add", ["v", "one"], ["v_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v", FLOAT, [1]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_out", FLOAT, [1]),
        ],
        initializer=[
            helper.make_tensor("v", FLOAT, [1], [100.0]),
            helper.make_tensor("one", FLOAT, [1], [1.0]),
        ],
    )
    trips = helper.make_tensor("n", INT64, [], [4])
    cond = helper.make_tensor("cond", TensorProto.BOOL, [], [True])
    start = helper.make_tensor("v0", FLOAT, [1], [0.0])
    model = _model(
        [helper.make_node("Loop", ["n", "cond", "v0"], ["y"], body=body)],
        [],
        [helper.make_tensor_value_info("y", FLOAT, None)],
        [trips, cond, start],
        opset=13,
    )
    # (onnxruntime refuses such a Loop body; the spec lets the input's value win)
    got = InferenceSession(model.SerializeToString()).run(None, {})[0]
    np.testing.assert_array_equal(got, [4.0])


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("zero_point", [True, False])
def test_quantize_dequantize_pairs_run_as_one_node_with_the_same_results(shared, zero_point):
    rng = np.random.default_rng(8)
    inits = [helper.make_tensor("s", FLOAT, [], [0.05])]
    q_inputs = ["x", "s"]
    if zero_point:
        inits.append(helper.make_tensor("zp", TensorProto.INT8, [], [-3]))
        q_inputs.append("zp")
    nodes = [
        helper.make_node("QuantizeLinear", q_inputs, ["q"], name="quant"),
        helper.make_node("DequantizeLinear", ["q", *q_inputs[1:]], ["y"], name="dequant"),
    ]
    outputs = [helper.make_tensor_value_info("y", FLOAT, None)]
    if shared:
        outputs.append(
            helper.make_tensor_value_info(
                "q", TensorProto.INT8 if zero_point else TensorProto.UINT8, None
            )
        )
    model = _model(nodes, [helper.make_tensor_value_info("x", FLOAT, [4, 5])], outputs, inits)
    data = model.SerializeToString()
    session = InferenceSession(data)
    ops = [n.op_type for n in session._planned.nodes]
    assert ops == (
        ["QuantizeLinear", "DequantizeLinear"] if shared else ["QuantizeLinear+DequantizeLinear"]
    )
    x = (rng.standard_normal((4, 5)) * 5).astype(np.float32)
    as_written = InferenceSession(data, keep_intermediates=True)  # runs the graph unplanned
    for got, want in zip(session.run(None, {"x": x}), as_written.run(None, {"x": x}), strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(
        session.run(None, {"x": x})[0], ort_session(model, optimize=False).run(None, {"x": x})[0]
    )
