"""Numpy kernels of the IR's normalization and image ops (float64, as ``_kernels``).

SQUARED_DIFFERENCE is ``(x - y)^2`` with broadcasting (``squared_difference.cc``).
RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR follow ``reference/resize_bilinear.h`` and
``resize_nearest_neighbor.h``: ``scale = in / out`` (``(in - 1) / (out - 1)`` with
``align_corners``); half-pixel centers read ``(dst + 0.5) * scale - 0.5`` (bilinear) or
``floor((dst + 0.5) * scale)`` (nearest), coordinates in float32 as the kernels compute them.
LAYER_NORM normalizes over ``axes`` with the biased variance:
``(x - mean) * rsqrt(var + epsilon) * gamma + beta`` (``gamma`` / ``beta`` optional, shaped
like the input on ``axes``). GROUP_NORM does the same over each group of ``groups``
consecutive channels (last axis) of each sample, ``gamma`` / ``beta`` per channel.
"""

from __future__ import annotations

import numpy as np

__all__ = ["NORMALIZATION_KERNELS", "resize_nearest_neighbor"]


def _scale(in_size: int, out_size: int, align_corners: bool) -> np.float32:
    if align_corners and out_size > 1:
        return np.float32(in_size - 1) / np.float32(out_size - 1)
    return np.float32(in_size) / np.float32(out_size)


def _nearest(in_size, out_size, align_corners, half_pixel):
    scale = _scale(in_size, out_size, align_corners)
    offset = np.float32(0.5 if half_pixel else 0.0)
    v = ((np.arange(out_size, dtype=np.float32) + offset) * scale).astype(np.float32)
    # align_corners rounds half away from zero; otherwise the kernel floors.
    index = np.sign(v) * np.floor(np.abs(v) + 0.5) if align_corners else np.floor(v)
    return np.clip(index.astype(np.int64), 0, in_size - 1)


def resize_nearest_neighbor(x, size, *, align_corners, half_pixel_centers):
    rows = _nearest(x.shape[1], int(size[0]), align_corners, half_pixel_centers)
    cols = _nearest(x.shape[2], int(size[1]), align_corners, half_pixel_centers)
    return x[:, rows][:, :, cols]


def _bilinear_axis(in_size, out_size, align_corners, half_pixel):
    scale = _scale(in_size, out_size, align_corners)
    v = np.arange(out_size, dtype=np.float32)
    src = ((v + np.float32(0.5)) * scale - np.float32(0.5)) if half_pixel else v * scale
    src = src.astype(np.float32)
    lo = np.maximum(np.floor(src).astype(np.int64), 0)
    hi = np.minimum(np.ceil(src).astype(np.int64), in_size - 1)
    return lo, hi, (src - np.floor(src)).astype(np.float64)


def resize_bilinear(x, size, *, align_corners, half_pixel_centers):
    x = x.astype(np.float64)
    y0, y1, dy = _bilinear_axis(x.shape[1], int(size[0]), align_corners, half_pixel_centers)
    x0, x1, dx = _bilinear_axis(x.shape[2], int(size[1]), align_corners, half_pixel_centers)
    dy, dx = dy[None, :, None, None], dx[None, None, :, None]
    top = x[:, y0][:, :, x0] * (1 - dx) + x[:, y0][:, :, x1] * dx
    bottom = x[:, y1][:, :, x0] * (1 - dx) + x[:, y1][:, :, x1] * dx
    return top * (1 - dy) + bottom * dy


def layer_norm(x, gamma, beta, *, axes, epsilon):
    x = x.astype(np.float64)
    axes = tuple(a % x.ndim for a in axes)
    mean = x.mean(axis=axes, keepdims=True)
    variance = np.square(x - mean).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(variance + epsilon)
    shape = [x.shape[a] if a in axes else 1 for a in range(x.ndim)]
    if gamma is not None:
        y = y * gamma.astype(np.float64).reshape(shape)
    if beta is not None:
        y = y + beta.astype(np.float64).reshape(shape)
    return y


def group_norm(x, gamma, beta, *, groups, epsilon):
    x = x.astype(np.float64)
    grouped = x.reshape(x.shape[0], -1, groups, x.shape[-1] // groups)
    mean = grouped.mean(axis=(1, 3), keepdims=True)
    variance = np.square(grouped - mean).mean(axis=(1, 3), keepdims=True)
    y = ((grouped - mean) / np.sqrt(variance + epsilon)).reshape(x.shape)
    if gamma is not None:
        y = y * gamma.astype(np.float64)
    if beta is not None:
        y = y + beta.astype(np.float64)
    return y


NORMALIZATION_KERNELS = {
    "SQUARED_DIFFERENCE": lambda x, y: np.square(x.astype(np.float64) - y.astype(np.float64)),
    "RESIZE_BILINEAR": resize_bilinear,
    "RESIZE_NEAREST_NEIGHBOR": resize_nearest_neighbor,
    "LAYER_NORM": layer_norm,
    "GROUP_NORM": group_norm,
}
