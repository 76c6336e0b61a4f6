"""Kernels bound at load to the constant inputs they read.

A Slice's starts / ends / axes / steps, a Squeeze's or Unsqueeze's axes and a Reshape's target
shape are usually constants (initializers, or Constant nodes folded by the plan). What the
kernel derives from them and from its input's dims (a numpy index, an output shape: after the
same checks, with the same errors) is then derived once per input shape and remembered; a run
only applies it (a view of the input). A Clip's constant one-value bounds are checked (NaN,
rank) once.

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
from runtime.onnx.ops import activation, shape

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
}


def bind_constant_inputs(nodes: list, known: dict) -> list:
    """``nodes`` with each node whose kernel can use its constant inputs bound to them."""
    planned = []
    for node in nodes:
        binder = _BINDERS.get(node.fn) if node.domain in ("", "ai.onnx") else None
        fn = binder(node, known) if binder is not None else None
        planned.append(node if fn is None else dataclasses.replace(node, fn=fn))
    return planned
