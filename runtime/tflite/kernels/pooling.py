"""AVERAGE_POOL_2D and MAX_POOL_2D: float32, int8, int16 (16x8) and uint8 (legacy): one integer
kernel (uint8 sums are never negative, so its (sum + count/2) / count is the same formula).

References: ``tflite/kernels/pooling.cc``; ``reference/integer_ops/pooling.h``; spec 2.7.4-5.
Padding is excluded: the average divides by the number of in-image taps; int8 rounds
(sum +- count/2) / count toward zero, i.e. ties away; no requantization.
"""

from __future__ import annotations

import math

import numpy as np

from runtime._budget import fits
from runtime.tflite.kernels import _common as c

_NUMPY = {c.I8: np.int8, c.I16: np.int16, c.U8: np.uint8}


def _setup(ctx):
    ctx.check_arity(1)
    o = ctx.options
    c.check_window(ctx, o["padding"], o["stride_h"], o["stride_w"])
    kh, kw = o["filter_height"], o["filter_width"]
    if kh < 1 or kw < 1:
        raise ctx.fail(f"filter size ({kh}, {kw}) must be >= 1")
    act = c.check_activation(ctx, o["fused_activation_function"])
    ttype = ctx.require_types((c.F32, c.I8, c.I16, c.U8))
    if ttype != c.F32:  # int8, int16 (16x8), uint8: the same integer kernels
        s_in, zp_in = c.per_tensor_qparams(ctx, ctx.inputs[0], "input")
        s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
        bounds = c.activation_range_quantized(act, s_out, zp_out, _NUMPY[ttype])
    else:
        bounds = c.activation_range_float(act)
    # (float32: the in-place clamp of a result, NONE's too)
    clamp = c.float_clamp(act) if ttype == c.F32 else None

    known = {}  # input shape -> (geometry, padded input bytes, windows bytes)

    def geometry(x):
        entry = known.get(x.shape)
        if entry is None:
            if x.ndim != 4:
                raise ctx.fail(f"input must be 4-D NHWC, has shape {list(x.shape)}")
            oh, pt = c.pad_before(o["padding"], x.shape[1], kh, o["stride_h"], 1)
            ow, pl = c.pad_before(o["padding"], x.shape[2], kw, o["stride_w"], 1)
            if oh <= 0 or ow <= 0:
                raise ctx.fail(f"input shape {list(x.shape)} is smaller than the pool window")
            n, ch = x.shape[0], x.shape[3]
            g = (kh, kw, o["stride_h"], o["stride_w"], 1, 1, pt, pl, oh, ow)
            entry = (g, n * (oh + kh) * (ow + kw) * ch * 4, n * oh * ow * kh * kw * ch * 4)
            if len(known) > 16:  # (a model resized again and again)
                known.clear()
            known[x.shape] = entry
        g, padded_bytes, windows_bytes = entry
        # the budget's test on each call (it depends on what the run holds now)
        if not (fits(padded_bytes) and fits(windows_bytes)):
            n, _, _, ch = x.shape
            c.check_alloc(ctx, (n, g[8] + kh, g[9] + kw, ch), "padded input")
            c.check_alloc(ctx, (n, g[8], g[9], kh, kw, ch), "pooling windows")
        return g

    return ttype, bounds, geometry, clamp


def _windows(x, g, fill):
    """``c.windows``; on an input that needs no padding, the same view made directly."""
    kh, kw, sh, sw, _, _, pt, pl, oh, ow = g
    n, h, w, ch = x.shape
    if pt or pl or (oh - 1) * sh + kh > h or (ow - 1) * sw + kw > w or not x.flags.c_contiguous:
        return c.windows(x, kh, kw, sh, sw, 1, 1, pt, pl, oh, ow, fill)
    s = x.strides
    strides = (s[0], s[1] * sh, s[2] * sw, s[1], s[2], s[3])
    view = np.ndarray((n, oh, ow, kh, kw, ch), x.dtype, x, 0, strides)
    view.flags.writeable = False
    return view


def _taps(x, g, fill):
    """The KH*KW strided views of the padded input, one per window tap."""
    kh, kw = g[0], g[1]
    win = _windows(x, g, fill)
    for i in range(kh):
        for j in range(kw):
            yield win[:, :, :, i, j, :]


def prepare_max(ctx: c.OpContext) -> c.Eval:
    ttype, (lo, hi), geometry, _ = _setup(ctx)
    fill = -np.inf if ttype == c.F32 else np.iinfo(_NUMPY[ttype]).min
    if ttype == c.F32:
        # The reference's running max starts at lowest() and takes each tap through
        # std::max(max, tap) = (max < tap ? tap : max): a NaN tap never wins, wherever it
        # is (np.fmax skips NaN alike); an all-NaN window gives lowest(), then the clamp
        # (even NONE's: +inf is FLT_MAX).
        lo, hi = np.float32(lo), np.float32(hi)
        pick = np.fmax
    else:
        pick = np.maximum
    # A clamp to the type's whole range (no fused activation on integers) is skipped.
    info = None if ttype == c.F32 else np.iinfo(_NUMPY[ttype])
    floor, ceiling = (-np.inf, np.inf) if info is None else (info.min, info.max)

    none = ttype == c.F32 and lo == -c.FLT_MAX and hi == c.FLT_MAX

    def clamp(y):
        if ttype == c.F32:
            if none and y.size >= c.FINITE_TEST_MIN_ELEMENTS and y.flags.c_contiguous:
                # NONE on a large result: nothing to do where it holds no inf and no NaN (a
                # finite sum of squares, as ``c.float_clamp``)
                flat = y.reshape(-1)
                if math.isfinite(flat.dot(flat)):
                    return [y]
            np.fmax(y, lo, out=y)  # (an all-NaN window, NaN here: lowest(), so lo)
            np.minimum(y, hi, out=y)
        elif lo > floor or hi < ceiling:
            np.clip(y, lo, hi, out=y)
        return [y]

    gathers = {}  # input shape -> tap index of _max_gather_index, or None where not wanted

    def run(x):
        g = geometry(x)
        index = gathers.get(x.shape, False)
        if index is False:
            index = _max_gather_index(x.shape, g)
            if len(gathers) > 16:  # (a model resized again and again)
                gathers.clear()
            gathers[x.shape] = index
        if index is not None and x.flags.c_contiguous:
            # (taps, windows x C) gathered in one call, reduced over the taps in another (over
            # the first axis: one elementwise pass per tap, where a reduction over an inner
            # axis runs a short loop per window)
            y = pick.reduce(x.reshape(-1).take(index)).reshape(x.shape[0], g[8], g[9], -1)
            return clamp(y)
        win = _windows(x, g, fill)
        # Separable: the maximum over each window's rows, then over its columns, (KH - 1) +
        # (KW - 1) passes instead of KH * KW - 1 (max is exact in any order; float ties
        # between -0.0 and 0.0 may pick either zero, as the tap order did).
        # The first maximum makes the array the others update (no copy before it).
        if g[0] > 1:
            rows = pick(win[:, :, :, 0], win[:, :, :, 1])  # (N, OH, OW, KW, C)
            for i in range(2, g[0]):
                pick(rows, win[:, :, :, i], out=rows)
        else:
            rows = np.array(win[:, :, :, 0])
        if g[1] > 1:
            y = pick(rows[:, :, :, 0], rows[:, :, :, 1])
            for j in range(2, g[1]):
                pick(y, rows[:, :, :, j], out=y)
        else:
            y = rows[:, :, :, 0]
        return clamp(y)

    return run


def _max_gather_index(shape, g) -> np.ndarray | None:
    """For MAX_POOL on a small input: the flat index in the input of each window's taps, shape
    (KH * KW, N * OH * OW * C), or None (a large input: the strided passes then cost less than
    the gather and its index's memory).

    A tap in the padding takes the index of the first in-image tap of its window: the
    reference kernel skips padding taps, and a repeated element leaves a maximum unchanged.
    None too where a window holds no in-image tap (the kernel's lowest value there)."""
    kh, kw, sh, sw, _, _, pt, pl, oh, ow = g
    n, h, w, ch = shape
    taps = kh * kw
    if n * oh * ow * taps * ch > GATHER_MAX_ELEMENTS:
        return None
    rows = np.arange(oh)[:, None] * sh - pt + np.arange(kh)[None, :]  # (OH, KH) input rows
    cols = np.arange(ow)[:, None] * sw - pl + np.arange(kw)[None, :]  # (OW, KW) input columns
    r = rows[:, None, :, None]  # (OH, 1, KH, 1)
    q = cols[None, :, None, :]  # (1, OW, 1, KW)
    inside = ((r >= 0) & (r < h) & (q >= 0) & (q < w)).reshape(oh * ow, taps)
    if not inside.any(axis=1).all():
        return None
    pixel = (r * w + q).reshape(oh * ow, taps)
    first = pixel[np.arange(oh * ow), inside.argmax(axis=1)]
    pixel = np.where(inside, pixel, first[:, None])
    # batch b, window pixel p, channel k -> b * H * W * C + p * C + k
    index = (
        np.arange(n)[:, None, None, None] * (h * w * ch)
        + pixel[None, :, :, None] * ch
        + np.arange(ch)[None, None, None, :]
    )
    index = index.reshape(n * oh * ow, taps, ch).transpose(1, 0, 2)
    return np.ascontiguousarray(index.reshape(taps, n * oh * ow * ch), dtype=np.intp)


# Largest gathered window array (windows x taps x channels) a MAX_POOL takes in one call; its
# index, kept per input shape, is 8 bytes an element (512 KiB here).
GATHER_MAX_ELEMENTS = 1 << 16


def prepare_average(ctx: c.OpContext) -> c.Eval:
    ttype, (lo, hi), geometry, clamp_float = _setup(ctx)

    counts = {}  # (input height, width) -> in-image taps per output position, and half

    def run(x):
        g = geometry(x)
        entry = counts.get(x.shape[1:3])
        if entry is None:
            ones = np.ones((1,) + x.shape[1:3] + (1,), np.int64)
            count = sum(t.astype(np.int64) for t in _taps(ones, g, 0))
            if len(counts) > 16:  # (a model resized again and again)
                counts.clear()
            entry = counts[x.shape[1:3]] = (count, count // 2)
        count, half = entry
        if ttype != c.F32 and g[0] * g[1] >= g[8] * g[9]:
            # More taps than output positions (a global pool): one integer sum over each
            # window beats a loop over the taps; integer sums do not depend on the order.
            total = _windows(x, g, 0).sum(axis=(3, 4), dtype=np.int64)
        else:
            # float32: the reference kernel's order, tap by tap
            src = x if ttype == c.F32 else x.astype(np.int64)
            total = np.zeros((x.shape[0], g[8], g[9], x.shape[3]), src.dtype)
            for t in _taps(src, g, 0):
                total += t
        if ttype == c.F32:
            y = np.divide(total, count, dtype=np.float32)
            clamp_float(y)
            return [y]
        num = np.where(total > 0, total + half, total - half)
        avg = np.sign(num) * (np.abs(num) // count)  # C division truncates toward zero
        return [np.clip(avg, lo, hi).astype(_NUMPY[ttype])]

    return run
