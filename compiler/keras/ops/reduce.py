"""Reduction primitives: sum, max and min, and mean built from sum."""

import builtins

from compiler.keras.backend import xp
from compiler.keras.ops._core import as_tensor, primitive

__all__ = ["sum", "mean", "max", "min", "argmax", "logsumexp"]


def _normalize(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(a % ndim for a in axes)


@primitive("sum")
def _sum(a, axis, keepdims):
    return a.sum(axis=axis, keepdims=keepdims), (a.shape, axis, keepdims)


@_sum.defgrad
def _sum_grad(ctx, g):
    shape, axis, keepdims = ctx
    if not keepdims:
        g = xp.expand_dims(g, axis)
    return (xp.broadcast_to(g, shape),)


def sum(x, axis=None, keepdims=False):  # noqa: A001 - Keras's name
    x = as_tensor(x)
    return _sum(x, axis=_normalize(axis, x.ndim), keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    x = as_tensor(x)
    axes = _normalize(axis, x.ndim)
    count = 1
    for a in axes:
        count *= x.shape[a]
    return _sum(x, axis=axes, keepdims=keepdims) * (1.0 / builtins.max(count, 1))


def _extreme(reducer):
    def forward(a, axis, keepdims):
        out = reducer(a, axis=axis, keepdims=True)
        # Ties share the gradient equally, as TensorFlow does.
        hits = a == out
        share = hits / hits.sum(axis=axis, keepdims=True)
        return (out if keepdims else out.squeeze(axis)), (share, axis, keepdims)

    return forward


def _extreme_grad(ctx, g):
    share, axis, keepdims = ctx
    if not keepdims:
        g = xp.expand_dims(g, axis)
    return (share * g,)


_max = primitive("max")(_extreme(xp.max))
_max.defgrad(_extreme_grad)
_min = primitive("min")(_extreme(xp.min))
_min.defgrad(_extreme_grad)


def max(x, axis=None, keepdims=False):  # noqa: A001 - Keras's name
    x = as_tensor(x)
    return _max(x, axis=_normalize(axis, x.ndim), keepdims=keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001 - Keras's name
    x = as_tensor(x)
    return _min(x, axis=_normalize(axis, x.ndim), keepdims=keepdims)


def argmax(x, axis=-1):
    """Index of the largest value (not differentiable)."""
    return as_tensor(xp.argmax(as_tensor(x).data, axis=axis))


def logsumexp(x, axis=None, keepdims=False):
    from compiler.keras.ops.math import exp, log, stop_gradient

    x = as_tensor(x)
    peak = stop_gradient(max(x, axis=axis, keepdims=True))
    out = log(sum(exp(x - peak), axis=axis, keepdims=True)) + peak
    if not keepdims:
        out = _squeeze(out, _normalize(axis, x.ndim))
    return out


def _squeeze(x, axes):
    from compiler.keras.ops.shape import squeeze

    return squeeze(x, axis=axes)
