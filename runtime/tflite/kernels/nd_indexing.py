"""GATHER_ND, SCATTER_ND, ONE_HOT, TOPK_V2.

References: ``tflite/kernels/gather_nd.cc`` and ``scatter_nd.cc`` (an index outside the
tensor is an error; SCATTER_ND adds the updates of repeated indices), ``one_hot.cc``
(out-of-range indices give rows of ``off_value``), ``topk_v2.cc`` (the ``k`` largest values in
descending order, equal values by ascending index). All move or select values without
arithmetic except SCATTER_ND's sums, so quantized tensors keep their values.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c

_VALUE_TYPES = (c.F32, c.U8, c.I8, c.I16, c.I32, c.I64)
_NP = {
    c.F32: np.float32,
    c.U8: np.uint8,
    c.I8: np.int8,
    c.I16: np.int16,
    c.I32: np.int32,
    c.I64: np.int64,
    c.BOOL: np.bool_,
}


def _check_index_type(ctx: c.OpContext, k: int, allowed=(c.I16, c.I32, c.I64)) -> None:
    if ctx.in_type(k) not in allowed:
        raise ctx.fail(f"input {k} (indices) must be one of int16, int32, int64")


def prepare_gather_nd(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(2)
    ctx.require_types(_VALUE_TYPES + (c.BOOL,))
    _check_index_type(ctx, 1)
    return gather_nd(ctx)


def gather_nd(ctx: c.OpContext) -> c.Eval:
    """GATHER_ND's evaluation, for any params type (the STRING kernels use it too)."""

    def run(params, indices):
        if indices.ndim < 1 or not 1 <= indices.shape[-1] <= params.ndim:
            raise ctx.fail(
                f"indices of shape {list(indices.shape)} do not fit params of rank {params.ndim}"
            )
        depth = indices.shape[-1]
        idx = indices.reshape(-1, depth).astype(np.int64)
        bounds = np.asarray(params.shape[:depth], np.int64)
        if idx.size and ((idx < 0).any() or (idx >= bounds).any()):
            raise ctx.fail(f"an index is outside the params' leading dims {bounds.tolist()}")
        out_shape = indices.shape[:-1] + params.shape[depth:]
        c.check_alloc(ctx, out_shape, "output", params.dtype.itemsize)
        return [params[tuple(idx.T)].reshape(out_shape)]

    return run


def prepare_scatter_nd(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(3)
    ttype = ctx.require_types((c.F32, c.U8, c.I8, c.I32, c.I64, c.BOOL), inputs=(1,))
    _check_index_type(ctx, 0, (c.I32,))
    if ctx.in_type(2) not in (c.I32,):
        raise ctx.fail("shape must be int32")
    dtype = _NP[ttype]

    def run(indices, updates, shape):
        target = [int(d) for d in shape.ravel()]
        if shape.ndim != 1 or min(target, default=0) < 0:
            raise ctx.fail(f"shape {target} must be a 1-D list of dims >= 0")
        if indices.ndim < 1 or not 1 <= indices.shape[-1] <= len(target):
            raise ctx.fail(f"indices of shape {list(indices.shape)} do not fit shape {target}")
        depth = indices.shape[-1]
        want = list(indices.shape[:-1]) + target[depth:]
        if list(updates.shape) != want:
            raise ctx.fail(f"updates of shape {list(updates.shape)} must have shape {want}")
        c.check_alloc(ctx, target, "output", dtype().itemsize)
        idx = indices.reshape(-1, depth).astype(np.int64)
        bounds = np.asarray(target[:depth], np.int64)
        if idx.size and ((idx < 0).any() or (idx >= bounds).any()):
            raise ctx.fail(f"an index is outside the output's leading dims {bounds.tolist()}")
        y = np.zeros(target, dtype)
        rows = updates.reshape((idx.shape[0],) + tuple(target[depth:]))
        if ttype == c.BOOL:
            np.logical_or.at(y, tuple(idx.T), rows)
        else:
            # Repeated indices add up, wrapping in the tensor's type as the C++ loop does.
            np.add.at(y, tuple(idx.T), rows)
        return [y]

    return run


def prepare_one_hot(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(4)
    ttype = ctx.require_types(_VALUE_TYPES + (c.BOOL,), inputs=(2, 3))
    if ctx.in_type(0) not in (c.I32, c.I64):
        raise ctx.fail("indices must be int32 or int64")
    if ctx.in_type(1) != c.I32:
        raise ctx.fail("depth must be int32")
    axis = ctx.options["axis"]
    dtype = _NP[ttype]

    def run(indices, depth, on_value, off_value):
        if depth.size != 1 or on_value.size != 1 or off_value.size != 1:
            raise ctx.fail("depth, on_value and off_value must be scalars")
        d = int(depth.ravel()[0])
        if d < 0:
            raise ctx.fail(f"depth {d} must be >= 0")
        rank = indices.ndim + 1
        if not -1 <= axis < rank:
            raise ctx.fail(f"axis {axis} out of range for output rank {rank}")
        a = axis % rank
        out_shape = indices.shape[:a] + (d,) + indices.shape[a:]
        c.check_alloc(ctx, out_shape, "output", dtype().itemsize)
        hot = np.expand_dims(indices, a) == np.arange(d).reshape([-1] + [1] * (rank - a - 1))
        on, off = on_value.ravel()[0], off_value.ravel()[0]
        return [np.where(hot, on, off).astype(dtype)]

    return run


def prepare_topk_v2(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(2, 2)
    ctx.require_types(_VALUE_TYPES)
    if ctx.in_type(1) not in (c.I16, c.I32):
        raise ctx.fail("k must be int16 or int32")
    index_dtype = {c.I32: np.int32, c.I16: np.int16}.get(ctx.out_type(1))
    if index_dtype is None:
        raise ctx.fail("indices output must be int32 or int16")

    def run(x, k):
        if k.size != 1 or x.ndim < 1:
            raise ctx.fail("k must be a scalar and the input at least 1-D")
        k = int(k.ravel()[0])
        if not 0 <= k <= x.shape[-1]:
            raise ctx.fail(f"k {k} must be in [0, {x.shape[-1]}]")
        # A stable sort of the negated values: descending, equal values by ascending index.
        wide = x.astype(np.float64 if x.dtype.kind == "f" else np.int64)
        order = np.argsort(-wide, axis=-1, kind="stable")[..., :k]
        values = np.take_along_axis(x, order, axis=-1)
        return [np.ascontiguousarray(values), order.astype(index_dtype)]

    return run
