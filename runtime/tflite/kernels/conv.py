"""CONV_2D: float32, int8 (per-channel reference kernel), 16x8 (int16 input, int8 weights, int64
bias; ``_int16``) and hybrid (float input, int8 weights).

References: ``tflite/kernels/conv.cc``; ``reference/integer_ops/conv.h`` (``ConvPerChannel``);
``reference/conv.h`` (``HybridConvPerChannel``); spec sections 2.4, 2.6, 2.7.1. Filter layout
OHWI. Integer GEMMs run in float64 (or float32 when the bound below proves every partial sum
stays under 2^24), which is exact for int8 products. int8 requantization is folded into the
GEMM's float arithmetic where ``_folded_requant`` proves it exact, else integer (or
``float_requantizer``).
"""

from __future__ import annotations

import math

import numpy as np

from runtime._budget import check_elements, fits
from runtime._parallel import run_chunks
from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels._fixed_point import (
    FLOAT_REQUANTIZE_MAX_ELEMENTS,
    float_requantizer,
    quantize_multipliers,
    requantize,
)
from runtime.tflite.kernels._folded_requant import fold_requantization
from runtime.tflite.kernels._hybrid import quantize_rows_asymmetric
from runtime.tflite.kernels._int16 import requantize_accumulator


def exact_gemm_dtype(weights_abs_rowsum_max: float, max_abs_input: float = 256.0):
    """float32 when every partial sum of an integer GEMM is below 2^24 (then exact), else
    float64 (exact below 2^53)."""
    return np.float32 if weights_abs_rowsum_max * max_abs_input < 2**24 else np.float64


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
    if weights is None:
        raise ctx.unsupported("filter must be a constant tensor")
    if weights.ndim != 4:
        raise ctx.fail(f"filter must be 4-D OHWI, has shape {list(weights.shape)}")
    oc, kh, kw, ic = weights.shape
    bias = ctx.constant(2) if len(ctx.inputs) > 2 else None
    if len(ctx.inputs) > 2 and ctx.inputs[2] is not None and bias is None:
        raise ctx.unsupported("bias must be a constant tensor")
    if bias is not None and bias.size != oc:
        raise ctx.fail(f"bias has {bias.size} elements, expected {oc} (output channels)")
    geometry = (
        kh,
        kw,
        o["stride_h"],
        o["stride_w"],
        o["dilation_h_factor"],
        o["dilation_w_factor"],
        o["padding"],
    )
    in_type = ctx.in_type(0)
    if in_type == c.F32 and ctx.in_type(1) == c.F32:
        return _float(ctx, weights, bias, geometry, act)
    if in_type == c.I8 and ctx.in_type(1) == c.I8:
        return _int8(ctx, weights, bias, geometry, act)
    if in_type == c.F32 and ctx.in_type(1) == c.I8:
        return _hybrid(ctx, weights, bias, geometry, act)
    if in_type == c.I16 and ctx.in_type(1) == c.I8:
        return _int16(ctx, weights, bias, geometry, act)
    raise ctx.unsupported(f"input/filter types {in_type}/{ctx.in_type(1)} not supported")


# Rows of the im2col matrix handled per GEMM: large enough for BLAS, small enough that the
# patch block and its result stay in cache while they are requantized.
CHUNK_ROWS = 8192

# Depth (KH*KW*IC) above which a folded int8 convolution runs its GEMM in float32 on the integer
# weights and scales and offsets the result in two passes: the float64 GEMM on the scaled
# weights and the offset saves them, but past this depth its slower multiply-adds cost more
# (median over 16-784 rows and 16-128 channels, measured on AVX2).
F64_GEMM_MAX_DEPTH = 48


def _windows(ctx, x, geometry, fill, ic):
    kh, kw, sh, sw, dh, dw, padding = geometry
    if x.ndim != 4 or x.shape[3] % ic:
        raise ctx.fail(f"input shape {list(x.shape)} does not fit filter input depth {ic}")
    if x.shape[3] != ic:
        raise ctx.unsupported("grouped convolution is not supported")
    oh, pt = c.pad_before(padding, x.shape[1], kh, sh, dh)
    ow, pl = c.pad_before(padding, x.shape[2], kw, sw, dw)
    if oh <= 0 or ow <= 0:
        raise ctx.fail(f"input shape {list(x.shape)} is smaller than the filter window")
    # im2col runs one chunk of images at a time: one image's patches (in float64 at most)
    # bound its buffers.
    c.check_alloc(ctx, (oh, ow, kh, kw, ic), "im2col buffer of one image", 8)
    xp = padded(
        x, (oh - 1) * sh + (kh - 1) * dh + 1, (ow - 1) * sw + (kw - 1) * dw + 1, pt, pl, fill
    )
    s0, s1, s2, s3 = xp.strides
    strides = (s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3)
    return np.ndarray((x.shape[0], oh, ow, kh, kw, ic), xp.dtype, xp, 0, strides)


def padded(x, need_h, need_w, pt, pl, fill, dtype=None):
    """NHWC ``x`` at rows ``pt`` and columns ``pl`` of a C-contiguous array at least
    (N, need_h, need_w, C), of ``dtype`` (``x``'s by default), ``fill`` elsewhere (``x`` itself
    when it needs neither padding nor a copy). Windows are then views through its strides."""
    n, h, w, ch = x.shape
    need_h, need_w = max(need_h, h + pt), max(need_w, w + pl)
    dtype = x.dtype if dtype is None else np.dtype(dtype)
    if need_h == h and need_w == w:
        return np.ascontiguousarray(x, dtype=dtype)
    check_elements((n, need_h, need_w, ch), "padded input", dtype.itemsize)
    xp = np.full((n, need_h, need_w, ch), fill, dtype)
    xp[:, pt : pt + h, pl : pl + w] = x
    return xp


def pointwise_rows(x, geometry, ic: int, oc: int, itemsize: int):
    """The input pixels a 1x1 window reads, as an (R, IC) matrix, and the output shape, when the
    whole convolution is one GEMM chunk (else None): such a window needs no padding at any
    stride. The result (``itemsize`` bytes per element) is checked against the run's limits."""
    kh, kw, sh, sw = geometry[:4]
    if kh != 1 or kw != 1 or x.ndim != 4 or x.shape[3] != ic:
        return None
    pixels = x if sh == sw == 1 else x[:, ::sh, ::sw]
    n, oh, ow = pixels.shape[:3]
    if n * oh * ow > CHUNK_ROWS:
        return None
    check_elements((n, oh, ow, oc), "convolution result", itemsize)
    return pixels.reshape(n * oh * ow, ic), (n, oh, ow, oc)


# Rows (output pixels) of a one-input-channel chunk from which im2col copies tap by tap (long
# contiguous rows, a call per tap) rather than the whole window view at once (measured on AVX2).
TAP_COPY_MIN_ROWS = 1024


def im2col_chunks(win, dtype, compute, oc, out_dtype):
    """Apply ``compute(cols [R, K], out [R, oc])`` over an im2col view in image chunks.

    ``cols`` keeps the window's dtype (a view where the layout allows, e.g. a 1x1 window at
    stride 1), except for large one-channel chunks, copied tap by tap into ``dtype``;
    ``compute``'s matmul converts the rest.
    """
    n, oh, ow = win.shape[:3]
    k = win.shape[3] * win.shape[4] * win.shape[5]
    check_elements((n, oh, ow, oc), "convolution output", np.dtype(out_dtype).itemsize)
    out = np.empty((n, oh, ow, oc), out_dtype)
    per = max(1, CHUNK_ROWS // max(oh * ow, 1))

    def chunk(s):
        block = win[s : s + per]
        if win.shape[5] == 1 and block.shape[0] * oh * ow >= TAP_COPY_MIN_ROWS:
            taps = np.empty((k,) + block.shape[:3], dtype)
            for i in range(win.shape[3]):
                for j in range(win.shape[4]):
                    taps[i * win.shape[4] + j] = block[:, :, :, i, j, 0]
            cols = taps.reshape(k, -1).T
        else:
            cols = block.reshape(-1, k)
        # out is C-contiguous, so a slice along the batch axis is a contiguous block that
        # ``compute`` fills in place (no extra pass over the output).
        compute(cols, out[s : s + per].reshape(-1, oc))

    if n <= per:
        chunk(0)
    else:
        run_chunks(chunk, range(0, n, per))
    return out


def _float(ctx, weights, bias, geometry, act):
    ctx.require_types((c.F32,), inputs=(0, 1), outputs=(0,))
    w = np.ascontiguousarray(weights.reshape(weights.shape[0], -1).T, dtype=np.float32)
    b = None if bias is None else bias.astype(np.float32)
    clamp = c.float_clamp(act)  # (NONE too: an overflow is +-FLT_MAX, as LiteRT)
    oc, ic = weights.shape[0], weights.shape[3]

    def compute(cols, y):
        np.matmul(cols, w, out=y)
        if b is not None:
            y += b
        clamp(y)

    def run(x, *_):
        pointwise = pointwise_rows(x, geometry, ic, oc, 4)
        if pointwise is not None:
            rows, shape = pointwise
            y = np.empty(shape, np.float32)
            compute(rows, y.reshape(-1, oc))
            return [y]
        win = _windows(ctx, x, geometry, 0.0, ic)
        return [im2col_chunks(win, np.float32, compute, oc, np.float32)]

    return run


def _int8(ctx, weights, bias, geometry, act):
    s_in, zp_in = c.per_tensor_qparams(ctx, ctx.inputs[0], "input")
    s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
    if ctx.out_type() != c.I8:
        raise ctx.unsupported("int8 convolution must have an int8 output")
    wq = ctx.inputs[1].quantization
    oc = weights.shape[0]
    if wq is None or len(wq.scale) not in (1, oc):
        raise ctx.fail(f"filter needs 1 or {oc} scales")
    if np.any(wq.zero_point != 0):
        raise ctx.fail("filter zero points must all be 0")
    if bias is not None and bias.dtype != np.int32:
        raise ctx.unsupported("int8 convolution needs an int32 bias")
    w_scale = np.broadcast_to(wq.scale.astype(np.float64), (oc,))
    # PopulateConvolutionQuantizationParams: double from float32 scales.
    mult, shift = quantize_multipliers(np.float64(s_in) * w_scale / np.float64(s_out))
    lo, hi = c.activation_range_quantized(act, s_out, zp_out)
    w2 = weights.reshape(oc, -1).astype(np.int64)
    # sum_k w*(x - zp) = sum_k w*x - zp*sum_k w: the GEMM runs on raw int8 values (|x| <= 128).
    gemm = exact_gemm_dtype(float(np.abs(w2).sum(axis=1).max(initial=0)), 128.0)
    w_t = np.ascontiguousarray(w2.T.astype(gemm))
    b = np.zeros(oc, np.int64) if bias is None else bias.astype(np.int64)
    b_eff = b - zp_in * w2.sum(axis=1)
    ic = weights.shape[3]
    folded = fold_requantization(mult, shift, b_eff, np.abs(w2).sum(axis=1), zp_out, lo, hi)
    if folded is not None:
        return _int8_folded(ctx, w2, folded, geometry, zp_in)
    # |acc| <= 128 * sum|w| + |b_eff| per channel (raw int8 inputs): the float64 requantizer
    # is exact below its bound, and then no pass converts the GEMM's result to int64.
    acc_bound = 128.0 * np.abs(w2).sum(axis=1) + np.abs(b_eff)
    requant = float_requantizer(mult, shift, acc_bound, zp_out, lo, hi)
    b_float = b_eff.astype(np.float64)

    def compute(cols, y):
        if requant is not None and cols.shape[0] * oc <= FLOAT_REQUANTIZE_MAX_ELEMENTS:
            acc = cols @ w_t
            if acc.dtype == np.float64:
                acc += b_float
            else:
                acc = np.add(acc, b_float, dtype=np.float64)
            y[...] = requant(acc)
            return
        acc = (cols @ w_t).astype(np.int64)
        acc += b_eff
        y[...] = requantize(acc, mult, shift, zp_out, lo, hi)

    def run(x, *_):
        # Out-of-image taps are skipped by the kernel: padding with zp_in makes them zero.
        win = _windows(ctx, x, geometry, zp_in, ic)
        return [im2col_chunks(win, gemm, compute, oc, np.int8)]

    return run


def _int8_folded(ctx, w2, folded, geometry, zp_in):
    """int8 convolution as one exact GEMM per chunk, then ``folded.finish``: in float64 on the
    scaled weights with the offset as one more row (against a column of ones), or, for deep
    windows, in float32 on the integer weights, then scaled and offset in float64."""
    oc, depth = w2.shape
    kh, kw = geometry[:2]
    ic = depth // (kh * kw)
    deep = depth > F64_GEMM_MAX_DEPTH
    if deep:  # exact in float32 under the folding's bound
        w_t = np.ascontiguousarray(w2.T, dtype=np.float32)
    else:
        w_t = np.concatenate([w2.T * folded.scale, folded.offset[None, :]])

    def accumulate(cols):
        if deep:
            acc = np.multiply(cols @ w_t, folded.scale, dtype=np.float64)
            acc += folded.offset
            return acc
        aug = np.empty((cols.shape[0], depth + 1))
        aug[:, depth] = 1.0
        aug[:, :depth] = cols
        return aug @ w_t

    def compute(cols, y):
        folded.finish(accumulate(cols), out=y)

    small = {}  # input shape -> _SmallPlan, for inputs that run as one shallow GEMM

    def run(x, *_):
        plan = small.get(x.shape)
        if plan is not None and x.dtype == np.int8 and plan.ready():
            return [plan.run(x, w_t, folded)]
        pointwise = pointwise_rows(x, geometry, ic, oc, 8)  # the float64 accumulator
        if pointwise is not None:
            rows, shape = pointwise
            return [folded.finish(accumulate(rows)).reshape(shape)]
        # Out-of-image taps are skipped by the kernel: padding with zp_in makes them zero.
        win = _windows(ctx, x, geometry, zp_in, ic)
        if plan is None and not deep and _SmallPlan.wanted(x.shape, win.shape):
            if len(small) > 16:  # (a model resized again and again)
                small.clear()
            small[x.shape] = _SmallPlan(x.shape, win.shape, geometry, zp_in, oc)
        return [im2col_chunks(win, np.float32, compute, oc, np.int8)]

    return run


class _SmallPlan:
    """A shallow folded int8 convolution of one input shape that is a single small GEMM, its
    geometry worked out once (the first run, through the general path, checked the shape).

    Each run copies the input, converted to float64, into a padded buffer (a copy of a
    template: the fill everywhere and one 1.0 past the end), and gathers the GEMM's augmented
    matrix (the window's taps, then the 1.0 that multiplies the offset row) with one ``take``
    through indices made here: three numpy calls where strided window copies took several
    times longer on such inputs. Buffers are made per call: sliced batches run the same kernel
    in several threads."""

    def __init__(self, x_shape, win_shape, geometry, fill, oc: int):
        n, h, w, ic = x_shape
        _, oh, ow, kh, kw, _ = win_shape
        sh, sw, dh, dw, padding = geometry[2:]
        _, pt = c.pad_before(padding, h, kh, sh, dh)
        _, pl = c.pad_before(padding, w, kw, sw, dw)
        need_h = max((oh - 1) * sh + (kh - 1) * dh + 1, h + pt)
        need_w = max((ow - 1) * sw + (kw - 1) * dw + 1, w + pl)
        size = n * need_h * need_w * ic
        self.template = np.full(size + 1, float(fill))
        self.template[size] = 1.0
        self.template.flags.writeable = False
        e = 8  # float64
        self.x_shape = x_shape
        self.x_offset = (pt * need_w + pl) * ic * e
        self.x_strides = (need_h * need_w * ic * e, need_w * ic * e, ic * e, e)
        # flat index of each window tap in the padded buffer, then of the 1.0
        flat = np.arange(size).reshape(n, need_h, need_w, ic)
        s0, s1, s2, s3 = flat.strides
        taps = np.ndarray(
            win_shape, flat.dtype, flat, 0, (s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3)
        )
        self.rows = rows = n * oh * ow
        depth = kh * kw * ic
        self.index = np.empty((rows, depth + 1), np.intp)
        self.index[:, :depth] = taps.reshape(rows, depth)
        self.index[:, depth] = size
        self.out_shape = (n, oh, ow, oc)
        # the budget's test on each call (it depends on what the run holds now)
        self.sizes = ((size + 1) * e, rows * (depth + 1) * e, rows * oc * (e + 1))

    @staticmethod
    def wanted(x_shape, win_shape) -> bool:
        """Whether a plan for this input and its windows is small enough to keep (its
        template and index array) and one GEMM chunk."""
        n, oh, ow, kh, kw, ic = win_shape
        rows = n * oh * ow
        return (
            rows <= CHUNK_ROWS
            and rows * (kh * kw * ic + 1) <= SMALL_PLAN_MAX_ELEMENTS
            and math.prod(x_shape) <= SMALL_PLAN_MAX_ELEMENTS
        )

    def ready(self) -> bool:
        """Whether a run fits the budget now."""
        return all(fits(b) for b in self.sizes)

    def run(self, x, w_t, folded):
        buf = self.template.copy()
        np.copyto(np.ndarray(self.x_shape, np.float64, buf, self.x_offset, self.x_strides), x)
        out = np.empty(self.out_shape, np.int8)
        folded.finish(buf.take(self.index) @ w_t, out=out.reshape(self.rows, -1))
        return out


# Largest augmented matrix (rows x (depth + 1)) a ``_SmallPlan`` gathers: its index array, kept
# per input shape, is 8 bytes an element (512 KiB here).
SMALL_PLAN_MAX_ELEMENTS = 1 << 16


def int16_bias(ctx, bias, what: str) -> bool:
    """Checks a 16x8 bias; True when it is int32 (``quantized_bias_type`` INT32), for which
    the kernel accumulates in int32. Without that option LiteRT reads the bias as int64."""
    if bias is None:
        return False
    declared = ctx.options.get("quantized_bias_type", 0)
    if bias.dtype == np.int64 and declared in (0, c.I64):
        return False
    if bias.dtype == np.int32 and declared == c.I32:
        return True
    raise ctx.unsupported(
        f"16x8 {what} needs an int64 bias (or int32 with quantized_bias_type INT32); "
        f"has {bias.dtype} with quantized_bias_type {declared}"
    )


def int16_scales(ctx, oc: int, what: str, weights_need: str) -> tuple[np.ndarray, float]:
    """``(s_in * s_w / s_out per output channel, s_out)`` of a 16x8 convolution or fully
    connected op, after checking its symmetric int16 input and output and int8 weights."""
    s_in, zp_in = c.per_tensor_qparams(ctx, ctx.inputs[0], "input")
    s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
    if ctx.out_type() != c.I16:
        raise ctx.unsupported(f"16x8 {what} must have an int16 output")
    if zp_in != 0 or zp_out != 0:
        raise ctx.fail(f"int16 input and output zero points must be 0, are {zp_in}, {zp_out}")
    wq = ctx.inputs[1].quantization
    if wq is None or len(wq.scale) not in (1, oc) or np.any(wq.zero_point != 0):
        raise ctx.fail(f"{weights_need} 1 or {oc} scales with zero points 0")
    w_scale = np.broadcast_to(wq.scale.astype(np.float64), (oc,))
    return np.float64(s_in) * w_scale / np.float64(s_out), s_out


def int16_multipliers(ctx, oc: int, act: int):
    """Per-channel multipliers of a 16x8 convolution (symmetric int16 in and out)."""
    scale, s_out = int16_scales(ctx, oc, "convolution", "filter needs")
    mult, shift = quantize_multipliers(scale)
    lo, hi = c.activation_range_quantized(act, s_out, 0, np.int16)
    return mult, shift, lo, hi


def _int16(ctx, weights, bias, geometry, act):
    # reference_integer_ops::ConvPerChannel<int64>: sum of w * x (zero points are 0), plus
    # the bias, scaled by the int64 MultiplyByQuantizedMultiplier.
    oc, ic = weights.shape[0], weights.shape[3]
    int32_bias = int16_bias(ctx, bias, "convolution")
    mult, shift, lo, hi = int16_multipliers(ctx, oc, act)
    w_t = np.ascontiguousarray(weights.reshape(oc, -1).T.astype(np.float64))
    b = np.zeros(oc, np.int64) if bias is None else bias.astype(np.int64)

    def compute(cols, y):
        acc = (cols @ w_t).astype(np.int64) + b
        y[...] = np.clip(requantize_accumulator(acc, mult, shift, int32_bias), lo, hi)

    def run(x, *_):
        win = _windows(ctx, x, geometry, 0, ic)
        return [im2col_chunks(win, np.float64, compute, oc, np.int16)]

    return run


def _gemm_into(w_t):
    def compute(cols, y):
        y[...] = cols @ w_t

    return compute


def _hybrid(ctx, weights, bias, geometry, act):
    if ctx.out_type() != c.F32:
        raise ctx.unsupported("hybrid convolution must have a float32 output")
    wq = ctx.inputs[1].quantization
    oc = weights.shape[0]
    if wq is None or len(wq.scale) != oc or len(wq.scale) == 1 and oc != 1:
        raise ctx.unsupported("hybrid convolution needs per-channel filter scales")
    w_scale = wq.scale.astype(np.float32)
    w_t = np.ascontiguousarray(weights.reshape(oc, -1).T.astype(np.float64))
    b = None if bias is None else bias.astype(np.float32)
    lo, hi = c.activation_range_float(act)
    ic = weights.shape[3]

    def run(x, *_):
        n = x.shape[0]
        q, sf, offset = quantize_rows_asymmetric(x.reshape(n, -1))
        q = q.reshape(x.shape).astype(np.int16) - offset.reshape(n, 1, 1, 1)
        # HybridConvPerChannel skips out-of-image taps: pad (x - offset) with 0.
        win = _windows(ctx, q, geometry, 0, ic)
        acc = im2col_chunks(win, np.float64, _gemm_into(w_t), oc, np.float32)
        y = (acc * w_scale) * sf[:, None, None, None]
        if b is not None:
            y = y + b
        return [np.clip(y, np.float32(lo), np.float32(hi)).astype(np.float32)]

    return run
