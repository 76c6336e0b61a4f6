"""Sorting-based selections: TopK and Unique (onnx.ai/onnx/operators).

TopK keeps the spec's tie rule (of equal values the lower index comes first) for both
``largest`` settings, so the result is the same whatever sort numpy picks.
"""

import numpy as np

from runtime.errors import InvalidModelError
from runtime.onnx.ops._common import axis_index, check_size, ints


def TopK(X, K, *, axis=-1, largest=1, sorted=1):  # noqa: A002 - ONNX attribute name
    if X.ndim == 0:
        raise InvalidModelError("TopK: input must have rank >= 1")
    a = axis_index(axis, X.ndim, "TopK")
    k = ints(K)
    if len(k) != 1:
        raise InvalidModelError(f"TopK: K must hold one value; received {len(k)}")
    n = X.shape[a]
    if not 0 <= k[0] <= n:
        raise InvalidModelError(f"TopK: K={k[0]} is not in [0, {n}] (axis {a})")
    out_shape = X.shape[:a] + (k[0],) + X.shape[a + 1 :]
    check_size(out_shape, "TopK", 8)
    if largest:
        # Sort the reversed axis stably and read it backwards: values descend and, among equal
        # values, the lower original index comes first.
        order = np.argsort(np.flip(X, a), axis=a, kind="stable")
        order = (n - 1) - np.flip(order, a)
    else:
        order = np.argsort(X, axis=a, kind="stable")
    index = np.take(order, np.arange(k[0]), axis=a).astype(np.int64)
    return np.take_along_axis(X, index, axis=a), index


def TopK_10(X, K, *, axis=-1):
    """TopK-10: no largest/sorted attributes (always the largest, sorted)."""
    return TopK(X, K, axis=axis)


def TopK_1(X, *, axis=-1, k):
    """TopK-1: k is an attribute."""
    return TopK(X, np.asarray([k], dtype=np.int64), axis=axis)


def Unique(X, *, axis=None, sorted=1):  # noqa: A002 - ONNX attribute name
    if axis is None:
        rows = X.reshape(-1, 1)
        a = None
    else:
        a = axis_index(axis, X.ndim, "Unique")
        rows = np.moveaxis(X, a, 0).reshape(X.shape[a], -1)
    first, inverse, counts = _unique_rows(rows)
    if not sorted:
        # Order of first occurrence: renumber the sorted uniques by where they first appear.
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        first, counts, inverse = first[order], counts[order], rank[inverse]
    if a is None:
        y = X.reshape(-1)[first]
    else:
        y = np.take(X, first, axis=a)
    as64 = [np.asarray(v, dtype=np.int64).reshape(-1) for v in (first, inverse, counts)]
    return (y, *as64)


def _unique_rows(rows: np.ndarray):
    """(first index, inverse, counts) of the distinct rows of a 2-D array, in sorted order."""
    if rows.dtype.kind != "O":
        view = rows if rows.shape[1] == 1 else rows
        _, first, inverse, counts = np.unique(
            view[:, 0] if rows.shape[1] == 1 else view,
            return_index=True,
            return_inverse=True,
            return_counts=True,
            axis=None if rows.shape[1] == 1 else 0,
        )
        return first, inverse.reshape(-1), counts
    # Strings (object arrays): numpy's unique has no axis for them; sort the rows as tuples.
    keys = [tuple(r) for r in rows.tolist()]
    order = sorted(range(len(keys)), key=keys.__getitem__)
    first, inverse, counts = [], np.empty(len(keys), dtype=np.int64), []
    for pos in order:
        if not first or keys[first[-1]] != keys[pos]:
            first.append(pos)
            counts.append(0)
        inverse[pos] = len(first) - 1
        counts[-1] += 1
    return np.asarray(first, dtype=np.int64), inverse, np.asarray(counts, dtype=np.int64)
