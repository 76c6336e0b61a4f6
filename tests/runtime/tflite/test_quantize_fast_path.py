"""QUANTIZE (float32 -> int8/int16): the bounded fast path equals the general one (NaN, inf,
int32 wrap) and LiteRT's reference kernel on the edges where they could part: ties, the
boundary of the fast path's range, the float32 values next to a half, extreme zero points."""

from __future__ import annotations

import numpy as np
import pytest

from runtime.tflite.kernels.quantize import _affine_quantize
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite.test_kernels import check, inp, one_op_model, out


def _general(x, scale, zero_point, info):
    """The general path alone: the float32 quotient rounded half away from zero in float64,
    INT32_MIN for what int32 cannot hold, the zero point added with int32 wrap, clamped."""
    with np.errstate(invalid="ignore", over="ignore"):
        q = (x / scale).astype(np.float32).astype(np.float64)
        r = np.trunc(q + np.copysign(0.5, q))
        bad = ~((r >= -(2.0**31)) & (r < 2.0**31))
        i = np.where(bad, -(2**31), r).astype(np.int64) + zero_point
    i = ((i + 2**31) % 2**32) - 2**31
    return np.clip(i, info.min, info.max).astype(info.dtype)


def _edge_values(scale: np.float32) -> np.ndarray:
    s = np.float64(scale)
    k = np.arange(-300, 300, dtype=np.float64)
    ties = ((k + 0.5) * s).astype(np.float32)
    # the float32 neighbours of each tie, and of the fast path's bound 2^29 * scale
    near = np.concatenate([np.nextafter(ties, np.float32(np.inf)), np.nextafter(ties, -np.inf)])
    bound = np.float32(s * 2.0**29)
    around = np.array(
        [bound, -bound, np.nextafter(bound, np.float32(0)), -np.nextafter(bound, np.float32(0))],
        np.float32,
    )
    tiny = np.array([0.0, -0.0, 1e-45, -1e-45, np.float32(0.49999997) * s], np.float32)
    return np.concatenate([ties, near, around, tiny])


@pytest.mark.parametrize("scale", [0.5, 0.013, 3.7e-3, 1e-7])
@pytest.mark.parametrize("zero_point", [-128, -4, 0, 127])
@pytest.mark.parametrize("dtype", [np.int8, np.int16])
def test_fast_path_equals_the_general_path(scale, zero_point, dtype):
    scale, info = np.float32(scale), np.iinfo(dtype)
    x = _edge_values(scale)
    rng = np.random.default_rng(0)
    x = np.concatenate([x, rng.normal(0, 200 * scale, 1000).astype(np.float32)])
    inside = x[np.abs(x.astype(np.float64)) < np.float64(scale) * 2.0**29]
    np.testing.assert_array_equal(
        _affine_quantize(inside, scale, zero_point, info), _general(inside, scale, zero_point, info)
    )
    # One value out of range (or NaN, or inf) sends the whole tensor down the general path.
    for odd in (np.nan, np.inf, -np.inf, np.float32(scale) * np.float32(2.0**31)):
        y = np.append(x, np.float32(odd))
        np.testing.assert_array_equal(
            _affine_quantize(y, scale, zero_point, info), _general(y, scale, zero_point, info)
        )


@pytest.mark.parametrize("scale, zero_point", [(0.5, 0), (0.013, -4), (3.7e-3, 127)])
def test_edges_against_litert(scale, zero_point):
    x = _edge_values(np.float32(scale))
    data = one_op_model(Op.QUANTIZE, [inp(x.shape)], [out(x.shape, T.INT8, scale, zero_point)])
    check(data, feeds={0: x}, runs=1)
