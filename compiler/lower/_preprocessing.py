"""Lowering of the preprocessing layers Normalization, Resizing and CenterCrop.

Normalization is ``y = (x - mean) / max(sqrt(variance), epsilon)``, written as
``MUL(x, s)`` then ``ADD(., t)`` with ``s = 1 / max(sqrt(variance), epsilon)`` and
``t = -mean * s`` (``invert``: ``s = max(sqrt(variance), epsilon)``, ``t = mean``); the
FoldScaleShiftPass folds them into the next convolution or Dense where that is exact.
Resizing and CenterCrop become SLICE / PAD and TFLite's RESIZE_BILINEAR /
RESIZE_NEAREST_NEIGHBOR with ``half_pixel_centers=True``, what Keras's resize computes.
"""

from __future__ import annotations

import numpy as np

from compiler.ir import Value
from compiler.lower.context import LayerCall, Lowering

__all__ = ["lower_normalization", "lower_resizing", "lower_center_crop"]

# keras.config.epsilon(): Normalization's floor on the standard deviation.
_EPSILON = 1e-7


def _statistics(call: LayerCall, shape) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance as arrays of the broadcast shape (rank of the input, batch 1)."""
    cfg, rank = call.config, len(shape)
    axis = cfg.get("axis", [-1])
    axis = () if axis is None else (axis,) if isinstance(axis, int) else tuple(axis)
    keep = sorted(a % rank for a in axis)
    if 0 in keep:
        raise call.unsupported(f"statistics per batch position (axis={axis}) are not supported")
    broadcast = [shape[d] if d in keep else 1 for d in range(rank)]
    if cfg.get("mean") is not None:
        mean, variance = (np.asarray(cfg[k], np.float64) for k in ("mean", "variance"))
    elif len(call.weights) >= 2:  # adapted: mean, variance, count
        mean, variance = (np.asarray(w, np.float64) for w in call.weights[:2])
    else:
        raise call.unsupported("the layer has neither mean/variance in its config nor weights")
    out = []
    for value in (mean, variance):
        if value.ndim:
            expanded = [1] * rank
            for i in range(1, value.ndim + 1):
                expanded[keep[-i]] = value.shape[-i]
            value = value.reshape(expanded)
        out.append(np.broadcast_to(value, broadcast))
    return out[0], out[1]


def lower_normalization(ctx: Lowering, call: LayerCall) -> list[Value]:
    x, name = call.inputs[0], call.name
    mean, variance = _statistics(call, x.shape)
    std = np.maximum(np.sqrt(variance.astype(np.float32)), np.float32(_EPSILON))
    if call.config.get("invert"):
        scale, shift = std, mean
    else:
        scale = 1.0 / std.astype(np.float64)
        shift = -mean * scale
    # Drop the batch axis, and leading axes of size 1, from the constants.
    scale, shift = scale.reshape(scale.shape[1:]), shift.reshape(shift.shape[1:])
    while scale.ndim > 1 and scale.shape[0] == 1:
        scale, shift = scale[0], shift[0]
    y = ctx.op("MUL", [x, ctx.weight(f"{name}/scale", scale)], x.shape, f"{name}/scale")
    return [ctx.op("ADD", [y, ctx.weight(f"{name}/shift", shift)], x.shape, name)]


def _resize(ctx, call, x: Value, height: int, width: int, interpolation: str, name: str):
    op = {"bilinear": "RESIZE_BILINEAR", "nearest": "RESIZE_NEAREST_NEIGHBOR"}.get(interpolation)
    if op is None:
        raise call.unsupported(
            f"interpolation={interpolation!r} has no TFLite kernel; supported: bilinear, nearest"
        )
    size = ctx.const(f"{name}/size", np.array([height, width], np.int32))
    shape = (x.shape[0], height, width, x.shape[3])
    return ctx.op(op, [x, size], shape, name, align_corners=False, half_pixel_centers=True)


def _crop(ctx, call, x: Value, top, left, height, width, name):
    begin = ctx.const(f"{name}/begin", np.array([0, top, left, 0], np.int32))
    size = ctx.const(f"{name}/size", np.array([-1, height, width, -1], np.int32))
    return ctx.op("SLICE", [x, begin, size], (x.shape[0], height, width, x.shape[3]), name)


def _aspect_crop(h, w, th, tw):
    crop_h = max(min(h, int(float(w * th) / tw)), 1)
    crop_w = max(min(w, int(float(h * tw) / th)), 1)
    return int(float(h - crop_h) / 2), int(float(w - crop_w) / 2), crop_h, crop_w


def lower_resizing(ctx: Lowering, call: LayerCall) -> list[Value]:
    cfg, x, name = call.config, call.inputs[0], call.name
    th, tw = int(cfg["height"]), int(cfg["width"])
    if x.rank != 4 or cfg.get("antialias"):
        raise call.unsupported("only 4-D NHWC inputs without antialias are supported")
    _, h, w, _ = x.shape
    if cfg.get("crop_to_aspect_ratio"):
        top, left, ch, cw = _aspect_crop(h, w, th, tw)
        if (ch, cw) != (h, w):
            x = _crop(ctx, call, x, top, left, ch, cw, f"{name}/crop")
    elif cfg.get("pad_to_aspect_ratio"):
        rows = max(0, int(float(max(h, int(float(w * th) / tw)) - h) / 2))
        cols = 0 if rows else max(0, int(float(max(w, int(float(h * tw) / th)) - w) / 2))
        if rows or cols:
            if float(cfg.get("fill_value", 0.0)) != 0.0:
                raise call.unsupported("pad_to_aspect_ratio with a non-zero fill_value")
            pads = np.array([[0, 0], [rows, rows], [cols, cols], [0, 0]], np.int32)
            shape = (x.shape[0], h + 2 * rows, w + 2 * cols, x.shape[3])
            x = ctx.op("PAD", [x, ctx.const(f"{name}/paddings", pads)], shape, f"{name}/pad")
    return [_resize(ctx, call, x, th, tw, cfg.get("interpolation", "bilinear"), name)]


def lower_center_crop(ctx: Lowering, call: LayerCall) -> list[Value]:
    cfg, x, name = call.config, call.inputs[0], call.name
    th, tw = int(cfg["height"]), int(cfg["width"])
    if x.rank != 4:
        raise call.unsupported("only 4-D NHWC inputs are supported")
    _, h, w, _ = x.shape
    if h >= th and w >= tw:
        return [_crop(ctx, call, x, (h - th) // 2, (w - tw) // 2, th, tw, name)]
    top, left, ch, cw = _aspect_crop(h, w, th, tw)
    if (ch, cw) != (h, w):
        x = _crop(ctx, call, x, top, left, ch, cw, f"{name}/crop")
    return [_resize(ctx, call, x, th, tw, "bilinear", name)]
