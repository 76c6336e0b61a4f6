"""Index-driven gathers and lookups: GatherND, OneHot, Compress, NonZero, Trilu, EyeLike,
ReverseSequence (onnx.ai/onnx/operators).

Every index and size read from a tensor is checked before use: an index outside its dim is
the model's error (``InvalidModelError``, as Gather), and an output whose size comes from values
(OneHot's depth, EyeLike, NonZero) is checked against the run's tensor limit before allocation.
"""

import numpy as np

from runtime.errors import InvalidModelError, UnsupportedOpError
from runtime.onnx._types import is_supported_elem_type, numpy_dtype
from runtime.onnx.ops._common import axis_index, check_size, ints


def _scalar_int(value, op: str, what: str) -> int:
    values = ints(value) if np.asarray(value).dtype.kind in "iub" else None
    if values is None:
        with np.errstate(invalid="ignore"):
            flat = np.asarray(value, dtype=np.float64).reshape(-1)
        if flat.size == 1 and not np.isfinite(flat[0]):
            raise InvalidModelError(f"{op}: {what} is not finite: {flat[0]}")
        values = [int(v) for v in flat]
    if len(values) != 1:
        raise InvalidModelError(f"{op}: {what} must hold one value; received {len(values)}")
    return values[0]


def check_indices(idx: np.ndarray, dims, op: str) -> np.ndarray:
    """``idx`` (last axis: one index per dim of ``dims``) in range, negatives made positive."""
    idx = idx.astype(np.int64, copy=False)
    dims = np.asarray(dims, dtype=np.int64)
    if idx.size:
        bad = (idx < -dims) | (idx >= dims)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise InvalidModelError(
                f"{op}: index {int(idx[where])} at position {list(where)} is out of range for "
                f"a dim of size {int(dims[where[-1]])}"
            )
    return np.where(idx < 0, idx + dims, idx)


def GatherND(data, indices, *, batch_dims=0):
    b = int(batch_dims)
    if indices.ndim < 1 or not 0 <= b < min(data.ndim, indices.ndim):
        raise InvalidModelError(
            f"GatherND: batch_dims {b} must be below the ranks of data ({data.ndim}) and "
            f"indices ({indices.ndim})"
        )
    if data.shape[:b] != indices.shape[:b]:
        raise InvalidModelError(
            f"GatherND: batch dims of data {list(data.shape)} and indices {list(indices.shape)} "
            "differ"
        )
    m = indices.shape[-1]
    if m > data.ndim - b:
        raise InvalidModelError(
            f"GatherND: indices address {m} dims but data has {data.ndim - b} after batch dims"
        )
    out_shape = indices.shape[:-1] + data.shape[b + m :]
    check_size(out_shape, "GatherND", data.dtype.itemsize)
    idx = check_indices(indices, data.shape[b : b + m], "GatherND")
    batch = int(np.prod(data.shape[:b]))
    flat = data.reshape((batch,) + data.shape[b:])
    idx = idx.reshape(batch, int(np.prod(indices.shape[b:-1])), m)
    rows = np.broadcast_to(np.arange(batch)[:, None], idx.shape[:2])
    return flat[(rows,) + tuple(idx[..., j] for j in range(m))].reshape(out_shape)


def GatherND_11(data, indices):
    """GatherND-11 has no batch_dims attribute."""
    return GatherND(data, indices)


def OneHot(indices, depth, values, *, axis=-1):
    d = _scalar_int(depth, "OneHot", "depth")
    if d < 1:
        raise InvalidModelError(f"OneHot: depth must be positive; received {d}")
    if values.size != 2:
        raise InvalidModelError(f"OneHot: values must hold [off, on]; received {values.size}")
    rank = indices.ndim + 1
    a = axis_index(axis, rank, "OneHot")
    shape = list(indices.shape)
    shape.insert(a, d)
    check_size(shape, "OneHot", values.dtype.itemsize)
    with np.errstate(invalid="ignore"):
        idx = indices.astype(np.int64) if indices.dtype.kind == "f" else indices
    idx = idx.astype(np.int64, copy=False)
    idx = np.where(idx < 0, idx + d, idx)  # -depth..-1 count from the end; others stay off
    hot = np.expand_dims(idx, a) == np.arange(d).reshape([-1 if i == a else 1 for i in range(rank)])
    off, on = values.reshape(-1)
    return np.where(hot, on, off).astype(values.dtype, copy=False)


def Compress(input, condition, *, axis=None):  # noqa: A002 - ONNX input name
    if condition.ndim != 1:
        raise InvalidModelError(f"Compress: condition must be 1-D; received {condition.ndim}-D")
    data = input.reshape(-1) if axis is None else input
    a = 0 if axis is None else axis_index(axis, input.ndim, "Compress")
    # A condition longer than the axis reads only its first dim entries (onnxruntime does).
    keep = np.flatnonzero(condition[: data.shape[a]])
    return np.take(data, keep, axis=a)


def NonZero(X):
    if X.ndim == 0:
        # numpy 2 refuses nonzero() on a scalar; a scalar is a rank-0 point with no coordinates.
        return np.zeros((0, int(bool(X))), dtype=np.int64)
    count = int(np.count_nonzero(X))
    check_size((X.ndim, count), "NonZero", 8)
    return np.asarray(np.nonzero(X), dtype=np.int64).reshape(X.ndim, count)


def Trilu(input, k=None, *, upper=1):  # noqa: A002 - ONNX input name
    if input.ndim < 2:
        raise InvalidModelError(f"Trilu: input must have rank >= 2; received {input.ndim}")
    n, m = input.shape[-2:]
    diag = 0 if k is None else _scalar_int(k, "Trilu", "k")
    diag = min(max(diag, -n - 1), m + 1)  # beyond the matrix every k gives the same result
    return np.triu(input, diag) if upper else np.tril(input, diag)


def EyeLike(input, *, dtype=None, k=0):  # noqa: A002 - ONNX input name
    if input.ndim != 2:
        raise InvalidModelError(f"EyeLike: input must be 2-D; received {input.ndim}-D")
    if dtype is None:
        out_type = input.dtype
    elif is_supported_elem_type(dtype) and numpy_dtype(dtype).kind != "O":
        out_type = numpy_dtype(dtype)
    else:
        raise UnsupportedOpError(f"EyeLike: dtype {dtype} is not supported")
    n, m = input.shape
    check_size((n, m), "EyeLike", out_type.itemsize)
    return np.eye(n, m, k=min(max(int(k), -n - 1), m + 1), dtype=out_type)


def ReverseSequence(input, sequence_lens, *, batch_axis=1, time_axis=0):  # noqa: A002
    if input.ndim < 2 or {batch_axis, time_axis} != {0, 1}:
        raise InvalidModelError(
            f"ReverseSequence: batch_axis {batch_axis} and time_axis {time_axis} must be 0 and 1 "
            f"of an input of rank >= 2 (rank {input.ndim})"
        )
    x = np.moveaxis(input, (time_axis, batch_axis), (0, 1))
    steps, batch = x.shape[:2]
    lens = np.asarray(ints(sequence_lens), dtype=np.int64)
    if lens.shape != (batch,) or np.asarray(sequence_lens).ndim != 1:
        raise InvalidModelError(
            f"ReverseSequence: sequence_lens must have shape [{batch}]; received "
            f"{list(np.shape(sequence_lens))}"
        )
    if lens.size and (lens.min() < 0 or lens.max() > steps):
        raise InvalidModelError(
            f"ReverseSequence: sequence_lens must be in [0, {steps}]; received {lens.tolist()}"
        )
    t = np.arange(steps)[:, None]
    src = np.where(t < lens, lens - 1 - t, t)  # [steps, batch]
    y = x[src, np.arange(batch)[None, :]]
    return np.ascontiguousarray(np.moveaxis(y, (0, 1), (time_axis, batch_axis)))
