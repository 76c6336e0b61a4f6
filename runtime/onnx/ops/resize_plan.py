"""Resize planned once per input shape (onnx.ai/onnx/operators/onnx__Resize.html): the plain
nearest and linear modes as precomputed per-axis steps, the same arithmetic as
``runtime.onnx.ops.resize.Resize`` without re-deriving coordinates at every run.

A plan is a list of steps, one per resized axis, made from the same index and weight arrays the
general path computes (``resize.nearest_index``, ``resize.linear_taps``), so they give the
same values:

- nearest, an axis whose index is ``arange(n_in).repeat(r)`` (an integer upscale whose
  coordinates floor or round onto each input pixel r times: asymmetric / floor, half_pixel /
  round_prefer_*, ...): ``np.repeat`` (block copies, no index array); another index (a
  fractional scale, a downscale, a shifted transform): ``np.take`` with it. Nearest is a pure
  gather, so the axes go innermost first (the cheaper order of copies).
- linear (no antialias, no crop box): x[low] * (1 - w) + x[high] * w with low, high, w
  computed once, the weights in the input's float type (float32 as onnxruntime computes;
  inf * 0 still gives NaN where the general path does), the axes in the general path's order.

Not planned (the general path runs): cubic, antialias, ``exclude_outside``,
``tf_crop_and_resize``, an empty axis, linear of a non-float32/64 input; and, at run time, a
linear resize with an axis onnxruntime's kernel interpolates at scale 1 whose input is not all
finite (the general path's NaN pass, ``resize_filters.unresized_axis``).

``PlannedResize`` is one node's kernel: its plans live in it (per node, per input shape), so
nothing outlives the session and no run shares scratch memory with another.
"""

import numpy as np

from runtime.onnx.ops import resize, resize_filters
from runtime.onnx.ops._common import check_size

# Plans remembered per node (one per distinct input shape and small-input value in use).
_MAX_PLANS = 8
_ABSENT = object()


class Plan:
    """The steps of one Resize geometry: ``(kind, axis, *arrays)`` each; ``shape`` the
    output's; ``finite_check``: the input must be all finite for the plan to hold."""

    __slots__ = ("steps", "shape", "finite_check", "itemsize")

    def __init__(self, steps, shape, finite_check, itemsize):
        self.steps, self.shape = steps, tuple(shape)
        self.finite_check, self.itemsize = finite_check, itemsize

    def __call__(self, x):
        check_size(self.shape, "Resize", self.itemsize)  # the run's budget, at every run
        y = x
        for kind, axis, *arrays in self.steps:
            if kind == "repeat":
                y = y.repeat(arrays[0], axis=axis)
            elif kind == "take":
                y = np.take(y, arrays[0], axis=axis)
            else:
                low, high, w0, w1 = arrays
                a = np.take(y, low, axis=axis)
                a *= w0
                b = np.take(y, high, axis=axis)
                b *= w1
                a += b
                y = a
        return x.copy() if y is x else y


def make_plan(in_shape, dtype, roi, scales, sizes, **attrs):
    """The plan of a Resize of an input of ``in_shape`` and ``dtype``, or None where the
    general path must run. Raises what ``resize.Resize`` raises for bad attributes or inputs."""
    mode = attrs.get("mode", "nearest")
    transform = attrs.get("coordinate_transformation_mode", "half_pixel")
    nearest_mode = attrs.get("nearest_mode", "round_prefer_floor")
    antialias = attrs.get("antialias", 0)
    axes, out, factors, _, shape = resize.setup(
        in_shape, roi, scales, sizes, antialias=antialias, axes=attrs.get("axes"), mode=mode,
        coordinate_transformation_mode=transform, nearest_mode=nearest_mode,
        keep_aspect_ratio_policy=attrs.get("keep_aspect_ratio_policy", "stretch"),
    )  # fmt: skip
    dtype = np.dtype(dtype)
    if tuple(shape) == tuple(in_shape):
        return Plan([], shape, False, dtype.itemsize)  # a copy, as the general path
    if (
        mode == "cubic"
        or antialias
        or attrs.get("exclude_outside", 0)
        or transform == "tf_crop_and_resize"
        or (mode == "linear" and dtype not in (np.float32, np.float64))
    ):
        return None
    ndim = len(in_shape)
    steps = []
    for a, n_out, scale in zip(axes, out, factors, strict=True):
        n_in = in_shape[a]
        if n_in == 0 or n_out == 0:
            return None
        if n_out == n_in and scale == 1.0:
            continue  # kept as is, as the general path (and onnxruntime) skip it
        if mode == "nearest":
            index, _ = resize.nearest_index(transform, nearest_mode, scale, n_in, n_out)
            r = n_out // n_in
            if n_out == r * n_in and np.array_equal(index, np.arange(n_in).repeat(r)):
                steps.append(("repeat", a, r))
            else:
                steps.append(("take", a, index))
            continue
        low, high, w = resize.linear_taps(transform, scale, n_in, n_out)
        w = w.reshape([-1 if i == a else 1 for i in range(ndim)])
        steps.append(("linear", a, low, high, (1 - w).astype(dtype), w.astype(dtype)))
    if mode == "nearest":
        steps.sort(key=lambda step: -step[1])
    finite_check = False
    if mode == "linear":
        scale_of = dict.fromkeys(range(ndim), 1.0) | dict(zip(axes, factors, strict=True))
        finite_check = any(
            scale_of[a] == 1.0 and shape[a] == in_shape[a]
            for a in resize_filters.kernel_axes(ndim, mode, scale_of)
        )
    return Plan(steps, shape, finite_check, dtype.itemsize)


def _value_key(value):
    if value is None:
        return None
    return (value.dtype.str, value.shape, value.tobytes())


class PlannedResize:
    """One Resize node's kernel (opset 11+): its plan per input shape and dtype and per value
    of its small inputs (``constant``: they are constants, the same at every run: only the
    shape and dtype key the plan), the general ``resize.Resize`` where there is none."""

    __slots__ = ("plans", "constant")

    def __init__(self, constant=False):
        self.plans: dict = {}
        self.constant = constant

    def __call__(self, X, roi=None, scales=None, sizes=None, **attrs):
        small = (roi, scales, sizes)
        if type(X) is not np.ndarray or any(
            v is not None and type(v) is not np.ndarray for v in small
        ):
            return resize.Resize(X, roi, scales, sizes, **attrs)
        if self.constant:
            key = (X.shape, X.dtype)
        else:
            key = (X.shape, X.dtype, *map(_value_key, small))
        plan = self.plans.get(key, _ABSENT)
        if plan is _ABSENT:
            plan = make_plan(X.shape, X.dtype, roi, scales, sizes, **attrs)
            if len(self.plans) < _MAX_PLANS:
                self.plans[key] = plan
        if plan is None or (plan.finite_check and not np.isfinite(X).all()):
            return resize.Resize(X, roi, scales, sizes, **attrs)
        return plan(X)


def bind(node, known):
    """A fresh ``PlannedResize`` for a Resize node (``runtime.onnx._bind_constants``: the
    planned graph runs only when no feed overrides an initializer, so a constant in ``known``
    is the value every run reads)."""
    constant = all(not name or type(known.get(name)) is np.ndarray for name in node.inputs[1:])
    return PlannedResize(constant)
