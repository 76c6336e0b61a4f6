"""Resize's filter modes (onnx.ai/onnx/operators/onnx__Resize.html, opsets 11-19): cubic,
antialiased linear and cubic, and ``tf_crop_and_resize``; ``runtime.onnx.ops.resize`` sends them
here and keeps its plain nearest/linear path.

Each axis in turn: output index -> source coordinate x by the coordinate transform; ``ratio`` is
x's fraction (1 when x is whole, so the taps run from x - n/2 + ... as the spec's reference);
the taps are the n input indices around x, clamped to the edge. Weights: linear ``[1 - r, r]``;
cubic, Keys' kernel with ``cubic_coeff_a``; antialias (downscaling, scale < 1) stretches the
linear (triangle) or cubic kernel by 1/scale and normalizes its weights. ``exclude_outside``
gives taps outside the input weight 0 and renormalizes. ``tf_crop_and_resize`` maps the output
onto the ``roi`` box and writes ``extrapolation_value`` where the source lies outside the input.
"""

import math

import numpy as np

from runtime.onnx.ops._common import check_size


def source_coords(mode, x, scale, n_in, n_out, roi):
    """Source coordinates of output indices ``x`` and, for tf_crop_and_resize, which lie
    outside the input (None otherwise).

    As onnxruntime computes them: in float32, the resized length being the integer output
    length (the spec's reference uses scale * input length, which differs when it is not a
    whole number), and pytorch_half_pixel mapping a single output to 0.
    """
    f = np.float32
    x, scale, length, n_in_f = x.astype(f), f(scale), f(n_out), f(n_in)
    outside = None
    if mode == "tf_crop_and_resize":
        start, end = f(roi[0]), f(roi[1])
        if n_out > 1:
            coords = start * (n_in_f - 1) + x * (end - start) * (n_in_f - 1) / (length - 1)
        else:
            coords = np.full(n_out, f(0.5) * (start + end) * (n_in_f - 1), f)
        outside = (coords < 0) | (coords > n_in_f - 1)
    elif mode == "align_corners":
        coords = np.zeros(n_out, f) if n_out == 1 else x * (n_in_f - 1) / (length - 1)
    elif mode == "asymmetric":
        coords = x / scale
    elif mode == "pytorch_half_pixel":
        coords = (x + f(0.5)) / scale - f(0.5) if n_out > 1 else np.zeros(n_out, f)
    elif mode == "tf_half_pixel_for_nn":
        coords = (x + f(0.5)) / scale
    elif mode == "half_pixel_symmetric":
        offset = n_in_f / f(2) * (f(1) - length / (scale * n_in_f))
        coords = offset + (x + f(0.5)) / scale - f(0.5)
    else:  # half_pixel
        coords = (x + f(0.5)) / scale - f(0.5)
    return coords.astype(np.float64), outside


def _keys(t, a):
    """Keys' cubic convolution kernel at distances |t|."""
    t = np.abs(t)
    near = ((a + 2) * t - (a + 3)) * t * t + 1
    far = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return np.where(t <= 1, near, np.where(t < 2, far, 0.0))


def taps(coords, scale, n_in, mode, antialias, cubic_coeff_a, exclude_outside):
    """(indices, weights), each (n_out, taps), of the filter at ``coords``."""
    base = np.floor(coords)
    ratio = np.where(coords == base, 1.0, coords - base)
    if antialias:
        s = min(scale, 1.0)
        support = 1.0 if mode == "linear" else 2.0
        start = math.floor(-support / s) + 1
        offsets = np.arange(start, 2 - start)
        check_size((len(coords), len(offsets)), "Resize", 8)
        args = (offsets[None, :] - ratio[:, None]) * s
        if mode == "linear":
            weights = np.clip(1 - np.abs(args), 0, 1)
        else:
            weights = _keys(args, cubic_coeff_a)
        weights = weights / weights.sum(axis=1, keepdims=True)
    elif mode == "linear":
        weights = np.stack([1 - ratio, ratio], axis=1)
    else:
        weights = _keys(ratio[:, None] - np.arange(-1, 3)[None, :], cubic_coeff_a)
    n = weights.shape[1]
    # The first tap: n/2 before x when x is whole (ratio 1), n/2 - 1 before floor(x) otherwise.
    first = base + np.where(coords == base, -(n // 2), -(n // 2) + 1)
    index = first.astype(np.int64)[:, None] + np.arange(n)[None, :]
    if exclude_outside:
        weights = np.where((index < 0) | (index >= n_in), 0.0, weights)
        total = weights.sum(axis=1, keepdims=True)
        weights = weights / np.where(total == 0, 1.0, total)
    return np.clip(index, 0, n_in - 1), weights


def resize_axis(y, axis, n_out, scale, roi, transform, mode, antialias, a, exclude, fill):
    """``y`` resized along ``axis`` by the filter (computed in float64)."""
    n_in = y.shape[axis]
    coords, outside = source_coords(
        transform, np.arange(n_out, dtype=np.float64), scale, n_in, n_out, roi
    )
    index, weights = taps(coords, scale, n_in, mode, antialias, a, exclude)
    shape = list(y.shape)
    shape[axis] = n_out
    check_size(shape + [index.shape[1]], "Resize", 8)
    gathered = np.take(y, index, axis=axis)  # axis -> (n_out, taps)
    w = weights.reshape((1,) * axis + weights.shape + (1,) * (y.ndim - axis - 1))
    result = (gathered * w).sum(axis=axis + 1)
    if outside is not None and outside.any():
        mask = outside.reshape((1,) * axis + (n_out,) + (1,) * (y.ndim - axis - 1))
        result = np.where(mask, fill, result)
    return result
