"""A layer normalization written as primitives runs as one planned step
(``runtime.onnx._fuse_layer_norm``): the same bits as the nodes as written where x holds
several groups, within a few ulps of them where it is one group (dot products), results
within float tolerance of onnxruntime's, and the nodes as written for inputs the step does
not take."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from runtime.onnx import InferenceSession
from tests.runtime.onnx.helpers import ort_session

# One group (a [1, ..., N] row): mean and variance as dot products, a few ulps from the
# nodes' pairwise sums.
_ONE_GROUP_TOLERANCE = {np.dtype(np.float32): (1e-5, 1e-6), np.dtype(np.float64): (1e-13, 1e-14)}


def _layer_norm_model(
    square="Pow",
    affine=True,
    elem=TensorProto.FLOAT,
    extra_reader=False,
    axes_input=False,
    shape=(2, 3, 8),
    relu=False,
):
    """PyTorch's pre-opset-17 export of LayerNorm over the last axis of x (``shape``)."""
    dtype = helper.tensor_dtype_to_np_dtype(elem)
    rng = np.random.default_rng(0)
    consts = {
        "two": np.array(2.0, dtype),
        "eps": np.array(1e-5, dtype),
        "gamma": rng.standard_normal(shape[-1]).astype(dtype),
        "beta": rng.standard_normal(shape[-1]).astype(dtype),
        "axes": np.array([-1], np.int64),
    }
    opset = 18 if axes_input else 17
    reduce_inputs = (lambda x: [x, "axes"]) if axes_input else (lambda x: [x])
    reduce_attrs = {} if axes_input else {"axes": [-1]}
    nodes = [
        helper.make_node("ReduceMean", reduce_inputs("x"), ["m"], **reduce_attrs),
        helper.make_node("Sub", ["x", "m"], ["d"]),
        helper.make_node("Pow", ["d", "two"], ["p"])
        if square == "Pow"
        else helper.make_node("Mul", ["d", "d"], ["p"]),
        helper.make_node("ReduceMean", reduce_inputs("p"), ["v"], **reduce_attrs),
        helper.make_node("Add", ["v", "eps"], ["e"]),
        helper.make_node("Sqrt", ["e"], ["s"]),
        helper.make_node("Div", ["d", "s"], ["n"]),
    ]
    out = "n"
    if affine:
        nodes += [
            helper.make_node("Mul", ["gamma", "n"], ["g"]),
            helper.make_node("Add", ["g", "beta"], ["y"]),
        ]
        out = "y"
    if relu:
        nodes.append(helper.make_node("Relu", [out], ["r"]))
        out = "r"
    outputs = [helper.make_tensor_value_info(out, elem, None)]
    if extra_reader:
        outputs.append(helper.make_tensor_value_info("d", elem, None))
    graph = helper.make_graph(
        nodes,
        "ln",
        [helper.make_tensor_value_info("x", elem, list(shape))],
        outputs,
        [
            helper.make_tensor(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape, v.flatten())
            for k, v in consts.items()
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize(
    "square, affine, axes_input",
    [("Pow", True, False), ("Mul", True, False), ("Pow", False, False), ("Pow", True, True)],
)
def test_the_chain_is_one_step_with_the_bits_of_the_nodes_as_written(square, affine, axes_input):
    model = _layer_norm_model(square, affine, axes_input=axes_input)
    session = InferenceSession(model.SerializeToString())
    assert [n.op_type for n in session._planned.nodes][-1].startswith("LayerNorm(")
    assert len(session._planned.nodes) == 1
    x = (np.random.default_rng(1).standard_normal((2, 3, 8)) * 3 + 1).astype(np.float32)
    fused = session.run(None, {"x": x})[0]
    written = InferenceSession(model.SerializeToString(), keep_intermediates=True)
    np.testing.assert_array_equal(fused, written.run(None, {"x": x})[0])
    expected = ort_session(model).run(None, {"x": x})[0]
    np.testing.assert_allclose(fused, expected, rtol=1e-5, atol=1e-6)


def test_a_value_read_outside_the_chain_keeps_the_nodes_as_written():
    session = InferenceSession(_layer_norm_model(extra_reader=True).SerializeToString())
    assert not any(n.op_type.startswith("LayerNorm(") for n in session._planned.nodes)


def test_other_element_types_run_the_nodes_as_written():
    model = _layer_norm_model(elem=TensorProto.FLOAT16)
    session = InferenceSession(model.SerializeToString())
    assert len(session._planned.nodes) == 1
    x = np.random.default_rng(2).standard_normal((2, 3, 8)).astype(np.float16)
    written = InferenceSession(model.SerializeToString(), keep_intermediates=True)
    np.testing.assert_array_equal(session.run(None, {"x": x})[0], written.run(None, {"x": x})[0])


@pytest.mark.parametrize("elem", [TensorProto.FLOAT, TensorProto.DOUBLE])
@pytest.mark.parametrize("n", [8, 200])
def test_one_group_rows_and_changing_shapes_agree_with_the_nodes_as_written(elem, n):
    # A [1, 1, n] row is one group (scalar mean and variance); rows of other shapes, and a
    # strided feed, on the same session must not reuse what the row's run remembered.
    model = _layer_norm_model(elem=elem, shape=("a", "b", n))
    session = InferenceSession(model.SerializeToString())
    written = InferenceSession(model.SerializeToString(), keep_intermediates=True)
    dtype = helper.tensor_dtype_to_np_dtype(elem)
    rng = np.random.default_rng(3)
    wide = (rng.standard_normal((2, 3, 2 * n)) * 5 + 2).astype(dtype)
    feeds = [wide[:1, :1, :n].copy(), wide[:1, :1, :n].copy() * 3, wide[:, :, :n].copy()]
    feeds += [wide[:1, :1, ::2], wide[:1, :1, :n].copy()]
    rtol, atol = _ONE_GROUP_TOLERANCE[dtype]
    for x in feeds:
        fused = session.run(None, {"x": x})[0]
        assert fused.dtype == dtype and fused.shape == x.shape
        if x.shape[:2] == (1, 1):
            np.testing.assert_allclose(fused, written.run(None, {"x": x})[0], rtol, atol)
        else:  # (several groups: the same reductions as the nodes)
            np.testing.assert_array_equal(fused, written.run(None, {"x": x})[0])
    expected = ort_session(model).run(None, {"x": feeds[0]})[0]
    np.testing.assert_allclose(
        session.run(None, {"x": feeds[0]})[0], expected, rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("elem", [TensorProto.FLOAT, TensorProto.FLOAT16])
def test_a_relu_reading_the_result_is_part_of_the_step(elem):
    model = _layer_norm_model(elem=elem, relu=True, shape=("a", 3, 8))
    session = InferenceSession(model.SerializeToString())
    assert [n.op_type for n in session._planned.nodes] == [
        "LayerNorm(ReduceMean,Sub,Pow,ReduceMean,Add,Sqrt,Div,Mul,Add,Relu)"
    ]
    written = InferenceSession(model.SerializeToString(), keep_intermediates=True)
    dtype = helper.tensor_dtype_to_np_dtype(elem)
    rng = np.random.default_rng(4)
    for shape in ((1, 3, 8), (2, 3, 8), (1, 3, 8)):  # (float16: the nodes as written)
        x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
        fused = session.run(None, {"x": x})[0]
        assert (fused >= 0).all() and (fused == 0).any()
        np.testing.assert_array_equal(fused, written.run(None, {"x": x})[0])
