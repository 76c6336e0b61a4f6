"""The planned QuantizeLinear -> DequantizeLinear pair's float path gives what the two kernels
give, on the values where dropping the integer tensor could matter."""

import numpy as np
import pytest

from runtime.onnx._plan import _fake_quantize
from runtime.onnx.ops.quant import DequantizeLinear, QuantizeLinear


def _edges(scale: float) -> np.ndarray:
    k = np.arange(-300, 300, dtype=np.float32)
    ties = (k + np.float32(0.5)) * np.float32(scale)
    huge = np.array([2.0**24, -(2.0**24), 3e38, -3e38, 1e-45, -0.0], np.float32) * scale
    odd = np.array([np.nan, np.inf, -np.inf], np.float32)
    rng = np.random.default_rng(0)
    return np.concatenate(
        [
            ties,
            np.nextafter(ties, np.float32(0)),
            huge,
            odd,
            rng.normal(0, 100 * scale, 500).astype(np.float32),
        ]
    )


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
@pytest.mark.parametrize("scales", [(0.5, 0.5), (0.02, 0.02), (0.02, 0.07)])
@pytest.mark.parametrize("zps", [(0, 0), (-5, -5), (3, 100)])
def test_equals_the_two_kernels(dtype, scales, zps):
    info = np.iinfo(dtype)
    s_q, s_dq = (np.array([s], np.float32) for s in scales)
    z_q, z_dq = (np.array([min(max(z, info.min), info.max)], dtype) for z in zps)
    x = _edges(scales[0])
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        want = DequantizeLinear(QuantizeLinear(x, s_q, z_q), s_dq, z_dq)
    got = _fake_quantize((x, s_q, z_q, s_dq, z_dq), 3, {}, {})
    np.testing.assert_array_equal(got, want)
    assert got.dtype == want.dtype == np.float32


def test_other_cases_go_to_the_kernels():
    x = np.ones(4, np.float32)
    s, z = np.array([0.1], np.float32), np.array([0], np.int8)
    per_axis = np.array([0.1, 0.2, 0.3, 0.4], np.float32)
    assert _fake_quantize((x, s, z, s, z), 3, {"block_size": 2}, {}) is None
    assert _fake_quantize((x, s, z, s, z), 3, {}, {"output_dtype": 10}) is None
    assert _fake_quantize((x, per_axis, z, s, z), 3, {"axis": 0}, {}) is None
    assert _fake_quantize((x.astype(np.float64), s, z, s, z), 3, {}, {}) is None
    assert _fake_quantize((x, s, z.astype(np.int16), s, z.astype(np.int16)), 3, {}, {}) is None
    assert _fake_quantize((x, s, s, z), 2, {}, {}) is None


@pytest.mark.parametrize("zps", [(-5, -5), (3, 100)])
def test_in_place_on_a_large_channels_last_tensor_equals_the_two_kernels(zps):
    """The in-place form (after a Conv) on a channels-last view, NaN and infinities included."""
    s = np.array([0.02], np.float32)
    z_q, z_dq = (np.array([z], np.int8) for z in zps)
    values = np.resize(_edges(0.02), 4 * 24 * 24 * 8)
    x = values.reshape(4, 24, 24, 8).transpose(0, 3, 1, 2)  # NCHW view of NHWC memory
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        want = DequantizeLinear(QuantizeLinear(x, s, z_q), s, z_dq)
    mine = x.copy(order="K")
    got = _fake_quantize((mine, s, z_q, s, z_dq), 3, {}, {}, in_place=True)
    assert got is mine
    np.testing.assert_array_equal(got, want)
