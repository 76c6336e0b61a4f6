"""Image resizing as TFLite's RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR compute it with
``half_pixel_centers=True`` (what Keras's ``ops.image.resize`` does without antialiasing).

Per axis, with ``scale = in / out``: bilinear reads ``src = (dst + 0.5) * scale - 0.5``,
``lo = max(floor(src), 0)``, ``hi = min(ceil(src), in - 1)``, weights ``1 - f`` and ``f`` with
``f = src - floor(src)``; nearest reads ``min(floor((dst + 0.5) * scale), in - 1)``
(``reference/resize_bilinear.h``, ``resize_nearest_neighbor.h``). Both are linear maps, so a
resize is two matrix products (rows, then columns), and its gradient is theirs.
"""

import numpy as np

from compiler.keras import ops

__all__ = ["INTERPOLATIONS", "resize_matrix", "resize_images", "aspect_crop", "aspect_pad"]

INTERPOLATIONS = ("bilinear", "nearest")


def resize_matrix(in_size: int, out_size: int, interpolation: str) -> np.ndarray:
    """``(out_size, in_size)`` float32 matrix ``R`` with ``out = R @ in`` along one axis."""
    scale = np.float32(in_size) / np.float32(out_size)
    dst = np.arange(out_size, dtype=np.float32)
    matrix = np.zeros((out_size, in_size), np.float32)
    rows = np.arange(out_size)
    if interpolation == "nearest":
        src = np.floor((dst + np.float32(0.5)) * scale).astype(np.int64)
        matrix[rows, np.minimum(src, in_size - 1)] = 1.0
        return matrix
    src = ((dst + np.float32(0.5)) * scale - np.float32(0.5)).astype(np.float32)
    floor = np.floor(src)
    lo = np.maximum(floor.astype(np.int64), 0)
    hi = np.minimum(np.ceil(src).astype(np.int64), in_size - 1)
    frac = (src - floor).astype(np.float32)
    np.add.at(matrix, (rows, lo), 1 - frac)
    np.add.at(matrix, (rows, hi), frac)
    return matrix


def resize_images(images, height: int, width: int, interpolation: str):
    """Resizes NHWC ``images`` to ``(height, width)``."""
    _, h, w, _ = images.shape
    x = images
    if w != width:  # (n, h, c, w) @ (w, width)
        cols = resize_matrix(w, width, interpolation).T
        x = ops.transpose(ops.matmul(ops.transpose(x, (0, 1, 3, 2)), cols), (0, 1, 3, 2))
    if h != height:  # (n, width, c, h) @ (h, height)
        rows = resize_matrix(h, height, interpolation).T
        x = ops.transpose(ops.matmul(ops.transpose(x, (0, 2, 3, 1)), rows), (0, 3, 1, 2))
    return x


def aspect_crop(height: int, width: int, target_h: int, target_w: int):
    """Keras's centered crop to the target aspect ratio: ``(top, left, crop_h, crop_w)``."""
    crop_h = max(min(height, int(float(width * target_h) / target_w)), 1)
    crop_w = max(min(width, int(float(height * target_w) / target_h)), 1)
    return int(float(height - crop_h) / 2), int(float(width - crop_w) / 2), crop_h, crop_w


def aspect_pad(height: int, width: int, target_h: int, target_w: int):
    """Keras's padding to the target aspect ratio: ``(rows, cols)`` added on both sides
    (only one of them is non-zero)."""
    pad_h = max(height, int(float(width * target_h) / target_w))
    pad_w = max(width, int(float(height * target_w) / target_h))
    rows = int(float(pad_h - height) / 2)
    cols = int(float(pad_w - width) / 2)
    return (rows, 0) if rows > 0 else (0, cols)
