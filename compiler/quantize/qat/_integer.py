"""The int8 kernels' requantization arithmetic, for the simulation to reproduce it exactly.

MEAN:

TFLite's reference ``QuantizedMeanOrSum`` (``reference/reduce.h``; ``reduce.cc`` Prepare)
sums the int8 codes in int32, removes the input zero point, and scales by
``s_in / (n * s_out)`` through a fixed-point multiplier whose 1/n is folded in by integer
division: ``M' = floor(M * 2^k / n)`` with ``k = min(floor(log2 n), 32, 31 + shift)``, then
``MultiplyByQuantizedMultiplier`` (gemmlowp's double rounding: ``SaturatingRoundingDoubling
HighMul`` then ``RoundingDivideByPOT``, ties away from zero). The truncation in ``M'`` makes
the result differ from ``round(mean / s_out)`` by one step on a few percent of values.

MUL:

``reference_integer_ops::MulElementwise``: the product of the offset codes, scaled by the
float32 ``s1 * s2 / s_out`` as a fixed-point multiplier (``mul.cc``), plus the zero point.

LOGISTIC / TANH:

LiteRT's int8 kernels (reference and optimized, ``LUTPopulateInt8``) look the output up in a
256-entry table over the input code, built in float32: ``x = s_in * (code - zp_in)``, the
function of ``x``, then ``round(y * (1 / s_out)) + zp_out`` (ties away from zero), clamped.
Fake quantization of the float function differs from it by one step on ~0.3 % of values.
"""

from __future__ import annotations

import math

import numpy as np

from compiler.quantize.params import round_half_away

__all__ = ["int8_mean", "int8_requantize", "int8_add", "int8_mul", "int8_function_table"]


def _quantize_multiplier(m: float) -> tuple[int, int]:
    """``(M, shift)`` with ``m ~= M * 2^(shift - 31)``, ``M`` in [2^30, 2^31)."""
    if m == 0.0:
        return 0, 0
    fraction, shift = math.frexp(m)
    fixed = int(math.copysign(math.floor(abs(fraction) * 2**31 + 0.5), fraction))
    if fixed == 2**31:
        fixed, shift = fixed // 2, shift + 1
    return (0, 0) if shift < -31 else (fixed, shift)


def _multiply(x: np.ndarray, multiplier: int, shift: int) -> np.ndarray:
    """``MultiplyByQuantizedMultiplier`` on int64 arrays holding int32 values."""
    left, right = max(shift, 0), max(-shift, 0)
    x = x.astype(np.int64) << left
    high = (x * multiplier + (1 << 30)) >> 31  # rounding doubling high multiply
    mask = (1 << right) - 1
    threshold = (mask >> 1) + (high < 0)
    return (high >> right) + ((high & mask) > threshold)


def int8_mean(total: np.ndarray, count: int, in_scale, out_scale, out_zero_point: int):
    """int8 MEAN output codes from ``total`` = sum of (code - input zero point) over
    ``count`` elements."""
    multiplier, shift = _quantize_multiplier(float(np.float64(in_scale) / np.float64(out_scale)))
    k = min(int(math.floor(math.log2(count))), 32, 31 + shift)
    scaled = (multiplier << k) // count if k >= 0 else multiplier // count
    return np.clip(_multiply(total, scaled, shift - k) + out_zero_point, -128, 127)


def _multipliers(real) -> tuple[np.ndarray, np.ndarray]:
    pairs = [_quantize_multiplier(float(m)) for m in np.ravel(real)]
    return np.array([p[0] for p in pairs], np.int64), np.array([p[1] for p in pairs], np.int64)


def _multiply_per_channel(x: np.ndarray, multiplier, shift) -> np.ndarray:
    """``MultiplyByQuantizedMultiplier`` with per-channel (last axis) multipliers."""
    left, right = np.maximum(shift, 0), np.maximum(-shift, 0)
    x = x.astype(np.int64) << left
    high = (x * multiplier + (1 << 30)) >> 31
    mask = (np.int64(1) << right) - 1
    threshold = (mask >> 1) + (high < 0)
    return (high >> right) + ((high & mask) > threshold)


def int8_requantize(
    acc, in_scale, weight_scales, out_scale, out_zero_point, lo, hi, fixed_point=True
):
    """CONV_2D / DEPTHWISE_CONV_2D (``fixed_point``) and FULLY_CONNECTED output codes from the
    int32 accumulator: per output channel ``in_scale * weight_scale / out_scale`` in double
    (``PopulateConvolutionQuantizationParams``), applied as a fixed-point multiplier by the
    convolutions and as a double product rounded half away from zero by LiteRT's reference
    FULLY_CONNECTED (what ``runtime`` reproduces bit for bit); then the zero point and the
    fused activation's clamp ``[lo, hi]``."""
    real = np.float64(in_scale) * np.asarray(weight_scales, np.float64) / np.float64(out_scale)
    if fixed_point:
        multiplier, shift = _multipliers(real)
        out = _multiply_per_channel(acc, multiplier, shift)
    else:
        y = np.asarray(acc, np.float64) * real
        out = np.trunc(y + np.copysign(0.5, y)).astype(np.int64)
    return np.clip(out + out_zero_point, lo, hi)


def int8_add(codes_a, params_a, codes_b, params_b, out_params):
    """ADD output codes (``reference_integer_ops::AddElementwise``): each input's offset codes
    shifted left by 20 and scaled by ``s / (2 max(s_a, s_b))``, summed, then scaled by
    ``2 max(s_a, s_b) / (2^20 s_out)``; every step rounds as ``MultiplyByQuantizedMultiplier``."""
    (sa, za), (sb, zb), (so, zo) = params_a, params_b, out_params
    twice_max = 2 * max(float(sa), float(sb))

    def scaled(codes, s, z):
        m, e = _quantize_multiplier(float(s) / twice_max)
        return _multiply((codes.astype(np.int64) - z) << 20, m, e)

    m, e = _quantize_multiplier(twice_max / ((1 << 20) * float(so)))
    total = scaled(codes_a, sa, za) + scaled(codes_b, sb, zb)
    return np.clip(_multiply(total, m, e) + zo, -128, 127)


def int8_mul(product, scale_a, scale_b, out_scale, out_zero_point):
    """MUL output codes from ``product`` = (code_a - zp_a) * (code_b - zp_b)."""
    real = np.float32(np.float32(scale_a) * np.float32(scale_b)) / np.float32(out_scale)
    m, e = _quantize_multiplier(float(np.float32(real)))
    return np.clip(_multiply(np.asarray(product, np.int64), m, e) + out_zero_point, -128, 127)


def _sigmoid32(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # exp overflows to inf, and 1 / (1 + inf) = 0
        e = np.exp(-x.astype(np.float64)).astype(np.float32)
    return (np.float32(1.0) / (np.float32(1.0) + e)).astype(np.float32)


def _tanh32(x: np.ndarray) -> np.ndarray:
    return np.tanh(x.astype(np.float64)).astype(np.float32)


_FUNCTIONS = {"sigmoid": _sigmoid32, "tanh": _tanh32}


def int8_function_table(function: str, in_scale, in_zero_point, out_scale, out_zero_point):
    """LOGISTIC (``function="sigmoid"``) / TANH output codes for the input codes -128..127
    (index ``code + 128``), as LiteRT's ``LUTPopulateInt8`` computes them in float32."""
    codes = np.arange(-128, 128, dtype=np.int32)
    x = (np.float32(in_scale) * (codes - int(in_zero_point)).astype(np.float32)).astype(np.float32)
    y = _FUNCTIONS[function](x)
    scaled = (y * (np.float32(1.0) / np.float32(out_scale))).astype(np.float32)
    return np.clip(round_half_away(scaled).astype(np.int64) + int(out_zero_point), -128, 127)
