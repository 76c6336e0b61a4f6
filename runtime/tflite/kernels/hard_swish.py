"""HARD_SWISH (float32 and int8): ``x * relu6(x + 3) / 6``.

References: ``tflite/kernels/activations.cc`` (``HardSwishPrepare``),
``kernels/internal/reference/hard_swish.h``, ``common.h`` (``DownScaleInt32ToInt16Multiplier``)
and gemmlowp ``fixedpoint.h`` (int16 ``SaturatingRoundingDoublingHighMul``,
``RoundingDivideByPOT``). int8 works in 16-bit fixed point: the input is moved to a
"high-resolution" scale ``in_scale / 128``, rescaled once to the output scale and once to a
"relu-ish" scale where 3.0 is 32768, the latter mapped to a [0, 1] gate that multiplies the
former with a truncating (not rounding) doubling high multiply.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels._fixed_point import quantize_multiplier, rdbpot

_I16_MIN, _I16_MAX = -(1 << 15), (1 << 15) - 1


def _down_scale_to_int16(multiplier: int) -> int:
    """``DownScaleInt32ToInt16Multiplier``: the top 16 bits of a Q31 multiplier, rounded."""
    if multiplier >= (1 << 31) - 1 - (1 << 15):
        return _I16_MAX
    return (multiplier + (1 << 15)) >> 16


def _srdhm16(a, b):
    """gemmlowp's int16 SaturatingRoundingDoublingHighMul: floor((a*b + 2^14) / 2^15)."""
    ab = np.asarray(a, np.int64) * np.asarray(b, np.int64)
    return np.minimum((ab + (1 << 14)) >> 15, _I16_MAX)


def _sdhm16(a, b):
    """``SaturatingDoublingHighMul``: a*b / 2^15 truncated toward zero (C division)."""
    ab = np.asarray(a, np.int64) * np.asarray(b, np.int64)
    quotient = np.where(ab >= 0, ab >> 15, -((-ab) >> 15))
    return np.minimum(quotient, _I16_MAX)


def _saturating_shl16(x, amount: int):
    return np.clip(np.asarray(x, np.int64) << amount, _I16_MIN, _I16_MAX)


def _int8_params(s_in: np.float32, s_out: np.float32):
    # The prepare step computes its ratios in float32, then QuantizeMultiplier in double.
    hires = np.float32(np.float32(1.0 / 128.0) * s_in)
    out_m, out_e = quantize_multiplier(float(np.float32(hires / s_out)))
    relu_m, relu_e = quantize_multiplier(float(np.float32(hires / np.float32(3.0 / 32768.0))))
    return _down_scale_to_int16(out_m), out_e, _down_scale_to_int16(relu_m), relu_e


def prepare(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1)
    ttype = ctx.require_types((c.F32, c.I8))
    if ttype == c.F32:
        # Float32 arithmetic in the reference's order: (x * clamp(x + 3, 0, 6)) / 6.
        three, six = np.float32(3), np.float32(6)
        return lambda x: [(x * np.clip(x + three, 0, six) / six).astype(np.float32)]
    s_in, zp_in = c.per_tensor_qparams(ctx, ctx.inputs[0], "input")
    s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
    out_m, out_e, relu_m, relu_e = _int8_params(s_in, s_out)
    if out_e > 0:
        raise ctx.fail("HARD_SWISH: the output multiplier must not exceed 1 (in_scale/128 > out)")

    def run(x):
        hires = (x.astype(np.int64) - zp_in) * (1 << 7)
        preshift_out = _srdhm16(hires, out_m)
        reluish = hires
        if relu_e > 0:
            reluish = _saturating_shl16(reluish, relu_e - 1)
        reluish = _srdhm16(reluish, relu_m)
        if relu_e > 0:
            reluish = _saturating_shl16(reluish, 1)
        if relu_e < 0:
            reluish = rdbpot(reluish, -relu_e)
        gate = (reluish + (1 << 15)) >> 1
        y = rdbpot(_sdhm16(gate, preshift_out), -out_e) + zp_out
        return [np.clip(y, -128, 127).astype(np.int8)]

    return run
