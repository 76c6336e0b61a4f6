"""A fake quantization with constant parameters bound at load (``runtime.onnx._qdq_fake_quantize``)
gives what the two kernels give, bit for bit, and is planned only where it applies."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from runtime.onnx import InferenceSession
from runtime.onnx._qdq_fake_quantize import FakeQuantize
from runtime.onnx.ops.quant import DequantizeLinear, QuantizeLinear


def _edges(scale: float) -> np.ndarray:
    """Rounding ties and their neighbours, the clamp's edges, huge values, NaN, infinities."""
    k = np.arange(-300, 300, dtype=np.float32)
    ties = (k + np.float32(0.5)) * np.float32(scale)
    huge = np.array([2.0**24, -(2.0**24), 3e30, -3e30, 1e-45, -0.0], np.float32)
    odd = np.array([np.nan, np.inf, -np.inf], np.float32)
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 100 * scale, 500).astype(np.float32)
    return np.concatenate([ties, np.nextafter(ties, np.float32(0)), huge, odd, noise])


def _model(dtype, scales, zps, shape=(2, 3, 7, 5)):
    elem = TensorProto.INT8 if dtype == np.int8 else TensorProto.UINT8
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s_q", "z_q"], ["q"]),
        helper.make_node("DequantizeLinear", ["q", "s_dq", "z_dq"], ["y"]),
    ]
    inits = [
        helper.make_tensor("s_q", TensorProto.FLOAT, [], [scales[0]]),
        helper.make_tensor("z_q", elem, [], [zps[0]]),
        helper.make_tensor("s_dq", TensorProto.FLOAT, [1], [scales[1]]),
        helper.make_tensor("z_dq", elem, [1], [zps[1]]),
    ]
    graph = helper.make_graph(
        nodes,
        "fq",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
@pytest.mark.parametrize("scales", [(0.5, 0.5), (0.02, 0.02), (0.02, 0.07)])
@pytest.mark.parametrize("zps", [(0, 0), (-5, -5), (3, 100)])
def test_planned_session_equals_the_two_kernels(dtype, scales, zps):
    info = np.iinfo(dtype)
    zps = tuple(min(max(z, info.min), info.max) for z in zps)
    session = InferenceSession(_model(dtype, scales, zps))
    (node,) = session._planned.nodes
    assert isinstance(node.fn, FakeQuantize)
    x = np.resize(_edges(scales[0]), (2, 3, 7, 5))
    s_q, s_dq = (np.array(s, np.float32) for s in scales)
    z_q, z_dq = (np.array(z, dtype) for z in zps)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        want = DequantizeLinear(QuantizeLinear(x, s_q, z_q), s_dq, z_dq)
    got = session.run(None, {"x": x})[0]
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.float32
    # Signed zeros too: the same float32 operations on the same values.
    np.testing.assert_array_equal(
        np.signbit(got), np.signbit(session._planned.nodes[0].fn.fallback(x, s_q, z_q, s_dq, z_dq))
    )


@pytest.mark.parametrize("in_place", [False, True])
def test_in_place_writes_into_its_input_only_when_asked(in_place):
    s = np.float32(0.02)
    fq = FakeQuantize(
        s, s, np.float32(-128), np.float32(127), None, in_place=in_place, fallback=None
    )
    x = np.resize(_edges(0.02), (4, 8, 6)).transpose(0, 2, 1)  # (a channels-last view)
    before = x.copy()
    want = DequantizeLinear(
        QuantizeLinear(before, np.array(s), np.array(0, np.int8)), np.array(s), np.array(0, np.int8)
    )
    y = fq(x)
    assert (y is x) == in_place
    np.testing.assert_array_equal(y, want)
    if not in_place:
        np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("scale, zero", [(0.0, 0), (float("inf"), 0), (float("nan"), 0)])
def test_scales_the_bound_kernel_does_not_take_stay_with_the_kernels(scale, zero):
    session = InferenceSession(_model(np.int8, (scale, 0.5), (zero, zero)))
    (node,) = session._planned.nodes
    assert not isinstance(node.fn, FakeQuantize)


def test_scalar_and_other_dtypes_run_the_general_kernels():
    session = InferenceSession(_model(np.int8, (0.1, 0.1), (2, 2), shape=[]))
    x = np.array(0.35, np.float32)
    want = DequantizeLinear(
        QuantizeLinear(x, np.array(0.1, np.float32), np.array(2, np.int8)),
        np.array(0.1, np.float32),
        np.array(2, np.int8),
    )
    np.testing.assert_array_equal(session.run(None, {"x": x})[0], want)
