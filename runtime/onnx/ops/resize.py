"""Resize (onnx.ai/onnx/operators/onnx__Resize.html, opsets 11-19): every mode, coordinate
transform and aspect-ratio policy.

All modes are separable, so each axis is resized in turn: output coordinate -> input
coordinate by ``coordinate_transformation_mode`` (as onnxruntime computes it, see
``resize_filters.source_coords``), then the nearest index (``nearest_mode``) or the two
neighbours and their weights (linear; indices clamped to the edge). As onnxruntime, an axis that
keeps its length with scale 1 (or with antialias, still extrapolating outside a crop box), and a
resize that keeps the whole shape, copy the input; output lengths are floor(length * scale) in
float32.
Cubic, antialias, ``exclude_outside`` and ``tf_crop_and_resize`` go through the filter path of
``runtime.onnx.ops.resize_filters``. With ``sizes``, ``keep_aspect_ratio_policy``
``not_larger`` / ``not_smaller`` scales every resized axis by the smallest / largest of the
size ratios and rounds the output sizes half up.
"""

import math

import numpy as np

from runtime.errors import InvalidModelError
from runtime.onnx.ops import resize_filters
from runtime.onnx.ops._common import axis_index, check_size

_TRANSFORMS = (
    "half_pixel",
    "pytorch_half_pixel",
    "align_corners",
    "asymmetric",
    "tf_half_pixel_for_nn",
    "half_pixel_symmetric",
)  # and tf_crop_and_resize; the coordinates: resize_filters.source_coords

_NEAREST = {
    "round_prefer_floor": lambda x: np.where(x - np.floor(x) == 0.5, np.floor(x), np.round(x)),
    "round_prefer_ceil": lambda x: np.where(x - np.floor(x) == 0.5, np.ceil(x), np.round(x)),
    "floor": np.floor,
    "ceil": np.ceil,
    "simple": None,  # Resize-10's rounding, chosen per axis in Resize
}


def Resize(
    X,
    roi=None,
    scales=None,
    sizes=None,
    *,
    antialias=0,
    axes=None,
    coordinate_transformation_mode="half_pixel",
    cubic_coeff_a=-0.75,
    exclude_outside=0,
    extrapolation_value=0.0,
    keep_aspect_ratio_policy="stretch",
    mode="nearest",
    nearest_mode="round_prefer_floor",
):
    transform = coordinate_transformation_mode
    axes, out, factors, boxes, shape = setup(
        X.shape, roi, scales, sizes, antialias=antialias, axes=axes, mode=mode,
        coordinate_transformation_mode=transform, nearest_mode=nearest_mode,
        keep_aspect_ratio_policy=keep_aspect_ratio_policy,
    )  # fmt: skip
    if tuple(shape) == X.shape:
        return X.copy()  # nothing resized: onnxruntime copies, whatever the scales or crop
    filtered = mode == "cubic" or antialias or exclude_outside or transform == "tf_crop_and_resize"
    y = X.astype(np.float64) if filtered and mode != "nearest" else X
    for a, n_out, scale, box in zip(axes, out, factors, boxes, strict=True):
        n_in = X.shape[a]
        if n_in == 0 and n_out == 0:  # an empty axis stays empty (scaled), as onnxruntime
            continue
        crop = transform == "tf_crop_and_resize"
        if n_out == n_in and antialias and crop and scale != 1.0:
            # onnxruntime's antialias path keeps such an axis but still extrapolates outside
            # the crop box.
            _, outside = resize_filters.source_coords(
                transform, np.arange(n_out, dtype=np.float64), scale, n_in, n_out, box
            )
            mask = outside.reshape([-1 if i == a else 1 for i in range(X.ndim)])
            y = np.where(mask, extrapolation_value, y)
            continue
        if n_out == n_in and (scale == 1.0 or antialias):
            # An axis kept as is, as onnxruntime skips it (its antialias path whatever the
            # scale): tf_half_pixel_for_nn, a crop box or a scale of 1.3 on 3 pixels would
            # otherwise move it.
            continue
        if n_in == 0:
            raise InvalidModelError(f"Resize: axis {a} of the input is empty")
        if filtered and mode != "nearest":
            y = resize_filters.resize_axis(
                y, a, n_out, scale, box, transform, mode, antialias, cubic_coeff_a,
                exclude_outside, extrapolation_value,
            )  # fmt: skip
            continue
        if mode == "nearest":
            index, outside = nearest_index(transform, nearest_mode, scale, n_in, n_out, box)
            y = np.take(y, index, axis=a)
            if outside is not None and outside.any():
                mask = outside.reshape([-1 if i == a else 1 for i in range(X.ndim)])
                y = np.where(mask, np.asarray(extrapolation_value).astype(X.dtype), y)
        else:
            low, high, w = linear_taps(transform, scale, n_in, n_out)
            w = w.reshape([-1 if i == a else 1 for i in range(X.ndim)])
            y = np.take(y, low, axis=a) * (1 - w) + np.take(y, high, axis=a) * w
    if mode != "nearest" and not antialias and X.dtype.kind == "f":
        scale_of = dict.fromkeys(range(X.ndim), 1.0) | dict(zip(axes, factors, strict=True))
        unresized = [
            a
            for a in resize_filters.kernel_axes(X.ndim, mode, scale_of)
            if scale_of[a] == 1.0 and shape[a] == X.shape[a]
        ]
        # Only an infinite or NaN value changes there (the check is one cheap pass).
        if unresized and not np.isfinite(y).all():
            for a in unresized:
                y = resize_filters.unresized_axis(y, a, mode, cubic_coeff_a, exclude_outside)
    if X.dtype.kind in "iu" and y.dtype.kind == "f":
        # Integer images: the filters round half up and saturate, as onnxruntime's fixed-point
        # antialias kernels (cubic overshoot must not wrap); the plain linear path truncates.
        info = np.iinfo(X.dtype)
        if filtered:
            y = np.floor(y + 0.5)
        y = np.clip(y, info.min, info.max)
    return y.astype(X.dtype, copy=False)


def nearest_index(transform, nearest_mode, scale, n_in, n_out, box=None):
    """The input index of each output index along one axis, and which lie outside the crop
    box (None but for tf_crop_and_resize)."""
    x = np.arange(n_out, dtype=np.float64)
    coords, outside = resize_filters.source_coords(transform, x, scale, n_in, n_out, box)
    rounding = _NEAREST[nearest_mode]
    if nearest_mode == "simple":  # Resize-10, as onnxruntime: up floors, down ceils
        rounding = np.ceil if scale < 1 else np.floor
    return np.clip(rounding(coords), 0, n_in - 1).astype(np.int64), outside


def linear_taps(transform, scale, n_in, n_out):
    """(low, high, w) along one axis: output i is x[low[i]] * (1 - w[i]) + x[high[i]] * w[i]
    (no crop box: tf_crop_and_resize takes the filter path)."""
    x = np.arange(n_out, dtype=np.float64)
    coords, _ = resize_filters.source_coords(transform, x, scale, n_in, n_out, None)
    coords = np.clip(coords, 0, n_in - 1)
    low = np.floor(coords).astype(np.int64)
    high = np.minimum(low + 1, n_in - 1)
    # Where both neighbours are the edge pixel onnxruntime weighs each 0.5 (the same value
    # for a finite pixel; an infinite one stays inf, where 1 and 0 gave NaN).
    return low, high, np.where(high == low, 0.5, coords - low)


def setup(
    in_shape, roi, scales, sizes, *, antialias, axes, coordinate_transformation_mode,
    keep_aspect_ratio_policy, mode, nearest_mode,
):  # fmt: skip
    """The checks of a Resize of an input of shape ``in_shape`` (raising as named) and its
    geometry: (resized axes, their output lengths, their scale factors, their crop boxes,
    the output shape). A function of the shape, the attributes and the small inputs alone
    (``runtime.onnx.ops.resize_plan`` plans from it)."""
    transform = coordinate_transformation_mode
    ndim = len(in_shape)
    if mode not in ("nearest", "linear", "cubic"):
        raise InvalidModelError(f"Resize: mode {mode!r}; expected nearest, linear or cubic")
    if transform not in _TRANSFORMS and transform != "tf_crop_and_resize":
        raise InvalidModelError(
            f"Resize: coordinate_transformation_mode {transform!r} is unknown; expected one of "
            f"{sorted(_TRANSFORMS) + ['tf_crop_and_resize']}"
        )
    if keep_aspect_ratio_policy not in ("stretch", "not_larger", "not_smaller"):
        raise InvalidModelError(f"Resize: keep_aspect_ratio_policy {keep_aspect_ratio_policy!r}")
    if nearest_mode not in _NEAREST:
        raise InvalidModelError(f"Resize: nearest_mode {nearest_mode!r} is unknown")
    if antialias and mode == "nearest":
        raise InvalidModelError("Resize: antialias applies to linear and cubic modes only")
    axes = list(range(ndim)) if axes is None else [axis_index(a, ndim, "Resize") for a in axes]
    if len(set(axes)) != len(axes):
        raise InvalidModelError(f"Resize: axes {axes} repeat an axis")
    out, factors = _output_shape(in_shape, axes, scales, sizes, keep_aspect_ratio_policy)
    shape = list(in_shape)
    for a, o in zip(axes, out, strict=True):
        shape[a] = o
    check_size(shape, "Resize")
    boxes = _roi(roi, axes, transform)
    return axes, out, factors, boxes, shape


def _output_shape(in_shape, axes, scales, sizes, policy):
    """Output lengths and scale factors of the resized axes."""
    has_scales = scales is not None and scales.size > 0
    has_sizes = sizes is not None and sizes.size > 0
    if has_scales == has_sizes:
        raise InvalidModelError("Resize: exactly one of scales and sizes must be given")
    if has_scales:
        factors = [float(s) for s in scales.reshape(-1)]
        if len(factors) != len(axes) or not all(math.isfinite(f) and f > 0 for f in factors):
            raise InvalidModelError(f"Resize: scales {factors} do not fit axes {axes}")
        # In float32, as onnxruntime: 10 * 0.7f is 7, not the 6.99999988 of float64.
        out = [math.floor(np.float32(in_shape[a]) * np.float32(f)) for a, f in zip(axes, factors)]
        return out, factors
    out = [int(s) for s in sizes.reshape(-1)]
    if len(out) != len(axes) or min(out, default=1) < 0:
        raise InvalidModelError(f"Resize: sizes {out} do not fit axes {axes}")
    if any(in_shape[a] == 0 for a in axes):
        raise InvalidModelError(f"Resize: input {list(in_shape)} is empty along a resized axis")
    factors = [o / in_shape[a] for a, o in zip(axes, out, strict=True)]
    if policy != "stretch" and factors:
        scale = min(factors) if policy == "not_larger" else max(factors)
        out = [int(scale * in_shape[a] + 0.5) for a in axes]
        factors = [scale] * len(axes)
    return out, factors


def _roi(roi, axes, transform):
    """Per resized axis, its (start, end) crop box (only tf_crop_and_resize reads it)."""
    if transform != "tf_crop_and_resize":
        return [None] * len(axes)
    if roi is None or roi.size == 0:
        raise InvalidModelError("Resize: tf_crop_and_resize needs the roi input")
    values = [float(v) for v in roi.reshape(-1)]
    if len(values) != 2 * len(axes) or not all(math.isfinite(v) for v in values):
        raise InvalidModelError(f"Resize: roi {values} must hold {2 * len(axes)} finite values")
    n = len(axes)
    return [(values[i], values[n + i]) for i in range(n)]


def Resize_10(X, scales, *, mode="nearest"):
    """Resize-10: scales only, the asymmetric transform; nearest rounds as onnxruntime's
    Resize-10 kernel (floor when an axis grows, ceil when it shrinks)."""
    if mode not in ("nearest", "linear"):
        raise InvalidModelError(f"Resize-10: mode {mode!r}; expected nearest or linear")
    return Resize(
        X, None, scales, coordinate_transformation_mode="asymmetric", mode=mode,
        nearest_mode="simple",
    )  # fmt: skip
