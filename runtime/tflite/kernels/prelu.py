"""PRELU (float32 and int8): ``x >= 0 ? x : alpha * x``, ``alpha`` broadcast against ``x``.

References: ``tflite/kernels/activations.cc`` (``PreluPrepare``, ``PreluEval``) and
``kernels/internal/reference/prelu.h``. int8: the two real multipliers ``in_s / out_s`` and
``in_s * alpha_s / out_s`` are computed in float32 (the tensors' scales are floats), then
QuantizeMultiplier; a negative input is multiplied by ``alpha_q - alpha_zp`` before the
rescale, a non-negative one is rescaled alone.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels._fixed_point import (
    multiply_by_quantized_multiplier,
    quantize_multiplier,
)


def prepare(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(2)
    ttype = ctx.require_types((c.F32, c.I8), inputs=(0, 1))
    if ttype == c.F32:

        def run_float(x, alpha):
            shape = c.broadcast_shape(ctx, x, alpha)
            if shape != x.shape:
                raise ctx.fail(f"alpha {list(alpha.shape)} widens the input {list(x.shape)}")
            return [np.where(x >= 0, x, x * alpha).astype(np.float32)]

        return run_float
    s_in, zp_in = c.per_tensor_qparams(ctx, ctx.inputs[0], "input")
    s_alpha, zp_alpha = c.per_tensor_qparams(ctx, ctx.inputs[1], "alpha")
    s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
    m_pos, e_pos = quantize_multiplier(float(np.float32(s_in / s_out)))
    m_neg, e_neg = quantize_multiplier(float(np.float32(np.float32(s_in * s_alpha) / s_out)))

    def run_int8(x, alpha):
        shape = c.broadcast_shape(ctx, x, alpha)
        if shape != x.shape:
            raise ctx.fail(f"alpha {list(alpha.shape)} widens the input {list(x.shape)}")
        v = x.astype(np.int64) - zp_in
        a = alpha.astype(np.int64) - zp_alpha
        pos = multiply_by_quantized_multiplier(v, m_pos, e_pos)
        neg = multiply_by_quantized_multiplier(v * a, m_neg, e_neg)
        y = np.where(v >= 0, pos, neg) + zp_out
        return [np.clip(y, -128, 127).astype(np.int8)]

    return run_int8
