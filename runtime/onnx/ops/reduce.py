"""ReduceMean, ReduceMax, ReduceMin, ReduceSum, ReduceProd, ReduceSumSquare, ReduceL1, ReduceL2,
ReduceLogSum, ReduceLogSumExp, ArgMax, ArgMin (onnx.ai/onnx/operators).

Axes come from the ``axes`` attribute (older opsets) or the second input (ReduceSum since 13,
the others since 18); both forms are accepted. Empty axes reduce everything, unless
``noop_with_empty_axes`` is set.
"""

import math

import numpy as np

from runtime.errors import InvalidModelError
from runtime.onnx._types import EXOTIC_FLOATS
from runtime.onnx.ops._common import axis_index, ints


def _lowest(dtype):
    if dtype.kind == "b":
        return False
    return -np.inf if dtype.kind == "f" or dtype in EXOTIC_FLOATS else np.iinfo(dtype).min


def _highest(dtype):
    if dtype.kind == "b":
        return True
    return np.inf if dtype.kind == "f" or dtype in EXOTIC_FLOATS else np.iinfo(dtype).max


_EMPTY_IDENTITY = {
    "ReduceMax": _lowest,
    "ReduceMin": _highest,
    "ReduceLogSumExp": lambda dtype: -np.inf,
    "ReduceLogSum": lambda dtype: -np.inf,
}


def _reduce(fn, op, data, axes_input, axes, keepdims, noop_with_empty_axes):
    if axes_input is not None:
        axes = ints(axes_input)
    rank = data.ndim
    if not axes:
        if noop_with_empty_axes:
            return data
        axes = tuple(range(rank))
    elif len(axes) == 1:  # (the common case, without the set and the sort)
        axes = (axis_index(axes[0], rank, op),)
    else:
        axes = tuple(sorted({axis_index(a, rank, op) for a in axes}))
    if data.size == 0 and op in _EMPTY_IDENTITY:
        # Reducing an empty set gives the reduction's identity (ONNX: -inf for max, ...).
        shape = [1 if i in axes else d for i, d in enumerate(data.shape)]
        if not keepdims:
            shape = [d for i, d in enumerate(shape) if i not in axes]
        return np.full(shape, _EMPTY_IDENTITY[op](data.dtype), dtype=data.dtype)
    result = fn(data, axes, bool(keepdims))
    if type(result) is np.ndarray and result.dtype == data.dtype:
        return result
    return np.asarray(result).astype(data.dtype, copy=False)


def _mean(x, axes, keepdims):
    """numpy's mean; for float32/float64 its own two steps (a pairwise sum in the input's type,
    then one division by the count) without the generic wrapper around them."""
    if x.dtype not in (np.float32, np.float64) or not x.size:
        return x.mean(axis=axes, keepdims=keepdims)
    total = np.add.reduce(x, axis=axes, keepdims=keepdims)
    count = x.shape[axes[0]] if len(axes) == 1 else math.prod(x.shape[a] for a in axes)
    if type(total) is np.ndarray and total.size >= _DIVIDE_IN_PLACE_FROM:
        return np.true_divide(total, count, out=total)
    return np.true_divide(total, count)


# From this many elements a mean's sums are divided in place (below, ``out=`` costs more than
# the new array).
_DIVIDE_IN_PLACE_FROM = 2048


def _max(x, axes, keepdims):
    # x.max without its wrapper; every axis as None (exact either way: one pass, not a loop
    # of passes)
    return np.maximum.reduce(x, axis=None if len(axes) == x.ndim else axes, keepdims=keepdims)


def _min(x, axes, keepdims):
    return np.minimum.reduce(x, axis=None if len(axes) == x.ndim else axes, keepdims=keepdims)


def ReduceMean(data, axes_input=None, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    return _reduce(
        _mean,
        "ReduceMean",
        data,
        axes_input,
        axes,
        keepdims,
        noop_with_empty_axes,
    )


def ReduceMax(data, axes_input=None, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    return _reduce(
        _max,
        "ReduceMax",
        data,
        axes_input,
        axes,
        keepdims,
        noop_with_empty_axes,
    )


def ReduceMin(data, axes_input=None, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    return _reduce(
        _min,
        "ReduceMin",
        data,
        axes_input,
        axes,
        keepdims,
        noop_with_empty_axes,
    )


def ReduceSum(data, axes_input=None, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    return _reduce(
        lambda x, a, k: x.sum(axis=a, keepdims=k),
        "ReduceSum",
        data,
        axes_input,
        axes,
        keepdims,
        noop_with_empty_axes,
    )


def ReduceProd(data, axes_input=None, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    return _reduce(
        lambda x, a, k: x.prod(axis=a, keepdims=k),
        "ReduceProd",
        data,
        axes_input,
        axes,
        keepdims,
        noop_with_empty_axes,
    )


def ReduceSumSquare(data, axes_input=None, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    return _reduce(
        lambda x, a, k: (x * x).sum(axis=a, keepdims=k),
        "ReduceSumSquare",
        data,
        axes_input,
        axes,
        keepdims,
        noop_with_empty_axes,
    )


def ReduceL1(data, axes_input=None, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    return _reduce(
        lambda x, a, k: np.abs(x).sum(axis=a, keepdims=k),
        "ReduceL1",
        data,
        axes_input,
        axes,
        keepdims,
        noop_with_empty_axes,
    )


def ReduceL2(data, axes_input=None, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    return _reduce(
        lambda x, a, k: np.sqrt((x * x).sum(axis=a, keepdims=k)),
        "ReduceL2",
        data,
        axes_input,
        axes,
        keepdims,
        noop_with_empty_axes,
    )


def ReduceLogSum(data, axes_input=None, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    return _reduce(
        lambda x, a, k: np.log(x.sum(axis=a, keepdims=k)),
        "ReduceLogSum",
        data,
        axes_input,
        axes,
        keepdims,
        noop_with_empty_axes,
    )


def _logsumexp(x, a, k):
    m = x.max(axis=a, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    y = np.log(np.exp(x - m).sum(axis=a, keepdims=True)) + m
    return y if k else y.squeeze(axis=a)


def ReduceLogSumExp(data, axes_input=None, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    return _reduce(
        _logsumexp, "ReduceLogSumExp", data, axes_input, axes, keepdims, noop_with_empty_axes
    )


def _arg(fn, op, data, axis, keepdims, select_last_index):
    axis = axis_index(axis, data.ndim, op)
    if data.shape[axis] == 0:
        raise InvalidModelError(f"{op}: cannot reduce an empty axis {axis}")
    if select_last_index:
        flipped = np.flip(data, axis=axis)
        result = data.shape[axis] - 1 - fn(flipped, axis=axis)
    else:
        result = fn(data, axis=axis)
    if keepdims:
        result = np.expand_dims(result, axis)
    return result.astype(np.int64)


def ArgMax(data, *, axis=0, keepdims=1, select_last_index=0):
    return _arg(np.argmax, "ArgMax", data, axis, keepdims, select_last_index)


def ArgMin(data, *, axis=0, keepdims=1, select_last_index=0):
    return _arg(np.argmin, "ArgMin", data, axis, keepdims, select_last_index)
