"""QUANTIZE (float32 -> int8/int16, int8/int16 -> int8/int16) and DEQUANTIZE
(int8/uint8/int16/float16 -> float32).

References: ``reference/quantize.h`` (``AffineQuantize``), ``reference/requantize.h``,
``reference/dequantize.h``; spec 2.7.11-12. QUANTIZE divides in float32 and rounds half away
from zero; DEQUANTIZE computes (float)(double(scale) * (q - zp)).

QUANTIZE of NaN, +-inf and values beyond int32: ``AffineQuantize`` converts the rounded value
with ``static_cast<int32_t>``, which on the x86 and Arm builds of LiteRT gives INT32_MIN for
all of them; the zero point is then added in int32 (wrapping) before the clamp. So they become
-128, or 127 when the zero point is negative (INT32_MIN + zp wraps to a large positive value):
checked against LiteRT's reference kernels.
"""

from __future__ import annotations

import numpy as np

from runtime._fperrors import quiet
from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels._byte_tables import byte_table, table_kernel
from runtime.tflite.kernels._fixed_point import (
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    round_half_away,
)
from runtime.tflite.kernels._quantize_search import quantize_thresholds


def prepare_quantize(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1)
    if ctx.out_type() not in (c.I8, c.I16):
        raise ctx.unsupported("only int8 and int16 outputs are supported")
    info = np.iinfo(np.int8 if ctx.out_type() == c.I8 else np.int16)
    s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
    if ctx.in_type(0) == c.F32:
        quantize = _quantizer(s_out, zp_out, info)

        def run(x):
            return [quantize(x)]

        if quantize.search is not None:  # (read by runtime/tflite/_fc_chains)
            run.quantize_search = quantize.search
        return run
    if ctx.in_type(0) in (c.I8, c.I16):  # requantize; int16 <-> int8 as in 16x8 models
        s_in, zp_in = c.per_tensor_qparams(ctx, ctx.inputs[0], "input")
        if ctx.in_type(0) == ctx.out_type() == c.I16 and (zp_in or zp_out):
            raise ctx.fail("int16 -> int16 requantization needs zero points 0")
        mult, shift = quantize_multiplier(float(np.float64(s_in) / np.float64(s_out)))

        def requantize(x):
            y = multiply_by_quantized_multiplier(x.astype(np.int64) - zp_in, mult, shift)
            return [np.clip(y + zp_out, info.min, info.max).astype(info.dtype)]

        if ctx.in_type(0) == c.I8:
            return table_kernel(byte_table(lambda v: requantize(v)[0], np.int8))
        return requantize
    raise ctx.unsupported(f"input type {ctx.in_type(0)} not supported")


_INT32_MIN, _INT32_LIMIT = -(2**31), 2.0**31


_INT8 = np.iinfo(np.int8)


# Inputs up to this many elements take the one-call range test in ``_affine_quantize``.
_SQUARES_TEST_MAX_ELEMENTS = 1 << 20

# int8 outputs of up to this many elements are found by ``_quantize_search``'s thresholds: a
# binary search per element costs more than the arithmetic's passes on large inputs, and less
# than their per-call overhead on small ones.
SEARCH_MAX_ELEMENTS = 256


def _within(x: np.ndarray, bound: float) -> bool:
    """Whether every |x| < ``bound`` (False for NaN): min and max, or for inputs of up to 2^20
    elements one dot product, sum(x^2) < (bound / 2)^2, which is cheaper. The float32 sum of n
    squares is within a relative n * 2^-24 <= 1/16 of the exact one in any summation order,
    so it passing means max|x| < bound / 2 * sqrt(17/16) < bound; NaN and overflow to inf fail
    it (a failing test only sends the input to the general path, which is exact for all)."""
    flat = x.reshape(-1)
    if flat.size <= _SQUARES_TEST_MAX_ELEMENTS:
        return bool(np.dot(flat, flat) < (bound / 2) ** 2)
    low, high = x.min(initial=0.0), x.max(initial=0.0)  # NaN if any is NaN
    return bool(-bound < low and high < bound)


def _quantizer(scale, zero_point: int, info=_INT8):
    """``_affine_quantize`` for fixed parameters, its constants made once as 0-d arrays (a
    numpy or Python scalar operand costs a conversion per call, as much as the arithmetic on
    a few hundred values)."""
    s32 = np.asarray(scale, np.float32)
    bound = float(scale) * 2.0**29
    squares_limit = (bound / 2) ** 2  # (``_within``'s test)
    half = np.asarray(0.5)  # float64: copysign(half, float32 quotient) is float64
    zp = np.asarray(float(zero_point))
    lo, hi = np.asarray(float(info.min)), np.asarray(float(info.max))
    thresholds = None
    if info.bits == 8:
        thresholds = quantize_thresholds(scale, zero_point, bound, _general_quantize)
        levels = np.arange(info.min, info.max + 1).astype(info.dtype)

    def quantize(x: np.ndarray) -> np.ndarray:
        if x.dtype == np.float32:
            flat = x.reshape(-1)
            if flat.size <= _SQUARES_TEST_MAX_ELEMENTS:
                fast = np.dot(flat, flat) < squares_limit
            else:
                fast = _within(x, bound)
            if fast and thresholds is not None and 0 < x.ndim and x.size <= SEARCH_MAX_ELEMENTS:
                # (searchsorted's method: np.searchsorted's dispatch costs as much again)
                return levels.take(thresholds.searchsorted(x, "right"))
            if fast:
                # ``_affine_quantize``'s fast path: the float32 quotient, widened exactly to
                # float64 by the addition of the float64 +-0.5, truncated, shifted, clamped
                # (widened first: copysign and add on mixed float32/float64 operands cost
                # several times the same-type calls)
                r = np.divide(x, s32).astype(np.float64)
                r += np.copysign(half, r)
                np.trunc(r, out=r)
                r += zp
                np.maximum(r, lo, out=r)
                np.minimum(r, hi, out=r)
                return r.astype(info.dtype)
        return _general_quantize(x, scale, zero_point, info)

    # (thresholds, the range test's limit) of the search, for a chain (_fc_chains)
    quantize.search = None if thresholds is None else (thresholds, squares_limit)
    return quantize


def _affine_quantize(x: np.ndarray, scale, zero_point: int, info=_INT8) -> np.ndarray:
    if x.dtype == np.float32 and _within(x, float(scale) * 2.0**29):
        # Every quotient is finite and below 2^29 (+ one float32 rounding) in magnitude, so
        # nothing overflows and int32 + zero_point cannot wrap: the general path below
        # reduces to this one (same float32 quotient, same float64 rounding, same clamp).
        r = (x / scale).astype(np.float64)
        r += np.copysign(0.5, r)
        np.trunc(r, out=r)
        r += zero_point
        np.maximum(r, info.min, out=r)
        np.minimum(r, info.max, out=r)
        return r.astype(info.dtype)
    return _general_quantize(x, scale, zero_point, info)


def _general_quantize(x: np.ndarray, scale, zero_point: int, info=_INT8) -> np.ndarray:
    """AffineQuantize for any input: NaN, infinities and values beyond int32 included."""
    with quiet():
        r = round_half_away((x / scale).astype(np.float32))
        unrepresentable = ~((r >= -_INT32_LIMIT) & (r < _INT32_LIMIT))  # NaN included
        q = np.where(unrepresentable, _INT32_MIN, r).astype(np.int64) + zero_point
    q = q.astype(np.int32)  # the int32 addition wraps, as in the reference kernel
    return np.clip(q, info.min, info.max).astype(info.dtype)


def prepare_dequantize(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1)
    if ctx.out_type() != c.F32:
        raise ctx.unsupported("only float32 outputs are supported")
    if ctx.in_type(0) == c.TensorType.FLOAT16:
        return lambda x: [x.astype(np.float32)]
    if ctx.in_type(0) not in (c.I8, c.U8, c.I16):
        raise ctx.unsupported(f"input type {ctx.in_type(0)} not supported")
    q = ctx.inputs[0].quantization
    if q is None:
        raise ctx.fail("input has no quantization parameters")
    scale = q.scale.astype(np.float64)
    zp = q.zero_point.astype(np.int64)
    axis = q.quantized_dimension
    if len(scale) == 1:
        s0, z0 = float(scale[0]), int(zp[0])

        def run_per_tensor(x):
            # double(scale) * (q - zp): q - zp is exact in float64, then the same product
            y = x.astype(np.float64)
            y -= z0
            y *= s0
            return [y.astype(np.float32)]

        if ctx.in_type(0) in (c.I8, c.U8):
            dtype = np.int8 if ctx.in_type(0) == c.I8 else np.uint8
            return table_kernel(byte_table(lambda v: run_per_tensor(v)[0], dtype))
        return run_per_tensor

    def run(x):
        shape = [1] * x.ndim
        if len(scale) > 1:
            shape[axis] = len(scale)
        s, z = scale.reshape(shape), zp.reshape(shape)
        return [(s * (x.astype(np.int64) - z)).astype(np.float32)]

    return run
