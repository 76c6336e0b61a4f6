"""CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and TRANSPOSE_CONV with uint8 (legacy asymmetric)
input and filter; every other type goes to the op's own kernel.

References: ``reference/conv.h`` (``Conv`` on uint8), ``reference/depthwiseconv_uint8.h``,
``reference/fully_connected.h`` (uint8), ``reference/transpose_conv.h`` (uint8);
``GetQuantizedConvolutionMultipler``. One per-tensor scale and zero point for the filter (which,
unlike int8, may be nonzero): ``acc = sum (x - zp_x) * (w - zp_w) + bias`` (int32 bias), then
``MultiplyByQuantizedMultiplier(acc, in_s * w_s / out_s) + zp_out`` (fully connected: the
double product, rounded) clamped to the fused activation's uint8 range. Out-of-image taps are
skipped, i.e. padded with ``zp_x``. The sums of products are exact in float64
(|x - zp|, |w - zp| <= 255).
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels import conv, depthwise_conv, fully_connected, transpose_conv
from runtime.tflite.kernels._fixed_point import quantize_multiplier, requantize, round_half_away


def _uint8_params(ctx: c.OpContext, has_bias_input: bool, oc: int, x=0, w=1, b=2):
    """(zp_x, zp_w, multiplier, shift, zp_out, lo, hi, bias int64) of a uint8 op whose input,
    filter and bias are inputs ``x``, ``w`` and ``b``."""
    s_in, zp_in = c.per_tensor_qparams(ctx, ctx.inputs[x], "input")
    s_w, zp_w = c.per_tensor_qparams(ctx, ctx.inputs[w], "filter")
    if ctx.out_type() != c.U8:
        raise ctx.unsupported("a uint8 convolution or fully connected op needs a uint8 output")
    s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
    bias = ctx.constant(b) if has_bias_input else None
    product = np.float64(s_in) * np.float64(s_w)
    if has_bias_input and ctx.inputs[b] is not None:
        if bias is None or bias.dtype != np.int32:
            raise ctx.unsupported("bias must be a constant int32 tensor")
        if bias.size != oc:
            raise ctx.fail(f"bias has {bias.size} elements, expected {oc}")
        # GetQuantizedConvolutionMultipler: the bias scale must be about in_s * w_s.
        q = ctx.inputs[b].quantization
        bias_scale = np.float64(q.scale[0]) if q is not None else 0.0
        if abs(product - bias_scale) / np.float64(s_out) > 0.02:
            raise ctx.fail(
                f"bias scale {bias_scale} differs from input scale * filter scale {product}"
            )
    act = c.check_activation(ctx, ctx.options["fused_activation_function"])
    mult, shift = quantize_multiplier(float(product / np.float64(s_out)))
    lo, hi = c.activation_range_quantized(act, s_out, zp_out, np.uint8)
    b = np.zeros(oc, np.int64) if bias is None else bias.astype(np.int64).ravel()
    return zp_in, zp_w, mult, shift, zp_out, lo, hi, b


def _is_uint8(ctx: c.OpContext) -> bool:
    return len(ctx.inputs) > 1 and ctx.inputs[1] is not None and ctx.in_type(0) == c.U8


def prepare_conv(ctx: c.OpContext) -> c.Eval:
    if not _is_uint8(ctx):
        return conv.prepare(ctx)
    ctx.check_arity((2, 3))
    ctx.require_types((c.U8,), inputs=(0, 1), outputs=())
    o = ctx.options
    dil = (o["dilation_h_factor"], o["dilation_w_factor"])
    c.check_window(ctx, o["padding"], o["stride_h"], o["stride_w"], *dil)
    weights = ctx.constant(1)
    if weights is None or weights.ndim != 4:
        raise ctx.fail("filter must be a constant 4-D OHWI tensor")
    oc, kh, kw, ic = weights.shape
    if len(ctx.inputs) < 3 or ctx.inputs[2] is None:
        raise ctx.fail("a uint8 convolution needs a bias (as LiteRT's conv.cc requires)")
    zp_in, zp_w, mult, shift, zp_out, lo, hi, b = _uint8_params(ctx, len(ctx.inputs) > 2, oc)
    w2 = weights.reshape(oc, -1).astype(np.int64) - zp_w
    w_t = np.ascontiguousarray(w2.T.astype(np.float64))
    # sum (x - zp_x) * w = sum x * w - zp_x * sum w: the GEMM runs on the raw uint8 values.
    b_eff = b - zp_in * w2.sum(axis=1)
    geometry = (kh, kw, o["stride_h"], o["stride_w"], *dil, o["padding"])

    def compute(cols, y):
        acc = (cols @ w_t).astype(np.int64)
        acc += b_eff
        y[...] = requantize(acc, mult, shift, zp_out, lo, hi, np.uint8)

    def run(x, *_):
        win = conv._windows(ctx, x, geometry, zp_in, ic)
        return [conv.im2col_chunks(win, np.float64, compute, oc, np.uint8)]

    return run


def prepare_depthwise(ctx: c.OpContext) -> c.Eval:
    if not _is_uint8(ctx):
        return depthwise_conv.prepare(ctx)
    ctx.check_arity((2, 3))
    ctx.require_types((c.U8,), inputs=(0, 1), outputs=())
    o = ctx.options
    sh, sw = o["stride_h"], o["stride_w"]
    dh, dw = o["dilation_h_factor"], o["dilation_w_factor"]
    c.check_window(ctx, o["padding"], sh, sw, dh, dw)
    weights = ctx.constant(1)
    if weights is None or weights.ndim != 4 or weights.shape[0] != 1:
        raise ctx.fail("filter must be a constant [1, KH, KW, C] tensor")
    _, kh, kw, oc = weights.shape
    zp_in, zp_w, mult, shift, zp_out, lo, hi, b = _uint8_params(ctx, len(ctx.inputs) > 2, oc)
    w = weights[0].astype(np.float64) - zp_w  # [KH, KW, OC]

    def run(x, *_):
        if x.ndim != 4 or x.shape[3] == 0 or oc % x.shape[3]:
            raise ctx.fail(f"input {list(x.shape)} does not fit {oc} output channels")
        m = oc // x.shape[3]
        oh, pt = c.pad_before(o["padding"], x.shape[1], kh, sh, dh)
        ow, pl = c.pad_before(o["padding"], x.shape[2], kw, sw, dw)
        if oh <= 0 or ow <= 0:
            raise ctx.fail(f"input shape {list(x.shape)} is smaller than the filter window")
        c.check_alloc(ctx, (x.shape[0], oh, ow, oc), "output", 8)
        win = c.windows(x, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, zp_in)
        acc = np.zeros((x.shape[0], oh, ow, oc), np.float64)
        for i in range(kh):
            for j in range(kw):
                tap = win[:, :, :, i, j, :].astype(np.float64) - zp_in
                acc += np.repeat(tap, m, axis=3) * w[i, j]
        total = acc.astype(np.int64) + b
        return [requantize(total, mult, shift, zp_out, lo, hi, np.uint8)]

    return run


def prepare_fully_connected(ctx: c.OpContext) -> c.Eval:
    if not _is_uint8(ctx):
        return fully_connected.prepare(ctx)
    ctx.check_arity((2, 3))
    ctx.require_types((c.U8,), inputs=(0, 1), outputs=())
    o = ctx.options
    if o["weights_format"] != 0:
        raise ctx.unsupported("shuffled weights format is not supported")
    weights = ctx.constant(1)
    if weights is None or weights.ndim != 2:
        raise ctx.fail("weights must be a constant 2-D [units, depth] tensor")
    units, depth = weights.shape
    zp_in, zp_w, _, _, zp_out, lo, hi, b = _uint8_params(ctx, len(ctx.inputs) > 2, units)
    s_in = c.per_tensor_qparams(ctx, ctx.inputs[0], "input")[0]
    s_w = c.per_tensor_qparams(ctx, ctx.inputs[1], "filter")[0]
    s_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")[0]
    # Like the int8 kernel since LiteRT's 2025 change (see fully_connected.py): the int32 sum
    # times in_s * w_s / out_s in double, rounded half away, not MultiplyByQuantizedMultiplier
    # (which differs by one now and then; checked on random parameters).
    scale = np.float64(s_in) * np.float64(s_w) / np.float64(s_out)
    w_t = np.ascontiguousarray((weights.astype(np.float64) - zp_w).T)
    keep_dims = bool(o["keep_num_dims"])

    def run(x, *_):
        if x.size % depth:
            raise ctx.fail(f"input of shape {list(x.shape)} is not a multiple of depth {depth}")
        c.check_alloc(ctx, (x.size // depth, units), "output", 8)
        acc = ((x.reshape(-1, depth).astype(np.float64) - zp_in) @ w_t) + b
        y = np.clip(round_half_away(acc * scale) + zp_out, lo, hi).astype(np.uint8)
        return [y.reshape(*x.shape[:-1], units) if keep_dims else y]

    return run


def prepare_transpose_conv(ctx: c.OpContext) -> c.Eval:
    if len(ctx.inputs) < 3 or ctx.inputs[2] is None or ctx.in_type(2) != c.U8:
        return transpose_conv.prepare(ctx)
    ctx.check_arity((3, 4))
    ctx.require_types((c.U8,), inputs=(1, 2), outputs=())
    o = ctx.options
    c.check_window(ctx, o["padding"], o["stride_h"], o["stride_w"])
    weights = ctx.constant(1)
    if weights is None or weights.ndim != 4:
        raise ctx.fail("filter must be a constant 4-D OHWI tensor")
    oc = weights.shape[0]
    zp_in, zp_w, mult, shift, zp_out, lo, hi, b = _uint8_params(
        ctx, len(ctx.inputs) > 3, oc, x=2, w=1, b=3
    )
    w = weights.astype(np.float64) - zp_w
    geometry = (o["padding"], o["stride_h"], o["stride_w"])

    def run(shape, _w, x, *_):
        centered = x.astype(np.float64) - zp_in
        acc = transpose_conv._scatter(ctx, shape, centered, w, geometry, np.float64)
        total = acc.astype(np.int64) + b
        return [requantize(np.ascontiguousarray(total), mult, shift, zp_out, lo, hi, np.uint8)]

    return run
