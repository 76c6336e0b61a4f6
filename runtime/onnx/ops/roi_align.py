"""RoiAlign (onnx.ai/onnx/operators/onnx__RoiAlign.html, opsets 10, 16, 22).

Each region (x1, y1, x2, y2 in input coordinates times ``spatial_scale``, shifted by -0.5 with
``half_pixel``) is cut into output_height x output_width bins; each bin averages (``avg``) or
takes the maximum (``max``) of a grid of ``sampling_ratio`` (default: ceil(bin size)) samples per
axis, each sampled bilinearly. As onnxruntime: a sample beyond one pixel outside the image
reads 0, coordinates are clamped at 0 and at the last pixel, ``max`` takes the largest of the
four weighted corner values, and without half_pixel a region is at least 1 x 1. Opset 10 has
no coordinate_transformation_mode (it behaves as ``output_half_pixel``).
"""

import math

import numpy as np

from runtime.errors import InvalidModelError
from runtime.onnx.ops._common import check_size


def RoiAlign_10(
    X, rois, batch_indices, *, mode="avg", output_height=1, output_width=1, sampling_ratio=0,
    spatial_scale=1.0,
):  # fmt: skip
    return RoiAlign(
        X, rois, batch_indices, coordinate_transformation_mode="output_half_pixel", mode=mode,
        output_height=output_height, output_width=output_width, sampling_ratio=sampling_ratio,
        spatial_scale=spatial_scale,
    )  # fmt: skip


def RoiAlign(
    X, rois, batch_indices, *, coordinate_transformation_mode="half_pixel", mode="avg",
    output_height=1, output_width=1, sampling_ratio=0, spatial_scale=1.0,
):  # fmt: skip
    if mode not in ("avg", "max"):
        raise InvalidModelError(f"RoiAlign: mode {mode!r}; expected avg or max")
    if coordinate_transformation_mode not in ("half_pixel", "output_half_pixel"):
        raise InvalidModelError(
            f"RoiAlign: coordinate_transformation_mode {coordinate_transformation_mode!r}"
        )
    if X.ndim != 4 or rois.ndim != 2 or rois.shape[1] != 4:
        raise InvalidModelError(
            f"RoiAlign: X {list(X.shape)} must be 4-D and rois {list(rois.shape)} [num_rois, 4]"
        )
    count = rois.shape[0]
    if batch_indices.shape != (count,):
        raise InvalidModelError(f"RoiAlign: batch_indices must have {count} entries")
    if count and (batch_indices.min() < 0 or batch_indices.max() >= X.shape[0]):
        raise InvalidModelError(f"RoiAlign: a batch index lies outside [0, {X.shape[0]})")
    if output_height < 1 or output_width < 1 or sampling_ratio < 0:
        raise InvalidModelError("RoiAlign: output sizes must be >= 1, sampling_ratio >= 0")
    c, height, width = X.shape[1:]
    check_size((count, c, output_height, output_width), "RoiAlign", X.dtype.itemsize)
    half = coordinate_transformation_mode == "half_pixel"
    y = np.zeros((count, c, output_height, output_width), X.dtype)
    boxes = rois.astype(np.float64) * spatial_scale - (0.5 if half else 0.0)
    if not np.all(np.isfinite(boxes)):
        raise InvalidModelError("RoiAlign: a region has a non-finite coordinate")
    for r in range(count):
        x1, y1, x2, y2 = boxes[r]
        roi_w, roi_h = x2 - x1, y2 - y1
        if not half:
            roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
        bin_h, bin_w = roi_h / output_height, roi_w / output_width
        # A negative (inverted) region samples nothing and gives 0, as onnxruntime.
        grid_h = max(sampling_ratio or math.ceil(roi_h / output_height), 0)
        grid_w = max(sampling_ratio or math.ceil(roi_w / output_width), 0)
        check_size((grid_h, grid_w, output_height, output_width, c), "RoiAlign", 8)
        ys = y1 + (np.arange(output_height)[:, None] + (np.arange(grid_h) + 0.5) / grid_h) * bin_h
        xs = x1 + (np.arange(output_width)[:, None] + (np.arange(grid_w) + 0.5) / grid_w) * bin_w
        # (ph, iy) and (pw, ix) sample coordinates -> weighted corners, (ph, iy, pw, ix, c)
        ylo, yhi, ly, yok = _axis(ys.reshape(-1), height)
        xlo, xhi, lx, xok = _axis(xs.reshape(-1), width)
        image = X[int(batch_indices[r])].astype(np.float64)
        ok = yok[:, None] & xok[None, :]
        corners = [
            ((1 - ly)[:, None] * (1 - lx)[None, :], ylo, xlo),
            ((1 - ly)[:, None] * lx[None, :], ylo, xhi),
            (ly[:, None] * (1 - lx)[None, :], yhi, xlo),
            (ly[:, None] * lx[None, :], yhi, xhi),
        ]
        values = [
            np.where(ok, w, 0.0)[None] * image[:, yi[:, None], xi[None, :]] for w, yi, xi in corners
        ]  # each (c, ph * iy, pw * ix)
        shape = (c, output_height, grid_h, output_width, grid_w)
        if mode == "avg":
            total = sum(values).reshape(shape).sum(axis=(2, 4))
            y[r] = total / max(grid_h * grid_w, 1)
        else:
            best = np.maximum.reduce(values).reshape(shape)
            y[r] = best.max(axis=(2, 4)) if grid_h * grid_w else 0
    return y


def _axis(coords, size):
    """Low and high neighbour, fraction toward the high one and validity of sample coords."""
    ok = (coords >= -1.0) & (coords <= size)
    coords = np.maximum(coords, 0.0)
    low = np.floor(coords).astype(np.int64)
    edge = low >= size - 1
    low = np.where(edge, size - 1, low)
    high = np.where(edge, size - 1, low + 1)
    frac = np.where(edge, 0.0, coords - low)
    return low, high, frac, ok
