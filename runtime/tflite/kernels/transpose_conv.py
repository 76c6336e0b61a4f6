"""TRANSPOSE_CONV: float32, int8 (per-channel) and 16x8 (int16 input, int8 filter).

References: ``tflite/kernels/transpose_conv.cc``; ``reference/transpose_conv.h`` and
``reference/integer_ops/transpose_conv.h``. Inputs ``(output_shape, filter OHWI, input,
bias?)``. Each input pixel scatters ``filter[:, fy, fx, :] . input`` onto output pixel
``(y * stride - pad + fy, x * stride - pad + fx)``; taps outside the output are dropped. The
pad comes from the output size, as a convolution of the output would pad
(``ComputePaddingHeightWidth``). int8: int32 sums of ``(x - zp_in) * w`` plus the bias,
requantized per output channel (``MultiplyByQuantizedMultiplier``), plus ``zp_out``, clamped to
the fused activation's range. The integer sums are exact in int64 whatever their order.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels._fixed_point import quantize_multipliers, requantize
from runtime.tflite.kernels._int16 import requantize_accumulator
from runtime.tflite.kernels.conv import int16_bias


def prepare(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity((3, 4))
    o = ctx.options
    c.check_window(ctx, o["padding"], o["stride_h"], o["stride_w"])
    act = c.check_activation(ctx, o.get("fused_activation_function", 0))
    weights = ctx.constant(1)
    if weights is None:
        raise ctx.unsupported("filter must be a constant tensor")
    if weights.ndim != 4:
        raise ctx.fail(f"filter must be 4-D OHWI, has shape {list(weights.shape)}")
    oc = weights.shape[0]
    has_bias = len(ctx.inputs) > 3 and ctx.inputs[3] is not None
    bias = ctx.constant(3) if has_bias else None
    if has_bias and bias is None:
        raise ctx.unsupported("bias must be a constant tensor")
    if bias is not None and bias.size != oc:
        raise ctx.fail(f"bias has {bias.size} elements, expected {oc} (output channels)")
    geometry = (o["padding"], o["stride_h"], o["stride_w"])
    in_type = ctx.in_type(2)
    if in_type == c.F32 and ctx.in_type(1) == c.F32:
        return _float(ctx, weights, bias, geometry, act)
    if in_type == c.I8 and ctx.in_type(1) == c.I8:
        return _int8(ctx, weights, bias, geometry, act)
    if in_type == c.I16 and ctx.in_type(1) == c.I8:
        return _int16(ctx, weights, bias, geometry, act)
    raise ctx.unsupported(f"input/filter types {in_type}/{ctx.in_type(1)} not supported")


def _scatter(ctx, shape, x, weights, geometry, dtype):
    """Sums of ``x . filter`` at each output pixel (before bias), in ``dtype``."""
    padding, sh, sw = geometry
    shape = [int(d) for d in np.asarray(shape).reshape(-1)]
    oc, kh, kw, ic = weights.shape
    if len(shape) != 4 or x.ndim != 4 or x.shape[3] != ic:
        raise ctx.fail(
            f"output_shape {shape}, input {list(x.shape)} and filter {list(weights.shape)} "
            "do not agree"
        )
    n, h, w, _ = x.shape
    if shape[0] != n or shape[3] != oc or min(shape[1:3]) <= 0:
        raise ctx.fail(f"output_shape {shape} does not fit input batch {n}, filter depth {oc}")
    oh, ow = shape[1], shape[2]
    pad_h = c.pad_before(padding, oh, kh, sh, 1)[1]
    pad_w = c.pad_before(padding, ow, kw, sw, 1)[1]
    ch, cw = max((h - 1) * sh + kh, pad_h + oh), max((w - 1) * sw + kw, pad_w + ow)
    c.check_alloc(ctx, (n, ch, cw, oc), "scatter buffer", 8)
    canvas = np.zeros((n, ch, cw, oc), dtype)
    xs = x.astype(dtype).reshape(-1, ic)
    for fy in range(kh):
        for fx in range(kw):
            tap = (xs @ weights[:, fy, fx, :].T.astype(dtype)).reshape(n, h, w, oc)
            canvas[:, fy : fy + (h - 1) * sh + 1 : sh, fx : fx + (w - 1) * sw + 1 : sw] += tap
    return canvas[:, pad_h : pad_h + oh, pad_w : pad_w + ow]


def _float(ctx, weights, bias, geometry, act):
    ctx.require_types((c.F32,), inputs=(2,), outputs=(0,))
    w = weights.astype(np.float32)
    b = None if bias is None else bias.astype(np.float32)

    def run(shape, _w, x, *_):
        y = _scatter(ctx, shape, x, w, geometry, np.float32)
        if b is not None:
            y = y + b
        return [c.apply_float_activation(np.ascontiguousarray(y, np.float32), act)]

    return run


def _int16(ctx, weights, bias, geometry, act):
    # 16x8: reference_integer_ops::TransposeConv with an int64 scratch buffer and bias (int32
    # with quantized_bias_type INT32), symmetric int16 input and output.
    s_in, zp_in = c.per_tensor_qparams(ctx, ctx.inputs[2], "input")
    s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
    if ctx.out_type() != c.I16:
        raise ctx.unsupported("16x8 transposed convolution must have an int16 output")
    if zp_in or zp_out:
        raise ctx.fail(f"int16 input and output zero points must be 0, are {zp_in}, {zp_out}")
    oc = weights.shape[0]
    wq = ctx.inputs[1].quantization
    if wq is None or len(wq.scale) not in (1, oc) or np.any(wq.zero_point != 0):
        raise ctx.fail(f"filter needs 1 or {oc} scales with zero points 0")
    int32_bias = int16_bias(ctx, bias, "transposed convolution")
    w_scale = np.broadcast_to(wq.scale.astype(np.float64), (oc,))
    mult, shift = quantize_multipliers(np.float64(s_in) * w_scale / np.float64(s_out))
    lo, hi = c.activation_range_quantized(act, s_out, 0, np.int16)
    w = weights.astype(np.int64)
    b = np.zeros(oc, np.int64) if bias is None else bias.astype(np.int64)

    def run(shape, _w, x, *_):
        acc = _scatter(ctx, shape, x, w, geometry, np.float64).astype(np.int64) + b
        y = requantize_accumulator(np.ascontiguousarray(acc), mult, shift, int32_bias)
        return [np.clip(y, lo, hi).astype(np.int16)]

    return run


def _int8(ctx, weights, bias, geometry, act):
    s_in, zp_in = c.per_tensor_qparams(ctx, ctx.inputs[2], "input")
    s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
    if ctx.out_type() != c.I8:
        raise ctx.unsupported("int8 transposed convolution must have an int8 output")
    wq = ctx.inputs[1].quantization
    oc = weights.shape[0]
    if wq is None or len(wq.scale) not in (1, oc):
        raise ctx.fail(f"filter needs 1 or {oc} scales")
    if np.any(wq.zero_point != 0):
        raise ctx.fail("filter zero points must all be 0")
    if bias is not None and bias.dtype != np.int32:
        raise ctx.unsupported("int8 transposed convolution needs an int32 bias")
    w_scale = np.broadcast_to(wq.scale.astype(np.float64), (oc,))
    mult, shift = quantize_multipliers(np.float64(s_in) * w_scale / np.float64(s_out))
    lo, hi = c.activation_range_quantized(act, s_out, zp_out)
    w = weights.astype(np.int64)
    b = np.zeros(oc, np.int64) if bias is None else bias.astype(np.int64)

    def run(shape, _w, x, *_):
        # float64 GEMMs of int8 values are exact (|sums| far below 2^53).
        centered = x.astype(np.float64) - zp_in
        acc = _scatter(ctx, shape, centered, w, geometry, np.float64).astype(np.int64)
        acc += b
        return [requantize(np.ascontiguousarray(acc), mult, shift, zp_out, lo, hi)]

    return run
