"""The arithmetic of LiteRT's 16x8 kernels (int16 activations, int8 weights), vectorized.

Format-neutral helpers the int16 branches of the kernel modules share. Facts from LiteRT's
``tflite/kernels/internal``:

* ``common.cc``, int64 ``MultiplyByQuantizedMultiplier`` (conv / depthwise with int64 bias):
  M' = (M + 2^15) >> 16 (0x7FFF when M >= 0x7FFF0000), result = (x*M' + 2^(14-s)) >> (15-s),
  truncated to int32.
* ``reference/integer_ops/logistic.h`` and ``tanh.h``: a 256-entry table of sigmoid(i/24) in
  0.16 format, read with linear interpolation on the input scaled to 1/(3*4096) per step;
  ``activations.cc`` ``SigmoidPrepare`` / ``TanhPrepare`` choose the input multiplier.
* ``reference/softmax.h`` ``SoftmaxInt16`` with ``common.h`` ``LUTPopulateInt16`` /
  ``LUTLookup`` (513-entry tables, 9-bit index, 7-bit interpolation) and the table ranges of
  ``activations.cc`` ``SoftmaxPrepare``.
* ``reference/integer_ops/fully_connected.h``: the 16x8 FULLY_CONNECTED requantizes in double.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels._fixed_point import (
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    round_half_away,
    wrap_int32,
)

I16_MIN, I16_MAX = -32768, 32767

# sigmoid(i / 24) in unsigned 0.16 fixed point: the constant table of LiteRT's common.h
# (``sigmoid_table_uint16``). It is not a plain rounding of the function (some entries differ
# by one), so it is data, not something to recompute.
SIGMOID_TABLE = np.array(
    [
        32768,
        33451,
        34133,
        34813,
        35493,
        36169,
        36843,
        37513,
        38180,
        38841,
        39498,
        40149,
        40794,
        41432,
        42064,
        42688,
        43304,
        43912,
        44511,
        45102,
        45683,
        46255,
        46817,
        47369,
        47911,
        48443,
        48964,
        49475,
        49975,
        50464,
        50942,
        51409,
        51865,
        52311,
        52745,
        53169,
        53581,
        53983,
        54374,
        54755,
        55125,
        55485,
        55834,
        56174,
        56503,
        56823,
        57133,
        57433,
        57724,
        58007,
        58280,
        58544,
        58800,
        59048,
        59288,
        59519,
        59743,
        59959,
        60168,
        60370,
        60565,
        60753,
        60935,
        61110,
        61279,
        61441,
        61599,
        61750,
        61896,
        62036,
        62172,
        62302,
        62428,
        62549,
        62666,
        62778,
        62886,
        62990,
        63090,
        63186,
        63279,
        63368,
        63454,
        63536,
        63615,
        63691,
        63765,
        63835,
        63903,
        63968,
        64030,
        64090,
        64148,
        64204,
        64257,
        64308,
        64357,
        64405,
        64450,
        64494,
        64536,
        64576,
        64614,
        64652,
        64687,
        64721,
        64754,
        64786,
        64816,
        64845,
        64873,
        64900,
        64926,
        64950,
        64974,
        64997,
        65019,
        65039,
        65060,
        65079,
        65097,
        65115,
        65132,
        65149,
        65164,
        65179,
        65194,
        65208,
        65221,
        65234,
        65246,
        65258,
        65269,
        65280,
        65291,
        65301,
        65310,
        65319,
        65328,
        65337,
        65345,
        65352,
        65360,
        65367,
        65374,
        65381,
        65387,
        65393,
        65399,
        65404,
        65410,
        65415,
        65420,
        65425,
        65429,
        65433,
        65438,
        65442,
        65445,
        65449,
        65453,
        65456,
        65459,
        65462,
        65465,
        65468,
        65471,
        65474,
        65476,
        65479,
        65481,
        65483,
        65485,
        65488,
        65489,
        65491,
        65493,
        65495,
        65497,
        65498,
        65500,
        65501,
        65503,
        65504,
        65505,
        65507,
        65508,
        65509,
        65510,
        65511,
        65512,
        65513,
        65514,
        65515,
        65516,
        65517,
        65517,
        65518,
        65519,
        65520,
        65520,
        65521,
        65522,
        65522,
        65523,
        65523,
        65524,
        65524,
        65525,
        65525,
        65526,
        65526,
        65526,
        65527,
        65527,
        65528,
        65528,
        65528,
        65529,
        65529,
        65529,
        65529,
        65530,
        65530,
        65530,
        65530,
        65531,
        65531,
        65531,
        65531,
        65531,
        65532,
        65532,
        65532,
        65532,
        65532,
        65532,
        65533,
        65533,
        65533,
        65533,
        65533,
        65533,
        65533,
        65533,
        65534,
        65534,
        65534,
        65534,
        65534,
        65534,
        65534,
        65534,
        65534,
        65534,
        65535,
    ],
    dtype=np.int64,
)


def mbqm_int64(acc, multiplier, shift):
    """``MultiplyByQuantizedMultiplier(int64_t x, ...)``: 16-bit multiplier, one rounding."""
    multiplier = np.asarray(multiplier, np.int64)
    shift = np.asarray(shift, np.int64)
    reduced = np.where(multiplier < 0x7FFF0000, (multiplier + (1 << 15)) >> 16, 0x7FFF)
    total = 15 - shift
    result = (np.asarray(acc, np.int64) * reduced + (np.int64(1) << (total - 1))) >> total
    return wrap_int32(result)


def requantize_accumulator(acc, multiplier, shift, int32_bias: bool):
    """Scales an int64 accumulator of a 16x8 CONV_2D: an int32 bias (``quantized_bias_type``
    INT32) makes the kernel accumulate in int32 and use the int32 multiplier."""
    if int32_bias:
        return multiply_by_quantized_multiplier(wrap_int32(acc), multiplier, shift)
    return mbqm_int64(acc, multiplier, shift)


def checked_log2(x: float) -> tuple[bool, int]:
    """``CheckedLog2``: (is a power of two within 1e-3 in log2, rounded log2), in float32."""
    x_log2 = np.float32(np.log(np.float32(x))) * np.float32(1.0 / np.log(np.float32(2.0)))
    rounded = np.float32(round_half_away(x_log2))
    return bool(abs(np.float32(x_log2 - rounded)) < np.float32(1e-3)), int(rounded)


def sigmoid_params(input_scale: float, tanh: bool) -> tuple[int, int]:
    """(input_multiplier, input_left_shift) of ``SigmoidPrepare`` / ``TanhPrepare``."""
    pot, log2 = checked_log2(input_scale)
    left_shift = (15 - 3) + log2  # kInputIntegerBits = 3
    pot = pot and (left_shift in ((0, 1) if tanh else (0,)))
    if pot:
        return 0, left_shift
    multiplier = float(np.float32(input_scale)) * 4096.0 * 3.0
    left_shift = 0
    while multiplier <= 32767.0 / 2.0 and left_shift <= 30:
        left_shift += 1
        multiplier *= 2.0
    return int(multiplier), left_shift


def _scaled_input(x, multiplier: int, left_shift: int):
    if multiplier == 0:  # power-of-two scale
        multiplier, left_shift = 3 << left_shift, 0
    rounding = (1 << (left_shift - 1)) if left_shift > 0 else 0
    return wrap_int32(x.astype(np.int64) * multiplier + rounding) >> left_shift


def logistic(x: np.ndarray, multiplier: int, left_shift: int) -> np.ndarray:
    """``reference_integer_ops::Logistic`` for int16 (output scale 2^-15, zero point 0)."""
    v = _scaled_input(x, multiplier, left_shift)
    a = np.abs(v)
    uh = a >> 9
    inside = uh < 255
    k = np.where(inside, uh, 0)
    ua, ub = SIGMOID_TABLE[k], SIGMOID_TABLE[k + 1]
    result = np.where(inside, (ua << 9) + (a & 0x1FF) * (ub - ua), 0x7FFF << 10)
    result = np.where(v >= 0, result + (1 << 9), (1 << 25) - result + (1 << 9) - 1)
    return (result >> 10).astype(np.int16)  # uint32 >> 10 fits 16 bits, stored as int16


def tanh(x: np.ndarray, multiplier: int, left_shift: int) -> np.ndarray:
    """``reference_integer_ops::Tanh`` for int16 (output scale 2^-15, zero point 0)."""
    v = _scaled_input(x, multiplier, left_shift)
    a = np.abs(v)
    uh = a >> 8
    inside = uh < 255
    k = np.where(inside, uh, 0)
    ua, ub = SIGMOID_TABLE[k], SIGMOID_TABLE[k + 1]
    result = np.where(inside, (ua << 8) + (a & 0xFF) * (ub - ua), 0xFFFF << 8)
    result = np.where(v >= 0, result - (1 << 23) + (1 << 7), -result + (1 << 23) + (1 << 7) - 1)
    return wrap16(result >> 8)


def wrap16(x) -> np.ndarray:
    """C's conversion of an int32 to int16 (two's-complement wrap)."""
    return np.asarray(x, np.int64).astype(np.int16)


def lut_int16(fn, input_scale, input_zp, output_scale, output_zp) -> np.ndarray:
    """``LUTPopulateInt16<double>``: 513 entries, each corrected by half the error of linear
    interpolation at its midpoint."""
    input_min = input_scale * (I16_MIN - input_zp)
    input_max = input_scale * (I16_MAX - input_zp)
    output_min = output_scale * (I16_MIN - output_zp)
    output_max = output_scale * (I16_MAX - output_zp)
    steps = 512
    step = (input_max - input_min) / steps
    half_step = step / 2
    inv = 65536.0 / (output_max - output_min)
    i = np.arange(steps, dtype=np.float64)
    val = fn(input_min + i * step)
    mid = fn(input_min + i * step + half_step)
    nxt = fn(input_min + (i + 1) * step)
    sample = round_half_away(val * inv)
    mid_interp = round_half_away((nxt * inv + round_half_away(val * inv)) / 2)
    bias = round_half_away((mid_interp - round_half_away(mid * inv)) / 2)
    lut = np.empty(steps + 1, np.int64)
    lut[:steps] = np.clip(sample - bias, I16_MIN, I16_MAX)
    lut[steps] = np.clip(round_half_away(fn(np.float64(input_max)) * inv), I16_MIN, I16_MAX)
    return lut.astype(np.int16).astype(np.int64)


def lut_lookup(x, lut: np.ndarray) -> np.ndarray:
    """``LUTLookup`` for int16: 9-bit index, 7-bit linear interpolation (int16 arithmetic)."""
    x = np.asarray(x, np.int64)
    index = 256 + (x >> 7)
    offset = x & 0x7F
    base = lut[index]
    slope = wrap16(lut[index + 1] - base).astype(np.int64)
    return wrap16(base + ((slope * offset + 64) >> 7)).astype(np.int64)


_RANGE = I16_MAX - I16_MIN
EXP_LUT = lut_int16(np.exp, 10.0 / _RANGE, I16_MAX, 2.0 / _RANGE, 0)
RECIPROCAL_LUT = lut_int16(lambda v: 1.0 / (1.0 + v), 1.0 / _RANGE, I16_MIN, 2.0 / _RANGE, 0)


def _clz32(x):
    x = np.asarray(x, np.int64) & 0xFFFFFFFF
    bits = np.where(x > 0, np.floor(np.log2(np.maximum(x, 1))).astype(np.int64) + 1, 0)
    # log2 of a float64 can round up just below a power of two: correct by one.
    bits = np.where((x > 0) & ((x >> np.maximum(bits - 1, 0)) == 0), bits - 1, bits)
    return 32 - bits


def softmax(x: np.ndarray, multiplier: int, shift: int) -> np.ndarray:
    """``reference_ops::SoftmaxInt16`` over the last axis (output scale 2^-15, zp 0)."""
    xi = x.astype(np.int64)
    diff = xi - xi.max(axis=-1, keepdims=True)
    scaled = multiply_by_quantized_multiplier(diff, multiplier, shift)
    e = lut_lookup(np.clip(scaled + 32767, I16_MIN, I16_MAX), EXP_LUT)
    total = e.sum(axis=-1, keepdims=True)
    headroom = _clz32(total)
    shifted = wrap_int32(((total << (headroom - 1)) + (1 << 13)) >> 14)
    recip = lut_lookup(np.clip(shifted - ((1 << 15) + (1 << 16)), I16_MIN, I16_MAX), RECIPROCAL_LUT)
    right = 31 - headroom
    out = (e * recip + (np.int64(1) << (right - 1))) >> right
    return np.clip(out, 0, I16_MAX).astype(np.int16)


def softmax_multiplier(input_scale: float, beta: float) -> tuple[int, int]:
    """``SoftmaxPrepare`` for int16: input differences scaled so that 65535 steps are 10.0."""
    return quantize_multiplier(float(input_scale) * beta / (10.0 / 65535.0))


def fc_requantize(acc, effective_scale):
    """The 16x8 FULLY_CONNECTED reference kernel requantizes in double:
    ``(int32_t)round(acc * (in_s * w_s / out_s))``."""
    return round_half_away(np.asarray(acc, np.float64) * effective_scale)
