"""Resize (onnx.ai/onnx/operators/onnx__Resize.html): modes nearest and linear.

Both are separable, so each axis is resized in turn: output coordinate -> input coordinate by
``coordinate_transformation_mode``, then the nearest index (``nearest_mode``) or the two
neighbours and their weights (linear; indices clamped to the edge, as the spec's reference).
Cubic, antialias, tf_crop_and_resize and the aspect-ratio policies other than ``stretch`` are
refused with UnsupportedOpError.
"""

import math

import numpy as np

from runtime.errors import InvalidModelError, UnsupportedOpError
from runtime.onnx.ops._common import axis_index, check_size

_TRANSFORMS = {
    "half_pixel": lambda x, scale, n_in, n_out: (x + 0.5) / scale - 0.5,
    "pytorch_half_pixel": lambda x, scale, n_in, n_out: (
        (x + 0.5) / scale - 0.5 if n_out > 1 else np.zeros_like(x)
    ),
    # The spec's length_resized here is input length * scale, unrounded (with sizes given,
    # scale = sizes / input, so it is the output length).
    "align_corners": lambda x, scale, n_in, n_out: (
        x * (n_in - 1) / (n_in * scale - 1) if n_out > 1 else np.zeros_like(x)
    ),
    "asymmetric": lambda x, scale, n_in, n_out: x / scale,
    "tf_half_pixel_for_nn": lambda x, scale, n_in, n_out: (x + 0.5) / scale,
}

_NEAREST = {
    "round_prefer_floor": lambda x: np.where(x - np.floor(x) == 0.5, np.floor(x), np.round(x)),
    "round_prefer_ceil": lambda x: np.where(x - np.floor(x) == 0.5, np.ceil(x), np.round(x)),
    "floor": np.floor,
    "ceil": np.ceil,
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
    if mode not in ("nearest", "linear"):
        raise UnsupportedOpError(f"Resize: mode {mode!r} is not supported (nearest, linear)")
    if antialias or exclude_outside or keep_aspect_ratio_policy != "stretch":
        raise UnsupportedOpError(
            "Resize: antialias, exclude_outside and keep_aspect_ratio_policy "
            "other than 'stretch' are not supported"
        )
    if coordinate_transformation_mode not in _TRANSFORMS:
        raise UnsupportedOpError(
            f"Resize: coordinate_transformation_mode {coordinate_transformation_mode!r} is not "
            f"supported; expected one of {sorted(_TRANSFORMS)}"
        )
    if nearest_mode not in _NEAREST:
        raise InvalidModelError(f"Resize: nearest_mode {nearest_mode!r} is unknown")
    axes = list(range(X.ndim)) if axes is None else [axis_index(a, X.ndim, "Resize") for a in axes]
    has_scales = scales is not None and scales.size > 0
    has_sizes = sizes is not None and sizes.size > 0
    if has_scales == has_sizes:
        raise InvalidModelError("Resize: exactly one of scales and sizes must be given")
    if has_scales:
        factors = [float(s) for s in scales.reshape(-1)]
        if len(factors) != len(axes) or min(factors) <= 0:
            raise InvalidModelError(f"Resize: scales {factors} do not fit axes {axes}")
        out = [math.floor(X.shape[a] * f) for a, f in zip(axes, factors, strict=True)]
    else:
        out = [int(s) for s in sizes.reshape(-1)]
        if len(out) != len(axes) or min(out, default=1) < 0:
            raise InvalidModelError(f"Resize: sizes {out} do not fit axes {axes}")
        factors = [o / X.shape[a] if X.shape[a] else 1.0 for a, o in zip(axes, out, strict=True)]
    shape = list(X.shape)
    for a, o in zip(axes, out, strict=True):
        shape[a] = o
    check_size(shape, "Resize")
    transform = _TRANSFORMS[coordinate_transformation_mode]
    y = X
    for a, n_out, scale in zip(axes, out, factors, strict=True):
        n_in = X.shape[a]
        if n_in == 0:
            raise InvalidModelError(f"Resize: axis {a} of the input is empty")
        coords = transform(np.arange(n_out, dtype=np.float64), scale, n_in, n_out)
        if mode == "nearest":
            index = np.clip(_NEAREST[nearest_mode](coords), 0, n_in - 1).astype(np.int64)
            y = np.take(y, index, axis=a)
        else:
            coords = np.clip(coords, 0, n_in - 1)
            low = np.floor(coords).astype(np.int64)
            high = np.minimum(low + 1, n_in - 1)
            w = (coords - low).reshape([-1 if i == a else 1 for i in range(X.ndim)])
            y = np.take(y, low, axis=a) * (1 - w) + np.take(y, high, axis=a) * w
    return y.astype(X.dtype, copy=False)
