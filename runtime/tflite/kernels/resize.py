"""RESIZE_NEAREST_NEIGHBOR (float32, int8, uint8, int32: a gather, quantization kept) and
RESIZE_BILINEAR (float32; int8 in 10-bit fixed point; uint8 through the float kernel, rounded
half away from zero).
The quantized forms interpolate raw values: the output's quantization parameters are not used
(LiteRT runs them even when they differ from the input's). Bilinear refuses align_corners
together with half_pixel_centers, as LiteRT's Prepare does.

References: ``tflite/kernels/resize_nearest_neighbor.cc``, ``resize_bilinear.cc``,
``reference/resize_nearest_neighbor.h`` (``GetNearestNeighbor``),
``reference/resize_bilinear.h`` (``ComputeInterpolationValues``). Coordinates are computed in
float32 as the kernels do: scale = in/out, or (in-1)/(out-1) with align_corners; half-pixel
centers shift by 0.5.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels._fixed_point import round_half_away


def _scale(in_size: int, out_size: int, align_corners: bool) -> np.float32:
    if align_corners and out_size > 1:
        return np.float32(in_size - 1) / np.float32(out_size - 1)
    return np.float32(in_size) / np.float32(out_size)


def _nearest_index(in_size, out_size, align_corners, half_pixel):
    scale = _scale(in_size, out_size, align_corners)
    offset = np.float32(0.5 if half_pixel else 0.0)
    v = ((np.arange(out_size, dtype=np.float32) + offset) * scale).astype(np.float32)
    idx = round_half_away(v) if align_corners else np.floor(v)
    idx = np.minimum(idx.astype(np.int64), in_size - 1)
    return np.maximum(idx, 0) if half_pixel else idx


def _target(ctx, x, size):
    if x.ndim != 4:
        raise ctx.fail(f"input must be 4-D NHWC, has shape {list(x.shape)}")
    if size.shape != (2,) or size.min() <= 0:
        raise ctx.fail(f"size must hold two positive values, holds {size.tolist()}")
    oh, ow = (int(v) for v in size)
    c.check_alloc(ctx, (x.shape[0], oh, ow, x.shape[3]), "output")
    return oh, ow


def prepare_nearest(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(2)
    ctx.require_types((c.F32, c.I8, c.U8, c.I16, c.I32))
    align, half = bool(ctx.options["align_corners"]), bool(ctx.options["half_pixel_centers"])

    def run(x, size):
        oh, ow = _target(ctx, x, size)
        rows = _nearest_index(x.shape[1], oh, align, half)
        cols = _nearest_index(x.shape[2], ow, align, half)
        return [x[:, rows][:, :, cols]]

    return run


def _interpolation(in_size, out_size, align_corners, half_pixel):
    scale = _scale(in_size, out_size, align_corners)
    v = np.arange(out_size, dtype=np.float32)
    scaled = ((v + np.float32(0.5)) * scale - np.float32(0.5)) if half_pixel else v * scale
    scaled = scaled.astype(np.float32)
    lower = np.maximum(np.floor(scaled).astype(np.int64), 0)
    upper = np.minimum(np.ceil(scaled).astype(np.int64), in_size - 1)
    return scaled, lower, upper


def _c_div(a, b: int):
    """C integer division (truncation toward zero)."""
    q = np.abs(a) // b
    return np.where(a < 0, -q, q)


def _interpolation_10(in_size, out_size, align_corners, half_pixel):
    """``reference/resize_bilinear.h``'s integer ComputeInterpolationValues: coordinates in
    units of 1/1024, the scale rounded to the nearest 1/1024."""
    scale = ((1 << 10) * in_size + out_size // 2) // out_size
    if align_corners and out_size > 1:
        scale = ((1 << 10) * (in_size - 1) + (out_size - 1) // 2) // (out_size - 1)
    v = np.arange(out_size, dtype=np.int64)
    scaled = v * scale + scale // 2 - (1 << 9) if half_pixel else v * scale
    lower = np.maximum(_c_div(scaled, 1 << 10), 0)
    upper = np.minimum(_c_div(scaled + (1 << 10) - 1, 1 << 10), in_size - 1)
    return scaled - (1 << 10) * lower, lower, upper


def _bilinear_int8(ctx, align, half, dtype=np.int8):
    def run(x, size):
        oh, ow = _target(ctx, x, size)
        dy, y0, y1 = _interpolation_10(x.shape[1], oh, align, half)
        dx, x0, x1 = _interpolation_10(x.shape[2], ow, align, half)
        dy, dx = dy[None, :, None, None], dx[None, None, :, None]
        v = x.astype(np.int64)
        total = (
            v[:, y0][:, :, x0] * ((1 << 10) - dy) * ((1 << 10) - dx)
            + v[:, y1][:, :, x0] * dy * ((1 << 10) - dx)
            + v[:, y0][:, :, x1] * ((1 << 10) - dy) * dx
            + v[:, y1][:, :, x1] * dy * dx
        )
        rounding = np.where(total > 0, 1 << 19, -(1 << 19))
        return [_c_div(total + rounding, 1 << 20).astype(dtype)]

    return run


def prepare_bilinear(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(2)
    ttype = ctx.require_types((c.F32, c.I8, c.U8, c.I16))
    align, half = bool(ctx.options["align_corners"]), bool(ctx.options["half_pixel_centers"])
    if align and half:
        raise ctx.fail("align_corners and half_pixel_centers cannot both be true")
    if ttype in (c.I8, c.I16):  # ResizeBilinearInteger<T>: int64 sums, cast to T
        return _bilinear_int8(ctx, align, half, np.int8 if ttype == c.I8 else np.int16)

    def run(x, size):
        oh, ow = _target(ctx, x, size)
        ys, y0, y1 = _interpolation(x.shape[1], oh, align, half)
        xs, x0, x1 = _interpolation(x.shape[2], ow, align, half)
        dy = (ys - y0.astype(np.float32)).astype(np.float32)[None, :, None, None]
        dx = (xs - x0.astype(np.float32)).astype(np.float32)[None, None, :, None]
        one = np.float32(1)
        x = x.astype(np.float32, copy=False)  # uint8: the float kernel, then TfLiteRound
        # The reference kernel's float32 order: ((y0x0 + y1x0) + y0x1) + y1x1, each term
        # (value * wy) * wx. Another order changes last bits, and an int8 model that
        # requantizes the result then differs by one step.
        out = x[:, y0][:, :, x0] * (one - dy) * (one - dx)
        out += x[:, y1][:, :, x0] * dy * (one - dx)
        out += x[:, y0][:, :, x1] * (one - dy) * dx
        out += x[:, y1][:, :, x1] * dy * dx
        if ttype == c.U8:
            return [round_half_away(out).astype(np.uint8)]
        return [out.astype(np.float32)]

    return run
