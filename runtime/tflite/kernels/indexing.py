"""REVERSE_V2, TILE, ARG_MAX, ARG_MIN, REDUCE_MAX, REDUCE_MIN, SPLIT_V, UNPACK, RANGE.

References: ``tflite/kernels/reverse.cc``, ``tile.cc``, ``arg_min_max.cc``, ``reduce.cc``,
``split_v.cc``, ``unpack.cc``, ``range.cc``. All move or select values without arithmetic,
so int8 tensors keep their quantization (REDUCE_MAX/MIN and ARG_* compare raw values).
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c

_VALUES = (c.F32, c.I8, c.I32, c.I64, c.U8, c.BOOL)


def _axis(ctx, a, rank):
    if not -rank <= a < max(rank, 1):
        raise ctx.fail(f"axis {a} out of range for rank {rank}")
    return a % max(rank, 1)


def prepare_reverse(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(2)
    ctx.require_types(_VALUES)

    def run(x, axes):
        axes = tuple(sorted({_axis(ctx, int(a), x.ndim) for a in axes.ravel()}))
        return [np.flip(x, axis=axes).copy()]

    return run


def prepare_tile(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(2)
    ctx.require_types(_VALUES)

    def run(x, multiples):
        reps = [int(m) for m in multiples.ravel()]
        if len(reps) != x.ndim or min(reps, default=1) < 0:
            raise ctx.fail(f"multiples {reps} do not fit rank {x.ndim}")
        c.check_alloc(ctx, [d * m for d, m in zip(x.shape, reps)], "output")
        return [np.tile(x, reps)]

    return run


def _float_arg(best):
    """ARG_MAX (``best`` np.fmax) or ARG_MIN (np.fmin) of float32 as ``reference_ops::
    ArgMinMax``'s NaN-aware compare: a NaN never wins, any number replaces a NaN first, ties
    keep the first; 0 when all are NaN. (LiteRT runs rows along the last axis through a
    vectorized loop instead, whose answer with a NaN depends on the row's length under 8
    values: that is followed nowhere.)"""

    def fn(x, axis):
        m = best.reduce(x, axis=axis, keepdims=True)
        return np.argmax(x == m, axis=axis)  # (all NaN: no match, index 0)

    return fn


def _arg(fn, float_fn):
    def prepare(ctx: c.OpContext) -> c.Eval:
        ctx.check_arity(2)
        ttype = ctx.require_types((c.F32, c.I8, c.I32, c.U8, c.BOOL), outputs=())
        find = float_fn if ttype == c.F32 else fn
        dtype = {c.I32: np.int32, c.I64: np.int64}.get(ctx.out_type())
        if dtype is None:
            raise ctx.fail("output must be int32 or int64")

        def run(x, axis):
            if axis.size != 1:
                raise ctx.fail("axis must hold one value")
            a = _axis(ctx, int(axis.ravel()[0]), x.ndim)
            if x.shape[a] == 0:
                raise ctx.fail(f"axis {a} is empty")
            return [np.asarray(find(x, axis=a)).astype(dtype)]

        return run

    return prepare


prepare_arg_max = _arg(np.argmax, _float_arg(np.fmax))
prepare_arg_min = _arg(np.argmin, _float_arg(np.fmin))


def _reduce(fn, float_fn, start):
    """REDUCE_MAX (np.max; float32: np.fmax from ``start`` lowest()) or REDUCE_MIN: LiteRT's
    ReduceGeneric starts each output at lowest() (max()) and takes ``in > current ? in :
    current``, so a NaN never wins, an all-NaN (or all -inf) reduction gives lowest()."""

    def float_reduce(x, axis, keepdims):
        return float_fn.reduce(x, axis=axis, keepdims=keepdims, initial=start)

    def prepare(ctx: c.OpContext) -> c.Eval:
        ctx.check_arity(2)
        ttype = ctx.require_types((c.F32, c.I8, c.I32, c.I64))
        reduce = float_reduce if ttype == c.F32 else fn
        if ttype == c.I8 and c.per_tensor_qparams(ctx, ctx.inputs[0], "input") != (
            c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
        ):
            raise ctx.unsupported("int8 input and output must share quantization")
        keep = bool(ctx.options["keep_dims"])

        def run(x, axes):
            axes = tuple(sorted({_axis(ctx, int(a), x.ndim) for a in axes.ravel()}))
            if any(x.shape[a] == 0 for a in axes):
                raise ctx.fail("cannot reduce an empty axis")
            return [np.asarray(reduce(x, axis=axes, keepdims=keep)).astype(x.dtype)]

        return run

    return prepare


prepare_reduce_max = _reduce(np.max, np.fmax, np.float32(-c.FLT_MAX))
prepare_reduce_min = _reduce(np.min, np.fmin, np.float32(c.FLT_MAX))


def prepare_split_v(ctx: c.OpContext) -> c.Eval:
    n = ctx.options["num_splits"]
    if len(ctx.inputs) != 3 or len(ctx.outputs) != n or None in ctx.inputs:
        raise ctx.fail(f"needs 3 inputs and num_splits ({n}) outputs")

    def run(x, sizes, axis):
        a = _axis(ctx, int(axis.ravel()[0]), x.ndim)
        sizes = [int(s) for s in sizes.ravel()]
        if len(sizes) != n or sizes.count(-1) > 1:
            raise ctx.fail(f"size_splits {sizes} invalid for {n} outputs")
        if -1 in sizes:
            sizes[sizes.index(-1)] = x.shape[a] - (sum(sizes) + 1)
        if min(sizes) < 0 or sum(sizes) != x.shape[a]:
            raise ctx.fail(f"size_splits {sizes} do not add up to {x.shape[a]}")
        return [p.copy() for p in np.split(x, np.cumsum(sizes)[:-1], axis=a)]

    return run


def prepare_unpack(ctx: c.OpContext) -> c.Eval:
    num, axis = ctx.options["num"], ctx.options["axis"]
    if len(ctx.inputs) != 1 or len(ctx.outputs) != num:
        raise ctx.fail(f"num {num} does not match {len(ctx.outputs)} outputs")

    def run(x):
        a = _axis(ctx, axis, x.ndim)
        if x.shape[a] != num:
            raise ctx.fail(f"axis {a} has {x.shape[a]} entries, num is {num}")
        return [np.take(x, k, axis=a) for k in range(num)]

    return run


def prepare_range(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(3)
    ttype = ctx.require_types((c.F32, c.I32, c.I64), inputs=(0, 1, 2))
    dtype = {c.F32: np.float32, c.I32: np.int32, c.I64: np.int64}[ttype]

    def run(start, limit, delta):
        s, lim, d = (v.ravel()[0] for v in (start, limit, delta))
        if d == 0 or (lim - s) * d < 0:
            raise ctx.fail(f"range({s}, {lim}, {d}) is empty or endless")
        n = int(np.ceil(abs((lim - s) / d)))
        c.check_alloc(ctx, [n], "output")
        return [(s + d * np.arange(n)).astype(dtype)]

    return run
