"""Kernels bound at load to the constant inputs they read.

A Slice's starts / ends / axes / steps, a Squeeze's or Unsqueeze's axes and a Reshape's target
shape are usually constants (initializers, or Constant nodes folded by the plan). What the
kernel derives from them and from its input's dims (a numpy index, an output shape: after the
same checks, with the same errors) is then derived once per input shape and remembered; a run
only applies it (a view of the input). A Clip's constant one-value bounds are checked (NaN,
rank) once. An Add / Sub / Mul / Div with one operand a constant of one float value, and a
Pow by a constant 2, check only the other operand's type and rank at run time (the ufunc on
the 0-d value: the same bits as the plain kernel's broadcast of it); any other operand takes
the plain kernel. A Resize plans its per-axis steps once per input shape and value of its
scales / sizes / roi, constant or not (``runtime.onnx.ops.resize_plan``).

Only a node whose kernel is still the op's plain registered one is bound (a node an earlier step
rewrote keeps its kernel), and only constants of integer types (any other type fails the node's
type check at run time, which still runs first). The planned graph, where these nodes live, runs
only when no feed overrides an initializer, so a constant seen here is the value each run reads.
"""

import dataclasses
import functools
import operator

import numpy as np

from runtime.onnx._graph import Node
from runtime.onnx.ops import activation, elementwise, resize, resize_plan, shape

# Input shapes remembered per node (one per distinct input shape in use).
_MAX_SHAPES = 8


class PerShape:
    """A kernel of one data input whose other inputs are constants: ``apply(data, derived)``
    with ``derived = derive(data.shape)`` remembered per shape (``derive`` raises what the
    plain kernel raises, and a shape it refuses is never remembered)."""

    __slots__ = ("derive", "apply", "cache")

    def __init__(self, derive, apply):
        self.derive, self.apply = derive, apply
        self.cache: dict = {}

    def __call__(self, data, *constants, **attrs):
        key = data.shape
        derived = self.cache.get(key)
        if derived is None:
            derived = self.derive(key)
            if len(self.cache) < _MAX_SHAPES:
                self.cache[key] = derived
        return self.apply(data, derived)


def _int_constants(node: Node, known: dict, first: int, required: int) -> list | None:
    """The node's inputs from ``first`` on as int lists (None for an omitted one), or None
    when one is not a constant of an integer type or fewer than ``required`` are given."""
    names = list(node.inputs[first:])
    while names and not names[-1]:
        names.pop()
    if len(names) < required:
        return None
    values = []
    for name in names:
        if not name:
            values.append(None)
            continue
        value = known.get(name)
        if type(value) is not np.ndarray or value.dtype.kind not in "iu" or value.ndim > 1:
            return None
        values.append(value.reshape(-1).tolist())
    return values


def _slice(node: Node, known: dict):
    values = _int_constants(node, known, 1, 2)
    if values is None or values[0] is None or values[1] is None:
        return None
    starts, ends, axes, steps = (values + [None, None])[:4]
    derive = functools.partial(shape.slice_index, starts=starts, ends=ends, axes=axes, steps=steps)
    return PerShape(derive, operator.getitem)


def _shaped(derive):
    """A binder for a kernel that reshapes its input to ``derive(shape, <constant>, **attrs)``."""

    def bind(node: Node, known: dict):
        values = _int_constants(node, known, 1, 1)
        if values is None or len(values) != 1 or values[0] is None:
            return None
        return PerShape(functools.partial(derive, values[0], **node.attrs), _reshape)

    return bind


def _clip(node: Node, known: dict):
    if len(node.inputs) != 3 or not all(node.inputs):
        return None
    lo, hi = known.get(node.inputs[1]), known.get(node.inputs[2])
    bounds = activation.clip_bounds(lo, hi)
    return None if bounds is None else functools.partial(activation.Clip, _bounds=bounds)


class OneValue:
    """Add / Sub / Mul / Div (``ufunc``) with one operand (the first when ``first``) the
    constant ``value`` (0-d, of a float type; ``rank``: the constant's rank): the ufunc on the
    0-d value for an array operand of its type and at least its rank (the result then has
    that operand's shape), ``plain`` (the node's kernel) for anything else. ``in_place``: as
    the plain kernel's ``_in_place`` / ``_into_second``, a large other operand that only this
    node reads is overwritten."""

    __slots__ = ("ufunc", "value", "rank", "first", "in_place", "plain")

    def __init__(self, ufunc, value, rank, first, in_place, plain):
        self.ufunc, self.value, self.rank, self.first = ufunc, value, rank, first
        self.in_place, self.plain = in_place, plain

    def __call__(self, a, b):
        if self.first:
            if type(b) is np.ndarray and b.dtype == self.value.dtype and b.ndim >= self.rank:
                if self.in_place and b.size >= elementwise._FILL_FROM and b.flags.writeable:
                    return self.ufunc(self.value, b, out=b)
                return self.ufunc(self.value, b)
        elif type(a) is np.ndarray and a.dtype == self.value.dtype and a.ndim >= self.rank:
            if self.in_place and a.size >= elementwise._FILL_FROM and a.flags.writeable:
                return self.ufunc(a, self.value, out=a)
            return self.ufunc(a, self.value)
        return self.plain(a, b)


_ARITHMETIC = {
    elementwise.Add: np.add,
    elementwise.Sub: np.subtract,
    elementwise.Mul: np.multiply,
    elementwise.Div: np.divide,
}


def _one_float(name: str, known: dict):
    value = known.get(name) if name else None
    if type(value) is np.ndarray and value.size == 1 and value.dtype.kind == "f":
        return value
    return None


def _arithmetic(node: Node, known: dict, overwrites: int | None = None):
    """``overwrites``: the operand (0 or 1) the plan let the kernel overwrite, if any."""
    if len(node.inputs) != 2 or node.attrs:
        return None
    fn = node.fn if overwrites is None else node.fn.func
    for index in (1, 0):  # (the second operand constant, then the first)
        value = _one_float(node.inputs[index], known)
        if value is not None and _one_float(node.inputs[1 - index], known) is None:
            value0 = value.reshape(())
            value0.flags.writeable = False  # (a view of the initializer: read only here)
            in_place = overwrites == 1 - index
            return OneValue(_ARITHMETIC[fn], value0, value.ndim, index == 0, in_place, node.fn)
    return None


def _in_place_arithmetic(node: Node, known: dict):
    """An Add / Sub / Mul / Div the plan let overwrite one operand."""
    fn = node.fn
    if getattr(fn, "func", None) not in _ARITHMETIC:
        return None
    if fn.keywords == {"_in_place": True}:
        return _arithmetic(node, known, overwrites=0)
    if fn.keywords == {"_into_second": True}:
        return _arithmetic(node, known, overwrites=1)
    return None


def _pow(node: Node, known: dict):
    if len(node.inputs) != 2 or node.attrs:
        return None
    y = known.get(node.inputs[1])
    if type(y) is not np.ndarray or y.size != 1 or y.dtype.kind not in "fiu":
        return None
    if y.reshape(()).item() != 2:
        return None
    return functools.partial(_squared, _rank=y.ndim)


def _squared(x, y, *, _rank):
    """Pow(x, 2) for a constant 2 of rank ``_rank``: x * x, as the plain kernel computes it."""
    if type(x) is np.ndarray and x.dtype.kind == "f" and x.ndim >= _rank:
        return np.multiply(x, x)
    return elementwise.Pow(x, y)


def _reshape(data, dims):
    return data.reshape(dims)  # (a method: a kernel may be given a numpy scalar)


def _reshaped(target, shape_, allowzero=0):
    return shape.reshaped(shape_, target, allowzero)


def _squeezed(axes, shape_):
    return shape.squeezed(shape_, axes)


def _unsqueezed(axes, shape_):
    return shape.unsqueezed(shape_, axes)


_BINDERS = {
    shape.Slice: _slice,
    shape.Reshape: _shaped(_reshaped),
    shape.Squeeze: _shaped(_squeezed),
    shape.Unsqueeze: _shaped(_unsqueezed),
    activation.Clip: _clip,
    elementwise.Pow: _pow,
    resize.Resize: resize_plan.bind,
    **dict.fromkeys(_ARITHMETIC, _arithmetic),
}


def bind_constant_inputs(nodes: list, known: dict) -> list:
    """``nodes`` with each node whose kernel can use its constant inputs bound to them."""
    planned = []
    for node in nodes:
        fn = None
        if node.domain in ("", "ai.onnx"):
            binder = _BINDERS.get(node.fn)
            if binder is None and type(node.fn) is functools.partial:
                binder = _in_place_arithmetic
            fn = binder(node, known) if binder is not None else None
        planned.append(node if fn is None else dataclasses.replace(node, fn=fn))
    return planned
