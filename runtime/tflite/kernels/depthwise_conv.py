"""DEPTHWISE_CONV_2D: float32, int8 (per-channel reference kernel), 16x8 (int16 input, int64
bias) and hybrid (float input, per-channel int8 filter).

References: ``tflite/kernels/depthwise_conv.cc``; ``reference/integer_ops/depthwise_conv.h``;
spec 2.7.2. Filter [1, KH, KW, IC*mult]; output channel oc = ic*mult + m; the int8 kernel takes
the multiplier from the shapes, not from the option.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels import _depthwise_plan
from runtime.tflite.kernels._fixed_point import (
    FLOAT_REQUANTIZE_MAX_ELEMENTS,
    float_requantizer,
    quantize_multipliers,
    requantize,
)
from runtime.tflite.kernels._folded_requant import fold_requantization
from runtime.tflite.kernels._hybrid import quantize_rows_asymmetric
from runtime.tflite.kernels._int16 import mbqm_int64
from runtime.tflite.kernels.conv import exact_gemm_dtype, int16_multipliers


def prepare(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity((2, 3))
    o = ctx.options
    c.check_window(
        ctx,
        o["padding"],
        o["stride_h"],
        o["stride_w"],
        o["dilation_h_factor"],
        o["dilation_w_factor"],
    )
    act = c.check_activation(ctx, o["fused_activation_function"])
    weights = ctx.constant(1)
    if weights is None or weights.ndim != 4 or weights.shape[0] != 1:
        raise ctx.fail("filter must be a constant [1, KH, KW, C] tensor")
    _, kh, kw, oc = weights.shape
    bias = ctx.constant(2) if len(ctx.inputs) > 2 else None
    if bias is not None and bias.size != oc:
        raise ctx.fail(f"bias has {bias.size} elements, expected {oc}")
    geom = (
        kh,
        kw,
        o["stride_h"],
        o["stride_w"],
        o["dilation_h_factor"],
        o["dilation_w_factor"],
        o["padding"],
    )
    if ctx.in_type(0) == c.F32 and ctx.in_type(1) == c.F32:
        ctx.require_types((c.F32,), inputs=(0, 1))
        sums = _sums(ctx, weights[0], geom, np.float32)
        b = None if bias is None else bias.astype(np.float32)
        clamp = c.float_clamp(act)

        def run_float(x, *_):
            y = sums(x)
            if b is not None:
                y += b
            # the sums are a fresh array: clamped in place (NONE too: an overflow is +-FLT_MAX)
            clamp(y)
            return [y]

        return run_float
    if ctx.in_type(0) == c.I8 and ctx.in_type(1) == c.I8 and ctx.out_type() == c.I8:
        s_in, zp_in = c.per_tensor_qparams(ctx, ctx.inputs[0], "input")
        s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
        wq = ctx.inputs[1].quantization
        if wq is None or len(wq.scale) not in (1, oc) or np.any(wq.zero_point != 0):
            raise ctx.fail(f"filter needs 1 or {oc} scales with zero points 0")
        w_scale = np.broadcast_to(wq.scale.astype(np.float64), (oc,))
        mult, shift = quantize_multipliers(np.float64(s_in) * w_scale / np.float64(s_out))
        lo, hi = c.activation_range_quantized(act, s_out, zp_out)
        b = np.zeros(oc, np.int64) if bias is None else bias.astype(np.int64)
        wi = weights[0].astype(np.int64)
        abs_sum = np.abs(wi).sum(axis=(0, 1))
        # sum w*(x - zp_in) = sum w*x - zp_in*sum w, the pads holding zp_in (a skipped tap adds
        # 0): the sums of raw int8 products are exact integers in float32 while
        # 128 * sum|w| < 2^24 (float64 otherwise, exact below 2^53), and float multiply-adds
        # are cheaper than int64 ones.
        b_eff = b - zp_in * wi.sum(axis=(0, 1))
        acc_type = exact_gemm_dtype(float(abs_sum.max(initial=0)), 128.0)
        sums = _sums(ctx, weights[0], geom, acc_type, zp_in)
        folded = fold_requantization(mult, shift, b_eff, abs_sum, zp_out, lo, hi)
        if folded is not None:

            def run_folded(x, *_):
                y = np.multiply(sums(x), folded.scale)  # (exact in float64: see the fold)
                y += folded.offset
                return [folded.finish(y)]

            return run_folded
        # |acc| <= 128 * sum|w| + |b_eff| per channel: the float64 requantizer is exact below
        # its bound (and the taps' float sums need no int64 conversion).
        requant = float_requantizer(mult, shift, 128.0 * abs_sum + np.abs(b_eff), zp_out, lo, hi)
        b_float = b_eff.astype(np.float64)

        def run_int8(x, *_):
            taps = sums(x)
            if requant is not None and taps.size <= FLOAT_REQUANTIZE_MAX_ELEMENTS:
                return [requant(np.add(taps, b_float, dtype=np.float64)).astype(np.int8)]
            acc = taps.astype(np.int64)
            acc += b_eff
            return [requantize(acc, mult, shift, zp_out, lo, hi)]

        return run_int8
    if ctx.in_type(0) == c.F32 and ctx.in_type(1) == c.I8 and ctx.out_type() == c.F32:
        return _hybrid(ctx, weights, bias, geom, act)
    if ctx.in_type(0) == c.I16 and ctx.in_type(1) == c.I8:
        return _int16(ctx, weights, bias, geom, act)
    raise ctx.unsupported(f"input/filter types {ctx.in_type(0)}/{ctx.in_type(1)} not supported")


def _int16(ctx, weights, bias, geom, act):
    # reference_integer_ops::DepthwiseConvPerChannel for int16: int64 accumulator, int64 bias
    # (depthwise_conv.cc accepts no other), int64 MultiplyByQuantizedMultiplier.
    oc = weights.shape[3]
    if bias is not None and bias.dtype != np.int64:
        raise ctx.unsupported(f"16x8 depthwise convolution needs an int64 bias, has {bias.dtype}")
    mult, shift, lo, hi = int16_multipliers(ctx, oc, act)
    w = weights[0].astype(np.int64)
    b = np.zeros(oc, np.int64) if bias is None else bias.astype(np.int64)

    def run(x, *_):
        acc = _depthwise(ctx, x.astype(np.int64), w, geom, 0, np.int64) + b
        return [np.clip(mbqm_int64(acc, mult, shift), lo, hi).astype(np.int16)]

    return run


def _hybrid(ctx, weights, bias, geom, act):
    # DepthwiseConvHybridPerChannel: each image quantized asymmetrically, integer taps over
    # (q - offset), then acc * (channel_scale * image_scale) + bias in float32.
    oc = weights.shape[3]
    wq = ctx.inputs[1].quantization
    if wq is None or len(wq.scale) != oc or wq.quantized_dimension != 3:
        raise ctx.unsupported(
            "hybrid depthwise convolution needs per-channel filter scales on dimension 3"
        )
    w_scale = wq.scale.astype(np.float32)
    w = weights[0].astype(np.int64)
    b = None if bias is None else bias.astype(np.float32)
    lo, hi = c.activation_range_float(act)

    def run(x, *_):
        n = x.shape[0]
        q, sf, offset = quantize_rows_asymmetric(x.reshape(n, -1))
        xs = q.reshape(x.shape).astype(np.int64) - offset.reshape(n, 1, 1, 1)
        acc = _depthwise(ctx, xs, w, geom, 0, np.int64).astype(np.float32)
        y = acc * (w_scale[None, :] * sf[:, None]).astype(np.float32)[:, None, None, :]
        if b is not None:
            y = y + b
        return [np.clip(y, np.float32(lo), np.float32(hi)).astype(np.float32)]

    return run


def _depthwise(ctx, x, w, geom, fill, acc_dtype):
    kh, kw, sh, sw, dh, dw, padding = geom
    oc = w.shape[-1]
    if x.ndim != 4 or oc % x.shape[3]:
        raise ctx.fail(f"input shape {list(np.shape(x))} does not fit {oc} output channels")
    mult = oc // x.shape[3]
    oh, pt = c.pad_before(padding, x.shape[1], kh, sh, dh)
    ow, pl = c.pad_before(padding, x.shape[2], kw, sw, dw)
    if oh <= 0 or ow <= 0:
        raise ctx.fail(f"input shape {list(x.shape)} is smaller than the filter window")
    c.check_alloc(ctx, (x.shape[0], oh + kh * dh, ow + kw * dw, oc), "padded input")
    if x.shape[3] == 1 and np.dtype(acc_dtype).kind == "f":
        # One input channel (audio front ends: depth multiplier 8 on a spectrogram): a plain
        # convolution, one im2col copy and one matmul instead of a multiply-add per tap and
        # channel. Integer inputs stay exact (the caller's float type bounds the sums).
        c.check_alloc(ctx, (x.shape[0], oh, ow, kh * kw), "im2col buffer")
        win = c.windows(x, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, fill)
        cols = np.ascontiguousarray(win[..., 0], dtype=acc_dtype).reshape(-1, kh * kw)
        return (cols @ w.reshape(kh * kw, oc)).reshape(x.shape[0], oh, ow, oc)
    if mult > 1:
        x = np.repeat(x, mult, axis=3)
    win = c.windows(x, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, fill)
    n = x.shape[0]
    # The sum over taps of a window times one weight per channel, tap by tap in (i, j) order.
    # numpy's inner loop runs along the last axis that it can merge: with a per-channel weight
    # that is the C channels alone. So with stride 1 along the width (width and channels
    # adjacent in memory) each tap is one row of ow*C values against the weights repeated ow
    # times; else, when the rows are longer than the channels, channels first.
    if win.strides[2] == oc * win.strides[5]:
        rows = (n, oh, ow * oc)
        tiled = np.tile(w.astype(acc_dtype, copy=False), (1, 1, ow))  # (kh, kw, ow*C)
        taps = [
            (win[:, :, :, i, j, :].reshape(rows), tiled[i, j]) for i in range(kh) for j in range(kw)
        ]
        shape = (n, oh, ow, oc)
    elif ow > oc:
        first = win.transpose(0, 5, 1, 2, 3, 4)  # (N, C, oh, ow, kh, kw)
        wf = w.astype(acc_dtype, copy=False)[..., None, None]  # (kh, kw, C, 1, 1)
        taps = [(first[:, :, :, :, i, j], wf[i, j]) for i in range(kh) for j in range(kw)]
        shape = None
    else:
        taps = [(win[:, :, :, i, j, :], w[i, j]) for i in range(kh) for j in range(kw)]
        shape = (n, oh, ow, oc)
    acc = np.multiply(taps[0][0], taps[0][1], dtype=acc_dtype)
    term = np.empty_like(acc)
    for tap, weight in taps[1:]:
        np.multiply(tap, weight, out=term)
        acc += term
    return acc.reshape(shape) if shape else np.ascontiguousarray(acc.transpose(0, 2, 3, 1))


def _sums(ctx, weights, geom, dtype, fill=0):
    """``sums(x)``: the fresh (N, Ho, Wo, C) tap sums of ``x`` padded with ``fill`` with
    ``weights`` (kh, kw, C) in ``dtype`` (exact for the int8 paths: their dtype is chosen so
    that every partial sum is). The way is planned once per input shape (kept for the last
    one, in this kernel's closure)."""
    w = weights.astype(dtype)
    plans = {}

    def sums(x):
        entry = plans.get(x.shape)
        if entry is None:
            entry = _plan(ctx, x, w, geom, dtype, fill)
            plans.clear()
            plans[x.shape] = entry
        how, mult = entry
        if mult > 1:
            c.check_alloc(ctx, x.shape[:3] + (x.shape[3] * mult,), "repeated input", x.itemsize)
            x = np.repeat(x, mult, axis=3)  # channel ic*mult + m reads input channel ic
        if how is not None:
            y = how.sums(x)
            if y is not None:
                return y
        # one input channel (im2col), or inf / NaN that the plan's taps past the kernel would
        # spread
        return _depthwise(ctx, x.astype(dtype), w, geom, fill, dtype)

    return sums


def _plan(ctx, x, w, geom, dtype, fill):
    """(a ``_depthwise_plan`` plan or None for ``_depthwise``, depth multiplier) for inputs of
    ``x``'s shape, checked once per shape."""
    kh, kw, sh, sw, dh, dw, padding = geom
    oc = w.shape[-1]
    if x.ndim != 4 or x.shape[3] == 0 or oc % x.shape[3]:
        raise ctx.fail(f"input shape {list(np.shape(x))} does not fit {oc} output channels")
    oh = c.pad_before(padding, x.shape[1], kh, sh, dh)[0]
    ow = c.pad_before(padding, x.shape[2], kw, sw, dw)[0]
    if oh <= 0 or ow <= 0:
        raise ctx.fail(f"input shape {list(x.shape)} is smaller than the filter window")
    mult = oc // x.shape[3]
    if x.shape[3] == 1 and oc > 1:
        return None, 1  # (_depthwise's im2col: one matmul, no repeated input)
    shape = x.shape[:3] + (oc,)
    return _depthwise_plan.plan(ctx, shape, w, geom, dtype, fill), mult
