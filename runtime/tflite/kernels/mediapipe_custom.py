"""MediaPipe's custom operators that LiteRT's default resolver runs (through XNNPACK):
``Convolution2DTransposeBias``, ``MaxPoolingWithArgmax2D`` and ``MaxUnpooling2D``, float32.

References: MediaPipe's ``mediapipe/util/tflite/operations/transpose_conv_bias.cc``,
``max_pool_argmax.cc``, ``max_unpooling.cc`` (the ops' definitions) and LiteRT's XNNPACK
delegate (``VisitMediaPipe*Node``). Their ``custom_options`` are not a flexbuffer but the raw
bytes of a C struct, little-endian int32 fields: ``TfLiteTransposeConvParams`` = (padding,
stride_w, stride_h, ...) and ``TfLitePoolParams`` = (padding, stride_w, stride_h, filter_w,
filter_h, activation, ...), where padding is ``TfLitePadding`` (1 SAME, 2 VALID); fields past
the end of shorter options read as 0, as the delegate's ``SafeCopyCustomData`` zero-fills.

- Convolution2DTransposeBias(input NHWC, filter OHWI, bias[O]): with SAME padding
  ``p = max(0, k - (in - 1) % s - 1)``, else 0; output ``s * (in - 1) + k - p``; each input
  pixel scatters ``filter . x`` onto output ``(y * s - p // 2 + fy, x * s - p // 2 + fx)``
  plus the bias; taps outside are dropped.
- MaxPoolingWithArgmax2D(input) -> (max, index): TFLite's max pool (output size and padding
  as MAX_POOL_2D) whose second output is, in float32, the position of the first maximum in its
  window, ``fy * filter_w + fx + 0.1`` (the 0.1 keeps the float's truncation exact). A window
  whose values are all <= float32's lowest (or NaN) gives lowest and index 0.1.
- MaxUnpooling2D(values, index) -> output of ``in * filter`` per spatial dim, zeros except at
  each value's decoded position ``(y * s - pad + idx // filter_w, x * s - pad + idx % filter_w)``
  (C truncating division of ``int(index)``); positions outside the output, and indices that
  are not finite int32 values, are skipped; a later value overwrites an earlier one.

LiteRT's XNNPACK path writes the argmax index as a raw uint32 into the float32 tensor and reads
it back the same way in MaxUnpooling2D; pooled values and unpooled outputs agree with it, the
index tensor's bits follow MediaPipe's float definition.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c
from runtime.tflite.schema import Padding

_SAME, _VALID = 1, 2  # TfLitePadding
_LOWEST = np.finfo(np.float32).min


def _struct(ctx: c.OpContext, names: tuple[str, ...]) -> dict:
    """The leading int32 fields of a C params struct stored as custom_options."""
    raw = ctx.op.custom_options or b""
    raw = raw[: 4 * len(names)].ljust(4 * len(names), b"\0")
    values = np.frombuffer(raw, dtype="<i4").tolist()
    return dict(zip(names, values))


def _padding(ctx: c.OpContext, p: dict) -> int:
    if p["padding"] not in (_SAME, _VALID):
        raise ctx.fail(f"custom_options padding {p['padding']} is neither SAME (1) nor VALID (2)")
    return p["padding"]


def _float_nhwc(ctx: c.OpContext, k: int, x: np.ndarray) -> None:
    if x.ndim != 4:
        raise ctx.fail(f"input {k} must be 4-D NHWC, has shape {list(x.shape)}")


def prepare_transpose_conv_bias(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(3)
    ctx.require_types((c.F32,), inputs=(0, 1, 2), outputs=(0,))
    p = _struct(ctx, ("padding", "stride_w", "stride_h"))
    padding = _padding(ctx, p)
    sh, sw = p["stride_h"], p["stride_w"]
    if sh < 1 or sw < 1:
        raise ctx.fail(f"strides ({sh}, {sw}) must be >= 1")
    weights, bias = ctx.constant(1), ctx.constant(2)
    if weights is None or bias is None:
        raise ctx.unsupported("filter and bias must be constant tensors")
    if weights.ndim != 4 or bias.shape != (weights.shape[0],):
        raise ctx.fail(
            f"filter {list(weights.shape)} must be OHWI and bias {list(bias.shape)} hold O values"
        )
    oc, kh, kw, ic = weights.shape

    def geometry(size, k, s):
        pad = max(0, k - (size - 1) % s - 1) if padding == _SAME else 0
        return s * (size - 1) + k - pad, pad // 2

    def run(x, _w, _b):
        _float_nhwc(ctx, 0, x)
        n, h, w, depth = x.shape
        if depth != ic or h < 1 or w < 1:
            raise ctx.fail(f"input {list(x.shape)} does not fit filter {list(weights.shape)}")
        oh, pad_h = geometry(h, kh, sh)
        ow, pad_w = geometry(w, kw, sw)
        ch, cw = max((h - 1) * sh + kh, pad_h + oh), max((w - 1) * sw + kw, pad_w + ow)
        c.check_alloc(ctx, (n, ch, cw, oc), "scatter buffer")
        canvas = np.zeros((n, ch, cw, oc), np.float32)
        xs = x.reshape(-1, ic)
        for fy in range(kh):
            for fx in range(kw):
                tap = (xs @ weights[:, fy, fx, :].T).reshape(n, h, w, oc)
                canvas[:, fy : fy + (h - 1) * sh + 1 : sh, fx : fx + (w - 1) * sw + 1 : sw] += tap
        out = canvas[:, pad_h : pad_h + oh, pad_w : pad_w + ow] + bias
        return [np.ascontiguousarray(out, np.float32)]

    return run


def _pool_params(ctx: c.OpContext) -> tuple:
    p = _struct(ctx, ("padding", "stride_w", "stride_h", "filter_w", "filter_h", "activation"))
    padding = _padding(ctx, p)
    if min(p["stride_w"], p["stride_h"], p["filter_w"], p["filter_h"]) < 1:
        raise ctx.fail(
            f"strides ({p['stride_h']}, {p['stride_w']}) and filter ({p['filter_h']}, "
            f"{p['filter_w']}) must be >= 1"
        )
    act = c.check_activation(ctx, p["activation"])
    return padding, p["stride_h"], p["stride_w"], p["filter_h"], p["filter_w"], act


def prepare_max_pool_argmax(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1, 2)
    ctx.require_types((c.F32,), inputs=(0,), outputs=(0, 1))
    padding, sh, sw, kh, kw, act = _pool_params(ctx)
    tfl_padding = Padding.SAME if padding == _SAME else Padding.VALID
    offset = np.float32(0.1)

    def run(x):
        _float_nhwc(ctx, 0, x)
        n, h, w, depth = x.shape
        oh, pt = c.pad_before(tfl_padding, h, kh, sh, 1)
        ow, pl = c.pad_before(tfl_padding, w, kw, sw, 1)
        if oh <= 0 or ow <= 0:
            raise ctx.fail(f"input shape {list(x.shape)} is smaller than the pool window")
        c.check_alloc(ctx, (n, oh, ow, kh, kw, depth), "pooling windows")
        clean = np.where(np.isnan(x), np.float32(-np.inf), x)
        win = c.windows(clean, kh, kw, sh, sw, 1, 1, pt, pl, oh, ow, -np.inf)
        win = win.reshape(n, oh, ow, kh * kw, depth)
        best = win.max(axis=3)
        index = np.argmax(win == best[:, :, :, None], axis=3)  # first maximum
        empty = best <= _LOWEST
        best = np.where(empty, _LOWEST, best).astype(np.float32)
        index = np.where(empty, 0, index).astype(np.float32) + offset
        return [c.apply_float_activation(best, act), index.astype(np.float32)]

    return run


def prepare_max_unpooling(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(2)
    ctx.require_types((c.F32,), inputs=(0, 1), outputs=(0,))
    _, sh, sw, kh, kw, _ = _pool_params(ctx)

    def pad(out_size, size, k, s):
        return max(((size - 1) * s + k - out_size) // 2, 0)

    def run(values, indices):
        _float_nhwc(ctx, 0, values)
        if indices.shape != values.shape:
            raise ctx.fail(
                f"indices {list(indices.shape)} and values {list(values.shape)} differ in shape"
            )
        n, h, w, depth = values.shape
        oh, ow = h * kh, w * kw
        c.check_alloc(ctx, (n, oh, ow, depth), "output")
        pad_h, pad_w = pad(oh, h, kh, sh), pad(ow, w, kw, sw)
        usable = np.isfinite(indices) & (np.abs(indices) < 2.0**31)
        idx = np.trunc(np.where(usable, indices, 0)).astype(np.int64)
        # C's truncating / and % on possibly negative indices.
        quot = np.sign(idx) * (np.abs(idx) // kw)
        rem = idx - quot * kw
        b, y, x, ch = np.indices(values.shape, sparse=True)
        out_y = y * sh - pad_h + quot
        out_x = x * sw - pad_w + rem
        keep = usable & (out_y >= 0) & (out_y < oh) & (out_x >= 0) & (out_x < ow)
        flat = ((b * oh + out_y) * ow + out_x) * depth + ch
        flat, src = flat[keep], values[keep]
        # Sequential writes in NHWC order: the last value written to a position stays.
        _, last_from_end = np.unique(flat[::-1], return_index=True)
        chosen = len(flat) - 1 - last_from_end
        out = np.zeros(n * oh * ow * depth, np.float32)
        out[flat[chosen]] = src[chosen]
        return [out.reshape(n, oh, ow, depth)]

    return run
