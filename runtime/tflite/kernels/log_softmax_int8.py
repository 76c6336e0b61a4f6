"""LOG_SOFTMAX on int8 (and uint8 through ``uint8_legacy``'s shift); float32 goes to
``log_softmax``'s kernel.

References: ``reference/integer_ops/log_softmax.h``, ``activations.cc`` (LogSoftmaxPrepare),
``quantization_util.cc`` (``PreprocessLogSoftmaxScalingExp``, ``CalculateInputRadius``) and
``common.h`` (``log_x_for_x_greater_than_or_equal_to_1_impl``, gemmlowp fixed point). The output
is fixed at scale 16/256, zero point 127. Per row: differences to the row maximum at or above
``diff_min`` are rescaled to Q5.26, exponentiated (Q0.31), rescaled to Q12.19 and summed; the
log of the sum (Q5.26) comes from gemmlowp's polynomial; outputs are
``RoundingDivideByPOT(diff_q5 - log_sum, 22) + 127`` for differences above an adjusted minimum,
else -128.
"""

from __future__ import annotations

import math

import numpy as np

from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels._fixed_point import (
    INT32_MAX,
    INT32_MIN,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    rdbpot,
    srdhm,
)
from runtime.tflite.kernels.softmax import (
    _clz32,
    _rounding_half_sum,
    exp_on_negative_values,
    one_over_one_plus_x,
)

_INPUT_BITS = 5  # kScaledDiffIntegerBits
_ACCUM_BITS = 12
_OUTPUT_BITS = 4
# gemmlowp constants of log_x_for_x_greater_than_or_equal_to_1_impl, Q0.31
_LOG_2 = 1488522236
_SQRT_SQRT_HALF = 1805811301
_SQRT_HALF = 1518500250
_ONE_QUARTER = 536870912
_ALPHA_N = 117049297
_ALPHA_D = 127690142
_ALPHA_I = 1057819769
_ALPHA_F = 638450708


def _wrap(x):
    """int32 two's-complement wrap (gemmlowp's plain Add/Sub)."""
    return ((np.asarray(x, np.int64) + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def _saturating_shl(x, exponent):
    """SaturatingRoundingMultiplyByPOTParam for exponent >= 0 (element-wise exponents)."""
    x = np.asarray(x, np.int64)
    exponent = np.asarray(exponent, np.int64)
    threshold = (np.int64(1) << (31 - exponent)) - 1
    out = np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, x << exponent))
    return np.where(exponent == 0, x, out)


def _log_x(value, input_bits: int, output_bits: int):
    """log_x_for_x_greater_than_or_equal_to_1_impl<output_bits, input_bits> on raw values."""
    accum_bits = output_bits + 1
    shifted_quarter = rdbpot(_ONE_QUARTER, accum_bits)
    z_a = np.asarray(value, np.int64)
    head_a = _clz32(z_a)  # z_a_headroom_plus_1
    r_a_tmp = _saturating_shl(z_a, head_a - 1)
    r_a = _saturating_shl(srdhm(r_a_tmp, _SQRT_HALF), 1)
    z_a_adj = np.clip(
        _saturating_shl(input_bits - head_a, 31 - accum_bits) + shifted_quarter,
        INT32_MIN,
        INT32_MAX,
    )
    z_b = srdhm(z_a, _SQRT_HALF)
    head_b = _clz32(z_b) - 1
    r_b = _saturating_shl(z_a, head_b)
    z_b_adj = np.clip(
        _saturating_shl(input_bits - head_b, 31 - accum_bits) - shifted_quarter,
        INT32_MIN,
        INT32_MAX,
    )
    r = np.minimum(r_a, r_b)
    z_adj = np.maximum(z_a_adj, z_b_adj)
    p = _rounding_half_sum(r, _SQRT_SQRT_HALF)
    q = _wrap(r - _SQRT_SQRT_HALF)
    q = _wrap(q + q)
    common_sq = srdhm(q, q)
    num = _wrap(srdhm(q, r) + srdhm(srdhm(q, common_sq), _ALPHA_N))
    inner = _wrap(_wrap(_ALPHA_I + q) + srdhm(_ALPHA_D, common_sq))
    denom_minus_one = _wrap(srdhm(p, inner) + srdhm(_ALPHA_F, q))
    recip = one_over_one_plus_x(denom_minus_one)
    num_scaled = rdbpot(num, accum_bits)  # Rescale<accum_bits> of a Q0.31 value
    total = _wrap(srdhm(z_adj, _LOG_2) + srdhm(num_scaled, recip))
    return _saturating_shl(total, accum_bits - output_bits)


def accept_int8(prepare):
    def prepare_log_softmax(ctx: c.OpContext) -> c.Eval:
        if not ctx.inputs or ctx.inputs[0] is None or ctx.in_type(0) != c.I8:
            return prepare(ctx)
        ctx.check_arity(1)
        ctx.require_types((c.I8,))
        s_in, _ = c.per_tensor_qparams(ctx, ctx.inputs[0], "input")
        s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
        if s_out != np.float32(16 / 256) or zp_out != 127:
            raise ctx.fail(
                f"int8 output must have scale 16/256 and zero point 127, has {s_out}, {zp_out}"
            )
        real = min(1.0 * float(s_in) * (1 << (31 - _INPUT_BITS)), (1 << 31) - 1.0)
        mult, left = quantize_multiplier(real)
        if left < 0:
            raise ctx.unsupported(f"input scale {s_in} too small for the integer log-softmax")
        reverse = (1 << (31 - left)) / float(mult)
        rev_mult, rev_shift = quantize_multiplier(reverse)
        radius = math.floor(((1 << _INPUT_BITS) - 1) * (1 << (31 - _INPUT_BITS)) / (1 << left))
        diff_min = -radius

        def run(x):
            if x.ndim == 0 or x.shape[-1] == 0:
                return [x.copy()]
            rows = x.reshape(-1, x.shape[-1]).astype(np.int64)
            diff = rows - rows.max(axis=1, keepdims=True)
            diff_q5 = multiply_by_quantized_multiplier(diff, mult, left)
            used = diff >= diff_min
            exps = rdbpot(exp_on_negative_values(np.where(used, diff_q5, 0)), _ACCUM_BITS)
            sums = np.where(used, exps, 0).sum(axis=1)
            log_sum = _log_x(sums, _ACCUM_BITS, _INPUT_BITS)
            shifted = _wrap(log_sum + INT32_MIN)
            adjusted = np.maximum(
                diff_min - 1, multiply_by_quantized_multiplier(shifted, rev_mult, rev_shift)
            )
            out = rdbpot(_wrap(diff_q5 - log_sum[:, None]), 31 - _INPUT_BITS - _OUTPUT_BITS) + 127
            out = np.where(diff > adjusted[:, None], np.clip(out, -128, 127), -128)
            return [out.astype(np.int8).reshape(x.shape)]

        return run

    return prepare_log_softmax
