"""Scatters: ScatterND, ScatterElements and its deprecated name Scatter (opsets 9-10)
(onnx.ai/onnx/operators).

Indices are checked in range before anything is written; with a reduction, duplicate indices
each contribute (numpy's unbuffered ``ufunc.at``); without one, the last write wins, one of the
orders the spec allows.
"""

import numpy as np

from runtime.errors import InvalidModelError
from runtime.onnx.ops._common import axis_index
from runtime.onnx.ops.indexing_nd import check_indices

_REDUCE = {
    "none": None,
    "add": np.add,
    "mul": np.multiply,
    "max": np.maximum,
    "min": np.minimum,
}


def _reduction(op: str, reduction: str, allowed) -> object:
    if reduction not in allowed:
        raise InvalidModelError(
            f"{op}: reduction {reduction!r} is not one of {list(allowed)} at this opset"
        )
    return _REDUCE[reduction]


def _write(out, where, updates, ufunc):
    if ufunc is None:
        out[where] = updates
    elif out.dtype == np.bool_ and ufunc in (np.add, np.multiply):
        # bool add / mul are or / and (numpy's bool arithmetic), written explicitly.
        (np.logical_or if ufunc is np.add else np.logical_and).at(out, where, updates)
    else:
        ufunc.at(out, where, updates)
    return out


def ScatterND(data, indices, updates, *, reduction="none"):
    return _scatter_nd(data, indices, updates, _reduction("ScatterND", reduction, _REDUCE))


def ScatterND_16(data, indices, updates, *, reduction="none"):
    """ScatterND-16: reductions none, add and mul (18 added max and min)."""
    return _scatter_nd(
        data, indices, updates, _reduction("ScatterND", reduction, ("none", "add", "mul"))
    )


def ScatterND_11(data, indices, updates):
    """ScatterND before opset 16: no reduction."""
    return _scatter_nd(data, indices, updates, None)


def _scatter_nd(data, indices, updates, ufunc):
    if indices.ndim < 1:
        raise InvalidModelError("ScatterND: indices must have rank >= 1")
    m = indices.shape[-1]
    if m > data.ndim:
        raise InvalidModelError(f"ScatterND: indices address {m} dims of a rank-{data.ndim} input")
    expected = indices.shape[:-1] + data.shape[m:]
    if updates.shape != expected:
        raise InvalidModelError(
            f"ScatterND: updates have shape {list(updates.shape)}; expected {list(expected)}"
        )
    if updates.dtype != data.dtype:
        raise InvalidModelError(f"ScatterND: updates {updates.dtype} differ from data {data.dtype}")
    idx = check_indices(indices, data.shape[:m], "ScatterND")
    where = tuple(idx[..., j] for j in range(m))
    return _write(data.copy(), where, updates, ufunc)


def ScatterElements(data, indices, updates, *, axis=0, reduction="none"):
    return _scatter_elements(
        data, indices, updates, axis, _reduction("ScatterElements", reduction, _REDUCE)
    )


def ScatterElements_16(data, indices, updates, *, axis=0, reduction="none"):
    """ScatterElements-16: reductions none, add and mul (18 added max and min)."""
    allowed = ("none", "add", "mul")
    return _scatter_elements(
        data, indices, updates, axis, _reduction("ScatterElements", reduction, allowed)
    )


def ScatterElements_11(data, indices, updates, *, axis=0):
    """ScatterElements before opset 16 (and Scatter, opsets 9-10): no reduction."""
    return _scatter_elements(data, indices, updates, axis, None)


def Scatter(data, indices, updates, *, axis=0):
    return _scatter_elements(data, indices, updates, axis, None, "Scatter")


def _scatter_elements(data, indices, updates, axis, ufunc, op="ScatterElements"):
    if data.ndim == 0:
        raise InvalidModelError(f"{op}: data must have rank >= 1")
    a = axis_index(axis, data.ndim, op)
    if indices.ndim != data.ndim or updates.shape != indices.shape:
        raise InvalidModelError(
            f"{op}: indices {list(indices.shape)} and updates {list(updates.shape)} must have "
            f"one shape, of the rank of data {list(data.shape)}"
        )
    off_axis = [(i, d) for k, (i, d) in enumerate(zip(indices.shape, data.shape)) if k != a]
    if any(i > d for i, d in off_axis):
        raise InvalidModelError(
            f"{op}: indices {list(indices.shape)} exceed data {list(data.shape)} off the axis"
        )
    if updates.dtype != data.dtype:
        raise InvalidModelError(f"{op}: updates {updates.dtype} differ from data {data.dtype}")
    idx = check_indices(indices[..., None], [data.shape[a]], op)[..., 0]
    where = list(np.indices(indices.shape, sparse=True))
    where[a] = idx
    return _write(data.copy(), tuple(where), updates, ufunc)
