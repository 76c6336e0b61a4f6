"""DIV on int8 and uint8; every other type goes to ``arithmetic``'s kernel.

Reference: ``tflite/kernels/div.cc`` and ``reference/div.h`` (``DivElementwise``). With
``v1 = q1 - zp1`` and ``v2 = q2 - zp2`` (signs moved so that v2 > 0): the reciprocal of v2 from
``GetReciprocal`` (gemmlowp's 1/(1+x) on v2 shifted to [1, 2)), v1 shifted left by its
``CountLeadingSignBits`` headroom and multiplied by it (``SaturatingRoundingDoublingHighMul``),
then ``MultiplyByQuantizedMultiplierSmallerThanOneExp`` with the multiplier of
``s1 / (s2 * s_out)`` (float arithmetic) and the shift ``out_shift - recip_shift - headroom``,
plus ``zp_out``, clamped to the activation range. That shift often exceeds 31 for small
quotients; gemmlowp's ``RoundingDivideByPOT`` then builds its mask in 64 bits truncated to
int32 (all ones) and the x86 and Arm shift instructions use the count modulo 32: reproduced
here, since it decides the result LiteRT gives. A zero divisor (v2 = 0), for which LiteRT reads
past its shift table, is an error.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels._fixed_point import quantize_multiplier, srdhm
from runtime.tflite.kernels.softmax import _clz32, one_over_one_plus_x


def _rounding_divide_by_pot_c(x, exponent):
    """gemmlowp RoundingDivideByPOT on int32 as compiled for x86/Arm, exponents 0..63."""
    x = np.asarray(x, np.int64)
    exponent = np.asarray(exponent, np.int64)
    mask = ((np.int64(1) << exponent) - 1) & 0xFFFFFFFF
    mask = np.where(mask >= 1 << 31, mask - (1 << 32), mask)  # to int32
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> (exponent & 31)) + (remainder > threshold)


def accept_quantized_div(prepare):
    def prepare_div(ctx: c.OpContext) -> c.Eval:
        if len(ctx.inputs) != 2 or None in ctx.inputs or ctx.in_type(0) not in (c.I8, c.U8):
            return prepare(ctx)
        ctx.check_arity(2)
        ttype = ctx.require_types((c.I8, c.U8), inputs=(0, 1))
        s1, zp1 = c.per_tensor_qparams(ctx, ctx.inputs[0], "input 0")
        s2, zp2 = c.per_tensor_qparams(ctx, ctx.inputs[1], "input 1")
        s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
        act = c.check_activation(ctx, ctx.options.get("fused_activation_function", 0))
        dtype = np.int8 if ttype == c.I8 else np.uint8
        lo, hi = c.activation_range_quantized(act, s_out, zp_out, dtype)
        mult, out_shift = quantize_multiplier(float(s1 / (s2 * s_out)))

        def run(a, b):
            c.broadcast_shape(ctx, a, b)
            v1 = a.astype(np.int64) - zp1
            v2 = b.astype(np.int64) - zp2
            v1, v2 = np.broadcast_arrays(v1, v2)
            if np.any(v2 == 0):
                raise ctx.fail("division by zero (a divisor equal to its zero point)")
            negative = v2 < 0
            v1, v2 = np.where(negative, -v1, v1), np.abs(v2)
            # GetReciprocal(v2, 31): v2 shifted so that its top bit is bit 31, minus 1.0.
            head_plus_one = _clz32(v2)
            recip_shift = 31 - head_plus_one
            shifted = ((v2 << head_plus_one) & 0xFFFFFFFF) - (1 << 31)
            inverse = one_over_one_plus_x(shifted)
            headroom = _clz32(v1 ^ (v1 >> 31)) - 1  # __builtin_clrsb
            unscaled = srdhm(v1 << headroom, inverse)
            total_shift = out_shift - recip_shift - headroom
            if np.any(total_shift > 0):
                raise ctx.unsupported("quantized DIV with a left shift (multiplier too large)")
            result = _rounding_divide_by_pot_c(srdhm(unscaled, mult), -total_shift) + zp_out
            return [np.asarray(np.clip(result, lo, hi), dtype)]

        return run

    return prepare_div
