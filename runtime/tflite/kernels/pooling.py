"""AVERAGE_POOL_2D and MAX_POOL_2D: float32 and int8.

References: ``tflite/kernels/pooling.cc``; ``reference/integer_ops/pooling.h``; spec 2.7.4-5.
Padding is excluded: the average divides by the number of in-image taps; int8 rounds
(sum +- count/2) / count toward zero, i.e. ties away; no requantization.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c


def _setup(ctx):
    ctx.check_arity(1)
    o = ctx.options
    c.check_window(ctx, o["padding"], o["stride_h"], o["stride_w"])
    kh, kw = o["filter_height"], o["filter_width"]
    if kh < 1 or kw < 1:
        raise ctx.fail(f"filter size ({kh}, {kw}) must be >= 1")
    act = c.check_activation(ctx, o["fused_activation_function"])
    ttype = ctx.require_types((c.F32, c.I8))
    if ttype == c.I8:
        s_in, zp_in = c.per_tensor_qparams(ctx, ctx.inputs[0], "input")
        s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
        bounds = c.activation_range_quantized(act, s_out, zp_out)
    else:
        bounds = c.activation_range_float(act)

    def geometry(x):
        if x.ndim != 4:
            raise ctx.fail(f"input must be 4-D NHWC, has shape {list(x.shape)}")
        oh, pt = c.pad_before(o["padding"], x.shape[1], kh, o["stride_h"], 1)
        ow, pl = c.pad_before(o["padding"], x.shape[2], kw, o["stride_w"], 1)
        if oh <= 0 or ow <= 0:
            raise ctx.fail(f"input shape {list(x.shape)} is smaller than the pool window")
        c.check_alloc(ctx, (x.shape[0], oh + kh, ow + kw, x.shape[3]), "padded input")
        c.check_alloc(ctx, (x.shape[0], oh, ow, kh, kw, x.shape[3]), "pooling windows")
        return (kh, kw, o["stride_h"], o["stride_w"], 1, 1, pt, pl, oh, ow)

    return ttype, bounds, geometry


def prepare_max(ctx: c.OpContext) -> c.Eval:
    ttype, (lo, hi), geometry = _setup(ctx)
    fill = -np.inf if ttype == c.F32 else -(1 << 30)

    def run(x):
        g = geometry(x)
        src = x if ttype == c.F32 else x.astype(np.int32)
        if g[0] * g[1] == 4 and g[2] == g[3] == 2 and not g[6] and not g[7]:
            # 2x2 stride 2 VALID-style windows: reshape instead of a strided view.
            n, oh, ow = x.shape[0], g[8], g[9]
            v = src[:, : 2 * oh, : 2 * ow, :].reshape(n, oh, 2, ow, 2, -1)
            y = v.max(axis=(2, 4))
        else:
            y = c.windows(src, *g, fill).max(axis=(3, 4))
        y = np.clip(y, lo, hi)
        return [y.astype(x.dtype)]

    return run


def prepare_average(ctx: c.OpContext) -> c.Eval:
    ttype, (lo, hi), geometry = _setup(ctx)

    def run(x):
        g = geometry(x)
        ones = np.ones((1,) + x.shape[1:3] + (1,), np.int64)
        count = c.windows(ones, *g, 0).sum(axis=(3, 4))
        if ttype == c.F32:
            total = c.windows(x, *g, 0.0).sum(axis=(3, 4), dtype=np.float32)
            y = np.clip(total / count.astype(np.float32), lo, hi)
            return [y.astype(np.float32)]
        total = c.windows(x.astype(np.int64), *g, 0).sum(axis=(3, 4))
        half = count // 2
        num = np.where(total > 0, total + half, total - half)
        avg = np.sign(num) * (np.abs(num) // count)  # C division truncates toward zero
        return [np.clip(avg, lo, hi).astype(np.int8)]

    return run
