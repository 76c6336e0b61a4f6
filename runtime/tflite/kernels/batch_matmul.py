"""BATCH_MATMUL: float32, int8 and int16 (16x8), broadcasting batch dimensions, optional adjoints.

Reference: ``tflite/kernels/batch_matmul.cc``, ``reference/batch_matmul.h``. int8:
acc = sum (lhs - zp_l)(rhs - zp_r), out = MBQM(acc, M, s) + zp_out with M, s from
QuantizeMultiplier(s_l * s_r / s_out) (the product and quotient in float32, as the kernel's
float expression evaluates). GEMMs run in float64, exact for int8 products.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels._fixed_point import quantize_multiplier, requantize
from runtime.tflite.kernels._hybrid import quantize_rows_asymmetric, quantize_rows_symmetric
from runtime.tflite.kernels._int16 import mbqm_int64


def prepare(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(2)
    adj_x, adj_y = ctx.options["adj_x"], ctx.options["adj_y"]
    if ctx.in_type(0) == c.F32 and ctx.in_type(1) == c.I8:
        return _hybrid(ctx, adj_x, adj_y)
    ttype = ctx.require_types((c.F32, c.I8, c.I16), inputs=(0, 1))
    if ttype != c.F32:
        s_l, zp_l = c.per_tensor_qparams(ctx, ctx.inputs[0], "lhs")
        s_r, zp_r = c.per_tensor_qparams(ctx, ctx.inputs[1], "rhs")
        s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
        mult, shift = quantize_multiplier(float(np.float32(np.float32(s_l * s_r) / s_out)))
        if ttype == c.I16 and (zp_l or zp_r or zp_out):
            raise ctx.fail("int16 BATCH_MATMUL needs zero points 0")

    def run(a, b):
        if a.ndim < 2 or b.ndim < 2:
            raise ctx.fail("inputs must have rank >= 2")
        if adj_x:
            a = np.swapaxes(a, -1, -2)
        if adj_y:
            b = np.swapaxes(b, -1, -2)
        if a.shape[-1] != b.shape[-2]:
            raise ctx.fail(f"inner dimensions differ: {list(a.shape)} x {list(b.shape)}")
        batch = c.broadcast_shape(ctx, np.empty(a.shape[:-2]), np.empty(b.shape[:-2]))
        c.check_alloc(ctx, batch + (a.shape[-2], b.shape[-1]), "output")
        if ttype == c.F32:
            return [np.matmul(a, b).astype(np.float32)]
        acc = np.matmul(a.astype(np.float64) - zp_l, b.astype(np.float64) - zp_r)
        if ttype == c.I16:
            # 16x8: int64 accumulator and the int64 MultiplyByQuantizedMultiplier (exact in
            # float64 while the depth stays under 2^22).
            y = mbqm_int64(acc.astype(np.int64), mult, shift)
            return [np.clip(y, -32768, 32767).astype(np.int16)]
        return [requantize(acc.astype(np.int64), mult, shift, zp_out, -128, 127)]

    return run


def _hybrid(ctx: c.OpContext, adj_x: bool, adj_y: bool) -> c.Eval:
    # float lhs, constant int8 rhs: lhs rows quantized one by one (as FULLY_CONNECTED's
    # hybrid kernel does), integer dot products, scaled by row_scale * rhs_scale in float32.
    rhs = ctx.constant(1)
    q = ctx.inputs[1].quantization
    if rhs is None or q is None or len(q.scale) != 1 or q.zero_point[0] != 0:
        raise ctx.unsupported("hybrid BATCH_MATMUL needs a constant, per-tensor int8 rhs")
    if ctx.out_type() != c.F32:
        raise ctx.unsupported("hybrid BATCH_MATMUL must have a float32 output")
    scale = np.float32(q.scale[0])
    r = np.swapaxes(rhs, -1, -2) if adj_y else rhs
    r64 = r.astype(np.float64)
    col_sums = r.astype(np.int64).sum(axis=-2)
    asymmetric = bool(ctx.options["asymmetric_quantize_inputs"])

    def run(a, _):
        if adj_x:
            a = np.swapaxes(a, -1, -2)
        if a.ndim < 2 or a.shape[-1] != r.shape[-2]:
            raise ctx.fail(f"inner dimensions differ: {list(a.shape)} x {list(r.shape)}")
        batch = c.broadcast_shape(ctx, np.empty(a.shape[:-2]), np.empty(r.shape[:-2]))
        c.check_alloc(ctx, batch + (a.shape[-2], r.shape[-1]), "output")
        rows = np.ascontiguousarray(a).reshape(-1, a.shape[-1])
        if asymmetric:
            qa, sf, offset = quantize_rows_asymmetric(rows)
        else:
            qa, sf = quantize_rows_symmetric(rows)
            offset = np.zeros(len(sf), np.int32)
        qa = qa.reshape(a.shape).astype(np.float64)
        dot = np.matmul(qa, r64).astype(np.int64)
        dot -= offset.reshape(a.shape[:-1])[..., None].astype(np.int64) * col_sums[..., None, :]
        factor = (sf * scale).astype(np.float32).reshape(a.shape[:-1])[..., None]
        return [(dot.astype(np.float32) * factor).astype(np.float32)]

    return run
