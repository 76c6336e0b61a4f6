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
    if not antialias:
        return _plain_taps(coords, n_in, mode, cubic_coeff_a, exclude_outside)
    base = np.floor(coords)
    ratio = np.where(coords == base, 1.0, coords - base)
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
    n = weights.shape[1]
    # The first tap: n/2 before x when x is whole (ratio 1), n/2 - 1 before floor(x) otherwise.
    first = base + np.where(coords == base, -(n // 2), -(n // 2) + 1)
    index = first.astype(np.int64)[:, None] + np.arange(n)[None, :]
    return _excluding_outside(index, weights, n_in, exclude_outside)


def _plain_taps(coords, n_in, mode, a, exclude_outside):
    """onnxruntime's bilinear / bicubic taps (no antialias): from floor(x) (- 1 for cubic) at
    any x, whole ones included (ratio 0: weights (1, 0), (0, 1, 0, 0)). Linear clamps x into
    the input and weighs (0.5, 0.5) when both taps are the last pixel. The finite results are
    those of any tap convention; these say which neighbours meet a weight of 0, which turns an
    infinite or NaN neighbour into NaN, as onnxruntime's sums do."""
    if mode == "linear":
        coords = np.clip(coords, 0, n_in - 1)
    base = np.floor(coords)
    ratio = coords - base
    if mode == "linear":
        edge = base + 1 > n_in - 1
        weights = np.stack([np.where(edge, 0.5, 1 - ratio), np.where(edge, 0.5, ratio)], axis=1)
        offsets = np.arange(2)
    else:
        weights = _keys(ratio[:, None] - np.arange(-1, 3)[None, :], a)
        offsets = np.arange(-1, 3)
    index = base.astype(np.int64)[:, None] + offsets[None, :]
    return _excluding_outside(index, weights, n_in, exclude_outside)


def _excluding_outside(index, weights, n_in, exclude_outside):
    """The taps clamped to the input; ``exclude_outside``: those outside weigh 0, the rest
    renormalized."""
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
    result = apply_taps(y, axis, index, weights)
    if outside is not None and outside.any():
        mask = outside.reshape((1,) * axis + (n_out,) + (1,) * (y.ndim - axis - 1))
        result = np.where(mask, fill, result)
    return result


def apply_taps(y, axis, index, weights):
    """``y`` along ``axis`` as the weighted sums of its taps (``index``, ``weights``: each
    (n_out, taps))."""
    shape = list(y.shape)
    shape[axis] = index.shape[0]
    check_size(shape + [index.shape[1]], "Resize", 8)
    gathered = np.take(y, index, axis=axis)  # axis -> (n_out, taps)
    w = weights.reshape((1,) * axis + weights.shape + (1,) * (y.ndim - axis - 1))
    return (gathered * w).sum(axis=axis + 1)


def unresized_axis(y, axis, mode, a, exclude_outside):
    """``y`` with ``axis``, of scale 1, as onnxruntime's bilinear / bicubic kernels give it:
    they interpolate it too, at whole coordinates, so its finite values come back unchanged
    but a neighbour weighted 0 (the next pixel for linear; the one before and two after for
    cubic) turns an infinite or NaN value into NaN there."""
    n = y.shape[axis]
    index, weights = _plain_taps(np.arange(n, dtype=np.float64), n, mode, a, exclude_outside)
    return apply_taps(y, axis, index, weights)


def kernel_axes(ndim, mode, scale_of):
    """The axes onnxruntime's linear / cubic Resize kernel interpolates (it takes no other
    layout): bilinear the last two of a 2-D or NCHW 4-D input (the middle two of NHWC, a 4-D
    input whose axis-1 scale is not 1), trilinear the last three of 3-D / 5-D; bicubic the last
    two of 2-D / 4-D."""
    if ndim == 4 and mode == "linear" and scale_of[1] != 1.0:
        return (1, 2)
    if mode == "cubic" or ndim in (2, 4):
        return {2: (0, 1), 4: (2, 3)}.get(ndim, ())
    return {3: (0, 1, 2), 5: (2, 3, 4)}.get(ndim, ())
