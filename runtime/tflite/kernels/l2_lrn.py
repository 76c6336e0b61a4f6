"""L2_NORMALIZATION (float32, int8, uint8) and LOCAL_RESPONSE_NORMALIZATION (float32).

References: ``tflite/kernels/l2norm.cc`` (rank <= 4, no fused activation, quantized outputs
fixed at scale 1/128 with zero point 0 for int8 and 128 for uint8; float epsilon 1e-6 on the
norm), ``internal/reference/l2normalization.h`` and ``integer_ops/l2normalization.h``,
``local_response_norm.cc`` and ``reference_ops.h`` (``LocalResponseNormalization``: the
window is channels ``[c - radius, c + radius)``, measured against LiteRT 2.3's reference kernel).

Quantized L2: per row over the last axis, ``acc = sum((q - zp)^2)`` in int32, its inverse
square root as a quantized multiplier (``GetInvSqrtQuantizedMultiplierExp``); int8 applies it
to ``q - zp`` with 7 more bits, uint8 to ``128 * (q - zp)`` and adds 128.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels._fixed_point import multiply_by_quantized_multiplier
from runtime.tflite.kernels.normalization import inv_sqrt_multiplier

_L2_EPSILON = np.float32(1e-6)
_L2_OUTPUT_SCALE = np.float32(1.0 / 128.0)


def prepare_l2_normalization(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1)
    ttype = ctx.require_types((c.F32, c.I8, c.U8))
    if ctx.options.get("fused_activation_function", 0) != 0:
        raise ctx.unsupported("a fused activation is not supported (LiteRT requires NONE)")
    if len(ctx.inputs[0].shape) > 4:
        raise ctx.fail(f"input rank {len(ctx.inputs[0].shape)} is above 4")
    if ttype == c.F32:

        def run_float(x):
            sq = np.sum(x * x, axis=-1, keepdims=True, dtype=np.float32)
            norm = np.maximum(np.sqrt(sq), _L2_EPSILON)
            return [(x / norm).astype(np.float32)]

        return run_float
    _, zp_in = c.per_tensor_qparams(ctx, ctx.inputs[0], "input")
    s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
    want_zp = 0 if ttype == c.I8 else 128
    if s_out != _L2_OUTPUT_SCALE or zp_out != want_zp:
        raise ctx.fail(f"output must have scale 1/128 and zero point {want_zp}")

    def run_quantized(x):
        if x.ndim == 0:
            raise ctx.fail("input must have at least one dimension")
        v = x.astype(np.int64) - zp_in
        acc = np.sum(v * v, axis=-1).reshape(-1)
        rows = v.reshape(acc.size, -1)
        y = np.empty_like(rows)
        # One multiplier per row; rows with the same sum of squares share it.
        for total in np.unique(acc):
            mult, shift = inv_sqrt_multiplier(int(total))
            sel = acc == total
            if ttype == c.I8:
                y[sel] = multiply_by_quantized_multiplier(rows[sel], mult, shift + 7)
            else:
                y[sel] = 128 + multiply_by_quantized_multiplier(128 * rows[sel], mult, shift)
        lo, hi = (-128, 127) if ttype == c.I8 else (0, 255)
        dtype = np.int8 if ttype == c.I8 else np.uint8
        return [np.clip(y, lo, hi).astype(dtype).reshape(x.shape)]

    return run_quantized


def prepare_local_response_normalization(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1)
    ctx.require_types((c.F32,))
    o = ctx.options
    radius = int(o["radius"])
    bias, alpha, beta = (np.float32(o[k]) for k in ("bias", "alpha", "beta"))
    if radius < 0:
        raise ctx.fail(f"radius {radius} must be >= 0")

    def run(x):
        if x.ndim != 4:
            raise ctx.fail(f"input must be 4-D, has shape {list(x.shape)}")
        depth = x.shape[-1]
        sq = x * x
        # Window sums over channels [c - radius, c + radius): LiteRT's reference kernel stops
        # before c + radius (TensorFlow's LRN includes it).
        if np.isfinite(sq).all():
            # a running float64 sum (finite squares: it cannot overflow, and a window over
            # FLT_MAX still rounds to inf as the reference's float32 sum)
            csum = np.concatenate(
                [np.zeros(x.shape[:-1] + (1,), np.float64), np.cumsum(sq, -1, dtype=np.float64)],
                -1,
            )
            idx = np.arange(depth)
            lo, hi = np.maximum(idx - radius, 0), np.minimum(idx + radius, depth)
            accum = (csum[..., hi] - csum[..., lo]).astype(np.float32)
        else:
            # an inf or NaN square would spoil every later difference of the running sum:
            # the window's float32 sum itself, channel by channel as the reference adds them
            pad = np.zeros(x.shape[:-1] + (radius,), np.float32)
            padded = np.concatenate([pad, sq, pad], -1)
            accum = np.zeros_like(sq)
            for k in range(2 * radius):
                accum += padded[..., k : k + depth]
        multiplier = np.power(bias + alpha * accum, -beta, dtype=np.float32)
        return [(x * multiplier).astype(np.float32)]

    return run
