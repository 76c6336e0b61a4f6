"""Integer and rounding arithmetic of TFLite's reference kernels, vectorized in int64 numpy.

Format-neutral: nothing here knows about flatbuffers or operators. The definitions follow
gemmlowp ``fixedpoint.h`` and TFLite ``quantization_util.cc`` / ``common.h``:

- SRDHM(a, b)   = floor((a*b + 2^30) / 2^31), saturating only for a = b = INT32_MIN.
- RDBPOT(x, e)  = x / 2^e rounded half away from zero.
- MBQM(x, M, s) = RDBPOT(SRDHM(x * 2^max(s,0), M), max(-s,0))   (TFLite's default double
  rounding; the pre-shift wraps like int32 multiplication).
- QuantizeMultiplier(m) -> (M, s) with m ~= M * 2^(s-31), M in [2^30, 2^31).
"""

from __future__ import annotations

import math

import numpy as np

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def round_half_away(x):
    """``TfLiteRound`` / C ``round``: ties away from zero, exact for float32 and float64 inputs."""
    x = np.asarray(x, dtype=np.float64)
    # = sign(x) * floor(|x| + 0.5) exactly (IEEE addition is symmetric in sign), in 3 passes
    # instead of 5; only a -0.0 result differs (-0.0 instead of 0.0), the same integer.
    return np.trunc(x + np.copysign(0.5, x))


def round_half_away_scalar(x: float) -> int:
    """Python-int version of ``round_half_away`` for one value."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def wrap_int32(x):
    """Two's-complement wrap of int64 values to the int32 range (C int32 overflow)."""
    x = np.asarray(x, dtype=np.int64)
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def srdhm(a, b):
    """SaturatingRoundingDoublingHighMul on int32-range int64 arrays."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    out = (a * b + (1 << 30)) >> 31
    return np.minimum(out, INT32_MAX)


def rdbpot(x, exponent):
    """RoundingDivideByPOT: x / 2^exponent, ties away from zero (0 <= exponent <= 31)."""
    x = np.asarray(x, dtype=np.int64)
    exponent = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def saturating_shl(x, k: int):
    """SaturatingRoundingMultiplyByPOT for k > 0: x * 2^k clamped to int32."""
    return np.clip(np.asarray(x, dtype=np.int64) << k, INT32_MIN, INT32_MAX)


def multiply_by_quantized_multiplier(x, multiplier, shift):
    """MultiplyByQuantizedMultiplier with double rounding (TFLite's default build).

    ``multiplier`` and ``shift`` may be scalars or arrays broadcasting against ``x`` (per
    channel along the last axis).
    """
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    x = np.asarray(x, dtype=np.int64)
    if np.any(left):
        x = wrap_int32(x << left)
    return rdbpot(srdhm(x, multiplier), right)


def requantize(acc, multiplier, shift, zero_point: int, lo: int, hi: int, dtype=np.int8):
    """MBQM(acc, M, s) + zero_point, clamped to [lo, hi] and cast; ``acc`` (int64) is consumed.

    Same result as ``multiply_by_quantized_multiplier``; when no shift is positive it runs in
    place with RDBPOT folded to (t + 2^(R-1) - [t < 0]) >> R, which is what the hot kernels use.
    """
    multiplier = np.asarray(multiplier, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    # (array methods rather than np.any/np.clip: their dispatch costs more than the work
    # on the small per-channel arrays of a TFLite Micro-sized model)
    if (shift > 0).any() or (multiplier >= 1 << 31).any():
        t = multiply_by_quantized_multiplier(acc, multiplier, shift)
    else:
        right = -shift
        t = acc
        t *= multiplier
        t += 1 << 30
        t >>= 31
        if (right > 0).all():
            half = np.int64(1) << (right - 1)
            t += half
            t -= t < half  # after the add, t < half exactly when t was negative
            t >>= right
        else:
            t = rdbpot(t, right)
    t += zero_point
    np.maximum(t, lo, out=t)
    np.minimum(t, hi, out=t)
    return t.astype(dtype)


def quantize_multiplier(m: float) -> tuple[int, int]:
    """QuantizeMultiplier: (M, shift) with m ~= M * 2^(shift - 31); (0, 0) for 0 or tiny m."""
    if m == 0.0:
        return 0, 0
    q, e = math.frexp(m)
    q_fixed = round_half_away_scalar(q * (1 << 31))
    if q_fixed == 1 << 31:
        q_fixed //= 2
        e += 1
    if e < -31:
        return 0, 0
    return q_fixed, e


def quantize_multipliers(ms) -> tuple[np.ndarray, np.ndarray]:
    """``quantize_multiplier`` over an array; returns int64 multipliers and shifts."""
    pairs = [quantize_multiplier(float(m)) for m in np.ravel(ms)]
    mult = np.array([p[0] for p in pairs], dtype=np.int64)
    shift = np.array([p[1] for p in pairs], dtype=np.int64)
    return mult, shift


def saturate_cast(x, dtype) -> np.ndarray:
    """Clamp to ``dtype``'s range and cast (the kernels' final ``static_cast``)."""
    info = np.iinfo(dtype)
    return np.clip(x, info.min, info.max).astype(dtype)


# Accumulator sizes (elements) up to which the float64 requantizer is the faster one: on small
# arrays it saves the int64 conversion and passes; on large ones numpy's per-channel broadcasts
# over float64 cost more than the int64 path's (measured on AVX2, one thread).
FLOAT_REQUANTIZE_MAX_ELEMENTS = 1 << 15


def float_requantizer(multiplier, shift, acc_bound, zero_point: int, lo: int, hi: int):
    """``requantize`` for float64 accumulators, or None where it would not be exact.

    With no left shift (shift = -r <= 0) and 0 <= M < 2^31, MBQM(x) = RDBPOT(SRDHM(x, M), r)
    where SRDHM(x, M) = floor(x M 2^-31 + 1/2) and RDBPOT(t, r) = t 2^-r rounded half away
    from zero = trunc(t 2^-r + copysign(1/2, t)). While |x| M < 2^52 (``acc_bound`` bounds
    |x| per channel) every step is exact in float64: x M 2^-31 is a product of at most 52 bits
    scaled by a power of two, adding 1/2 stays within 53 bits (|x M 2^-31| < 2^21, its lowest
    bit >= 2^-31), the floor is an integer t with |t| <= 2^21, t 2^-r is exact and adding 1/2
    to it again fits in 53 bits. So the float operations give the integer formula's value.
    """
    multiplier = np.asarray(multiplier, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    bound = np.asarray(acc_bound, dtype=np.float64)
    if (shift > 0).any() or (multiplier >= 1 << 31).any() or (multiplier < 0).any():
        return None
    if (bound * multiplier.astype(np.float64) >= 2.0**52).any():
        return None
    scale = multiplier.astype(np.float64) * 2.0**-31
    down = np.exp2(shift.astype(np.float64))  # 2^-r
    zp, low, high = np.float64(zero_point), np.float64(lo), np.float64(hi)

    def run(acc: np.ndarray) -> np.ndarray:
        """``acc`` (float64, integer-valued, consumed) requantized, clamped, as float64."""
        acc *= scale
        acc += 0.5
        np.floor(acc, out=acc)
        acc *= down
        acc += np.copysign(0.5, acc)
        np.trunc(acc, out=acc)
        acc += zp
        np.maximum(acc, low, out=acc)
        np.minimum(acc, high, out=acc)
        return acc

    return run
