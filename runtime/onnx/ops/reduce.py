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
    return _extremum(np.maximum, np.fmax, x, axes, keepdims)


def _min(x, axes, keepdims):
    return _extremum(np.minimum, np.fmin, x, axes, keepdims)


def _extremum(propagating, skipping, x, axes, keepdims):
    """x.max / x.min without their wrapper, NaN as onnxruntime gives it where that is a rule.

    Keeping the innermost axis, onnxruntime runs ``best = v > best ? v : best`` (its RK / KRK
    fast paths, and the generic loop) from the first element of each reduced slice: a NaN
    there stays, a later NaN is passed over. Reducing the innermost axis (or every axis) it
    takes Eigen's vectorized maxCoeff, whose NaN result depends on where the NaN falls in its
    SIMD lanes and on the buffer's alignment: no rule to follow, so numpy's (NaN wins) stays.
    """
    if len(axes) == x.ndim:  # every axis as None: one pass, not a loop of passes
        return propagating.reduce(x, axis=None, keepdims=keepdims)
    y = propagating.reduce(x, axis=axes, keepdims=keepdims)
    if x.dtype.kind != "f" or axes[-1] == x.ndim - 1 or not np.isnan(y).any():
        return y  # (a NaN anywhere makes numpy's result NaN: the check is on the result)
    y = skipping.reduce(x, axis=axes, keepdims=keepdims)
    first = x[tuple(slice(0, 1) if i in axes else slice(None) for i in range(x.ndim))]
    nan = np.isnan(first)
    if nan.any():
        y[nan.reshape(y.shape)] = np.nan
    return y


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
    if data.dtype.kind == "f":
        # numpy picks the first NaN; onnxruntime's loop does not (below). Only a picked NaN
        # says there is one, so the check costs one gather of the (reduced) result.
        picked = np.take_along_axis(data, np.expand_dims(result, axis), axis)
        if np.isnan(picked).any():
            result = _arg_skipping_nan(fn is np.argmax, data, axis, select_last_index)
    if keepdims:
        result = np.expand_dims(result, axis)
    return result.astype(np.int64)


def _arg_skipping_nan(largest, data, axis, select_last_index):
    """onnxruntime's ArgMax / ArgMin with NaN: a loop from each row's first element that takes
    a value when ``v > best`` (``>=`` to select the last index; ``<`` / ``<=`` for ArgMin). A
    NaN first element is never replaced (index 0); any later NaN is never taken."""
    nan = np.isnan(data)
    filled = np.where(nan, -np.inf if largest else np.inf, data)
    best = (np.max if largest else np.min)(filled, axis=axis, keepdims=True)
    candidates = (filled == best) & ~nan
    if select_last_index:
        index = data.shape[axis] - 1 - np.argmax(np.flip(candidates, axis=axis), axis=axis)
    else:
        index = np.argmax(candidates, axis=axis)
    return np.where(np.take(nan, 0, axis=axis), 0, index)


def ArgMax(data, *, axis=0, keepdims=1, select_last_index=0):
    return _arg(np.argmax, "ArgMax", data, axis, keepdims, select_last_index)


def ArgMin(data, *, axis=0, keepdims=1, select_last_index=0):
    return _arg(np.argmin, "ArgMin", data, axis, keepdims, select_last_index)
