"""RANK, BROADCAST_ARGS, WHERE, DYNAMIC_UPDATE_SLICE, REVERSE_SEQUENCE, MATRIX_DIAG,
MATRIX_SET_DIAG and SPARSE_TO_DENSE.

References: ``tflite/kernels/rank.cc``, ``broadcast_args.cc``, ``where.cc``,
``dynamic_update_slice.cc``, ``reverse_sequence.cc``, ``matrix_diag.cc``,
``matrix_set_diag.cc``, ``sparse_to_dense.cc``. WHERE gives the int64 coordinates of the
nonzero elements in row-major order. DYNAMIC_UPDATE_SLICE clamps each start index to
[0, dim - update dim]. REVERSE_SEQUENCE reverses, for each index b along ``batch_dim``, the
first ``seq_lengths[b]`` elements along ``seq_dim``. SPARSE_TO_DENSE fills ``output_shape``
with the default value and writes ``values`` (one, or one per index row) at ``indices``; an
index outside the shape is an error. Sizes that come from values (WHERE's count,
SPARSE_TO_DENSE's shape) are checked against the run's tensor limit before allocation.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c
from runtime.tflite.schema import TensorType

_VALUES = (c.F32, c.I8, c.U8, c.I16, c.I32, c.I64, c.BOOL)
# LiteRT's matrix_diag.cc / matrix_set_diag.cc copy bool wrongly: not offered here.
_DIAG_VALUES = (c.F32, c.I8, c.U8, c.I32, c.I64)


def prepare_rank(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1)

    def run(x):
        return [np.array(x.ndim, np.int32).reshape(ctx.outputs[0].shape)]

    return run


def prepare_broadcast_args(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(2)
    ctx.require_types((c.I32, c.I64), inputs=(0, 1))

    def run(a, b):
        if a.ndim != 1 or b.ndim != 1:
            raise ctx.fail("shapes must be 1-D")
        try:
            shape = np.broadcast_shapes(tuple(int(d) for d in a), tuple(int(d) for d in b))
        except ValueError:
            raise ctx.fail(f"shapes {a.tolist()} and {b.tolist()} do not broadcast") from None
        return [np.array(shape, a.dtype)]

    return run


def prepare_where(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1)
    if ctx.out_type() != c.I64:
        raise ctx.fail("output must be int64")

    def run(x):
        count = int(np.count_nonzero(x))
        c.check_alloc(ctx, (count, x.ndim), "output", 8)
        return [np.argwhere(x).astype(np.int64).reshape(count, x.ndim)]

    return run


def prepare_dynamic_update_slice(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(3)
    ctx.require_types(_VALUES + (TensorType.FLOAT16,), inputs=(0, 1))
    if ctx.in_type(2) not in (c.I32, c.I64):
        raise ctx.fail("start indices must be int32 or int64")

    def run(operand, update, start):
        if update.ndim != operand.ndim or start.shape != (operand.ndim,):
            raise ctx.fail(
                f"operand {list(operand.shape)}, update {list(update.shape)} and start indices "
                f"{list(start.shape)} do not agree"
            )
        if any(u > o for u, o in zip(update.shape, operand.shape)):
            raise ctx.fail(f"update {list(update.shape)} larger than {list(operand.shape)}")
        begin = [min(max(int(s), 0), o - u) for s, o, u in zip(start, operand.shape, update.shape)]
        out = operand.copy()
        out[tuple(slice(b, b + u) for b, u in zip(begin, update.shape))] = update
        return [out]

    return run


def prepare_reverse_sequence(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(2)
    ctx.require_types(_VALUES)
    if ctx.in_type(1) not in (c.I32, c.I64):
        raise ctx.fail("seq_lengths must be int32 or int64")
    seq_dim, batch_dim = ctx.options["seq_dim"], ctx.options["batch_dim"]

    def run(x, lengths):
        if not (0 <= seq_dim < x.ndim and 0 <= batch_dim < x.ndim) or seq_dim == batch_dim:
            raise ctx.fail(f"seq_dim {seq_dim} and batch_dim {batch_dim} invalid for rank {x.ndim}")
        if lengths.shape != (x.shape[batch_dim],):
            raise ctx.fail(
                f"seq_lengths of shape {list(lengths.shape)} for batch {x.shape[batch_dim]}"
            )
        if lengths.size and (lengths.min() < 0 or lengths.max() > x.shape[seq_dim]):
            raise ctx.fail(f"seq_lengths outside [0, {x.shape[seq_dim]}]")
        n = x.shape[seq_dim]
        pos = np.arange(n)
        # Per batch entry b: source position along seq_dim of each output position.
        src = np.where(pos[None, :] < lengths[:, None], lengths[:, None] - 1 - pos[None, :], pos)
        shape = [1] * x.ndim
        shape[batch_dim], shape[seq_dim] = src.shape[0], n
        if batch_dim > seq_dim:
            src = src.T
        index = src.reshape(shape)
        return [np.take_along_axis(x, np.broadcast_to(index, x.shape), axis=seq_dim)]

    return run


def prepare_matrix_diag(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1)
    ctx.require_types(_DIAG_VALUES)

    def run(diagonal):
        if diagonal.ndim < 1:
            raise ctx.fail("diagonal must have rank >= 1")
        n = diagonal.shape[-1]
        c.check_alloc(ctx, diagonal.shape + (n,), "output", diagonal.dtype.itemsize)
        out = np.zeros(diagonal.shape + (n,), diagonal.dtype)
        idx = np.arange(n)
        out[..., idx, idx] = diagonal
        return [out]

    return run


def prepare_matrix_set_diag(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(2)
    ctx.require_types(_DIAG_VALUES, inputs=(0, 1))

    def run(x, diagonal):
        if x.ndim < 2 or diagonal.shape != x.shape[:-2] + (min(x.shape[-2:]),):
            raise ctx.fail(f"diagonal {list(diagonal.shape)} does not fit {list(x.shape)}")
        out = x.copy()
        idx = np.arange(diagonal.shape[-1])
        out[..., idx, idx] = diagonal
        return [out]

    return run


def prepare_sparse_to_dense(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(4)
    ctx.require_types((c.F32, c.I8, c.U8, c.I32, c.I64), inputs=(2, 3))
    if ctx.in_type(0) not in (c.I32, c.I64) or ctx.in_type(1) not in (c.I32, c.I64):
        raise ctx.fail("indices and output_shape must be int32 or int64")

    def run(indices, shape, values, default):
        dims = tuple(int(d) for d in shape.ravel())
        rank = len(dims)
        if indices.ndim > 2 or default.size != 1:
            raise ctx.fail("indices must have rank <= 2 and default_value one element")
        rows = indices.reshape(-1, rank) if indices.ndim == 2 else indices.reshape(-1, 1)
        if rows.shape[1] != rank:
            raise ctx.fail(f"indices of shape {list(indices.shape)} for output rank {rank}")
        if values.size not in (1, rows.shape[0]):
            raise ctx.fail(f"{values.size} values for {rows.shape[0]} indices")
        c.check_alloc(ctx, dims, "output", values.dtype.itemsize)
        if len(rows) and (rows.min() < 0 or np.any(rows >= np.array(dims))):
            raise ctx.fail(f"an index lies outside the output shape {list(dims)}")
        out = np.full(dims, default.ravel()[0], values.dtype)
        flat = np.ravel_multi_index(tuple(rows.T), dims) if rank else np.zeros(len(rows), int)
        src = np.broadcast_to(values.ravel(), (rows.shape[0],))
        # A repeated index keeps the last value, as LiteRT's sequential writes do.
        _, last_from_end = np.unique(flat[::-1], return_index=True)
        keep = len(flat) - 1 - last_from_end
        out.reshape(-1)[flat[keep]] = src[keep]
        return [out]

    return run
