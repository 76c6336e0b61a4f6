"""BATCH_MATMUL: float32 and int8, broadcasting batch dimensions, optional adjoints.

Reference: ``tflite/kernels/batch_matmul.cc``, ``reference/batch_matmul.h``. int8:
acc = sum (lhs - zp_l)(rhs - zp_r), out = MBQM(acc, M, s) + zp_out with M, s from
QuantizeMultiplier(s_l * s_r / s_out) (the product and quotient in float32, as the kernel's
float expression evaluates). GEMMs run in float64, exact for int8 products.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels._fixed_point import quantize_multiplier, requantize


def prepare(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(2)
    ttype = ctx.require_types((c.F32, c.I8), inputs=(0, 1))
    adj_x, adj_y = ctx.options["adj_x"], ctx.options["adj_y"]
    if ttype == c.I8:
        s_l, zp_l = c.per_tensor_qparams(ctx, ctx.inputs[0], "lhs")
        s_r, zp_r = c.per_tensor_qparams(ctx, ctx.inputs[1], "rhs")
        s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
        mult, shift = quantize_multiplier(float(np.float32(np.float32(s_l * s_r) / s_out)))

    def run(a, b):
        if a.ndim < 2 or b.ndim < 2:
            raise ctx.fail("inputs must have rank >= 2")
        if adj_x:
            a = np.swapaxes(a, -1, -2)
        if adj_y:
            b = np.swapaxes(b, -1, -2)
        if a.shape[-1] != b.shape[-2]:
            raise ctx.fail(f"inner dimensions differ: {list(a.shape)} x {list(b.shape)}")
        c.broadcast_shape(ctx, np.empty(a.shape[:-2]), np.empty(b.shape[:-2]))
        if ttype == c.F32:
            return [np.matmul(a, b).astype(np.float32)]
        acc = np.matmul(a.astype(np.float64) - zp_l, b.astype(np.float64) - zp_r)
        return [requantize(acc.astype(np.int64), mult, shift, zp_out, -128, 127)]

    return run
