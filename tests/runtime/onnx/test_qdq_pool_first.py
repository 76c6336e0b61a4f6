"""MaxPool before the fake quantization that feeds it (``runtime.onnx._qdq_pool_first``): the
same bits as the graph as written and as onnxruntime, NaN and infinities included."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from runtime.onnx import InferenceSession
from tests.runtime.onnx.helpers import ort_session


def _model(shape, pool, scale=0.03, zero=-7, nhwc=False, requantize=False):
    """x -> [Transpose NHWC->NCHW] -> QuantizeLinear -> DequantizeLinear -> MaxPool
    [-> QuantizeLinear -> DequantizeLinear]."""
    nodes = []
    source = "x"
    if nhwc:
        nodes.append(helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]))
        source = "t"
    nodes += [
        helper.make_node("QuantizeLinear", [source, "s", "z"], ["q"]),
        helper.make_node("DequantizeLinear", ["q", "s", "z"], ["d"]),
        helper.make_node("MaxPool", ["d"], ["p" if requantize else "y"], **pool),
    ]
    if requantize:
        nodes += [
            helper.make_node("QuantizeLinear", ["p", "s", "z"], ["q2"]),
            helper.make_node("DequantizeLinear", ["q2", "s", "z"], ["y"]),
        ]
    inits = [
        helper.make_tensor("s", TensorProto.FLOAT, [], [scale]),
        helper.make_tensor("z", TensorProto.INT8, [], [zero]),
    ]
    graph = helper.make_graph(
        nodes,
        "pool_first",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _merged(session) -> int:
    return sum(n.op_type.endswith("+MaxPool") for n in session._planned.nodes)


def _inputs(shape, rng):
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    yield x
    yield (x * 100).astype(np.float32)  # clamped at both ends
    ties = np.resize((np.arange(-140, 140) + 0.5).astype(np.float32) * np.float32(0.03), shape)
    yield rng.permutation(ties.reshape(-1)).reshape(shape)  # rounding ties


POOLS = [
    dict(kernel_shape=[2, 2], strides=[2, 2]),  # tiles, odd sizes cropped
    dict(kernel_shape=[3, 3], strides=[3, 3]),
    dict(kernel_shape=[2, 3], strides=[2, 3], dilations=[1, 1]),
    dict(kernel_shape=[1, 1]),  # tiles of one value: a view of the input
    dict(kernel_shape=[3, 3], strides=[2, 2]),  # overlapping: the MaxPool kernel, pool first
    dict(kernel_shape=[2, 2], strides=[1, 1], dilations=[2, 2]),
    dict(kernel_shape=[1, 8], strides=[1, 8]),  # wider than the NHWC input: the kernel's error
]


@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize("nhwc", [False, True])
def test_pool_first_equals_the_graph_as_written_and_onnxruntime(pool, nhwc):
    shape = (2, 9, 7, 3) if nhwc else (2, 3, 9, 7)
    model = _model(shape, pool, nhwc=nhwc, requantize=True)
    bytes_ = model.SerializeToString()
    session = InferenceSession(bytes_)
    assert _merged(session) == 1
    written = InferenceSession(bytes_, keep_intermediates=True)
    ort = ort_session(model)
    if pool["kernel_shape"][1] > shape[2 if nhwc else 3]:
        x = np.ones(shape, np.float32)
        with pytest.raises(ValueError) as got:
            session.run(None, {"x": x})
        with pytest.raises(ValueError) as want:
            written.run(None, {"x": x})
        # (the merged node names both nodes; the kernel's message is the same)
        assert str(got.value).split(": ", 1)[1] == str(want.value).split(": ", 1)[1]
        return
    for x in _inputs(shape, np.random.default_rng(0)):
        before = x.copy()
        got = session.run(None, {"x": x})[0]
        np.testing.assert_array_equal(x, before)  # the input is left alone
        np.testing.assert_array_equal(got, written.run(None, {"x": x})[0])
        np.testing.assert_array_equal(got, ort.run(None, {"x": x})[0])


@pytest.mark.parametrize("pool", [POOLS[0], POOLS[1], POOLS[4]])
@pytest.mark.parametrize("where", [(0, 0, 0, 0), (1, 2, 8, 6), (0, 1, 3, 4)])
def test_nan_and_infinities_take_the_written_order(pool, where):
    """FQ sends NaN to the type's minimum, a maximum propagates it: a NaN seen by a window runs
    the fake quantization first; one in the rows a floor-mode pool drops changes nothing."""
    shape = (2, 3, 9, 7)
    bytes_ = _model(shape, pool).SerializeToString()
    session = InferenceSession(bytes_)
    written = InferenceSession(bytes_, keep_intermediates=True)
    x = (np.random.default_rng(1).standard_normal(shape) * 3).astype(np.float32)
    x[where] = np.nan
    x[0, 0, 1, 1] = np.inf
    x[1, 1, 0, 1] = -np.inf
    np.testing.assert_array_equal(session.run(None, {"x": x})[0], written.run(None, {"x": x})[0])


@pytest.mark.parametrize(
    "pool, scale",
    [
        (dict(kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 0, 0]), 0.03),
        (dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1), 0.03),
        (dict(kernel_shape=[2, 2], strides=[2, 2]), -0.03),  # (decreasing: max becomes min)
    ],
)
def test_pools_and_scales_where_the_order_matters_are_left_as_written(pool, scale):
    shape = (1, 2, 5, 5)
    bytes_ = _model(shape, pool, scale=scale).SerializeToString()
    session = InferenceSession(bytes_)
    assert _merged(session) == 0
    x = (np.random.default_rng(2).standard_normal(shape) * 3).astype(np.float32)
    written = InferenceSession(bytes_, keep_intermediates=True)
    np.testing.assert_array_equal(session.run(None, {"x": x})[0], written.run(None, {"x": x})[0])


@pytest.mark.parametrize("kernel", [(2, 2), (3, 3), (1, 2), (2, 1), (1, 1), (4, 3)])
def test_rows_first_pool_of_nchw_memory_has_the_tiled_pools_bits(kernel):
    """The pool of a C-contiguous input whose width the windows divide (a small Conv's NCHW
    output): the same cells in the same order as ``max_pool_tiles``, NaN payloads and signed
    zeros included."""
    from runtime.onnx._qdq_pool_first import _max_pool_rows
    from runtime.onnx.ops.pool import max_pool_tiles

    rng = np.random.default_rng(3)
    values = np.array([-0.0, 0.0, np.nan, -np.nan, 1, -1, np.inf, -np.inf], np.float32)
    for shape in [(2, 3, 9, 12), (1, 2, 8, 6), (1, 1, 12, 24)]:
        for _ in range(5):
            x = rng.choice(values, shape).astype(np.float32)
            got = _max_pool_rows(x, *kernel)
            want = max_pool_tiles(x, *kernel, height_first=True)
            assert got.shape == want.shape and got.flags.c_contiguous
            np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


@pytest.mark.parametrize("pool", [POOLS[0], POOLS[2]])
def test_pool_first_of_an_even_width_equals_the_graph_as_written_and_onnxruntime(pool):
    shape = (2, 3, 8, 12)  # (the width divides both pools: the rows-first pool)
    model = _model(shape, pool, requantize=True)
    session = InferenceSession(model.SerializeToString())
    assert _merged(session) == 1
    written = InferenceSession(model.SerializeToString(), keep_intermediates=True)
    ort = ort_session(model)
    for x in _inputs(shape, np.random.default_rng(4)):
        got = session.run(None, {"x": x})[0]
        np.testing.assert_array_equal(got, written.run(None, {"x": x})[0])
        np.testing.assert_array_equal(got, ort.run(None, {"x": x})[0])


def _conv_relu_model(zero):
    """x -> Conv -> Relu -> QuantizeLinear(zero) -> DequantizeLinear -> MaxPool 2x2 ->
    QuantizeLinear -> DequantizeLinear: a QDQ CNN block."""
    rng = np.random.default_rng(5)
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("QuantizeLinear", ["r", "s", "z"], ["q"]),
        helper.make_node("DequantizeLinear", ["q", "s", "z"], ["d"]),
        helper.make_node("MaxPool", ["d"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("QuantizeLinear", ["p", "s", "z"], ["q2"]),
        helper.make_node("DequantizeLinear", ["q2", "s", "z"], ["y"]),
    ]
    w = rng.normal(size=(6, 2, 3, 3)).astype(np.float32)
    b = rng.normal(size=(6,)).astype(np.float32) * 0.1
    inits = [
        helper.make_tensor("w", TensorProto.FLOAT, w.shape, w.reshape(-1)),
        helper.make_tensor("b", TensorProto.FLOAT, b.shape, b),
        helper.make_tensor("s", TensorProto.FLOAT, [], [0.02]),
        helper.make_tensor("z", TensorProto.INT8, [], [zero]),
    ]
    graph = helper.make_graph(
        nodes,
        "conv_relu_pool",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 10, 12])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize("zero, dropped", [(-128, True), (-7, False)])
def test_a_relu_the_quantization_clamp_covers_is_dropped(zero, dropped):
    """With the zero point at int8's minimum every value <= 0 quantizes to the clamp's lower
    bound: the fused Relu changes nothing (values equal the graph as written and onnxruntime);
    with another zero point it stays."""
    model = _conv_relu_model(zero)
    session = InferenceSession(model.SerializeToString())
    (conv_node,) = [n for n in session._planned.nodes if n.op_type == "Conv"]
    assert conv_node.fn.keywords.get("_relu", False) is not dropped
    assert _merged(session) == 1
    written = InferenceSession(model.SerializeToString(), keep_intermediates=True)
    ort = ort_session(model)
    rng = np.random.default_rng(6)
    for scale in (0.3, 1.0, 3.0):
        x = (rng.standard_normal((1, 2, 10, 12)) * scale).astype(np.float32)
        got = session.run(None, {"x": x})[0]
        np.testing.assert_array_equal(got, written.run(None, {"x": x})[0])
        np.testing.assert_array_equal(got, ort.run(None, {"x": x})[0])
