"""LESS, GREATER, EQUAL..., LOGICAL_AND/OR/NOT, SELECT, SELECT_V2, CAST, FILL.

References: ``tflite/kernels/comparisons.cc``, ``logical.cc``, ``select.cc``, ``cast.cc``,
``fill.cc``. int8 comparisons compare raw values when both inputs share quantization.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite import schema
from runtime.tflite.kernels import _common as c


def _comparison(fn):
    def prepare(ctx: c.OpContext) -> c.Eval:
        ctx.check_arity(2)
        if ctx.out_type() != c.BOOL:
            raise ctx.fail("output must be bool")
        ttype = ctx.require_types((c.F32, c.I8, c.I32, c.I64, c.BOOL), inputs=(0, 1), outputs=())
        if ttype == c.I8 and (
            c.per_tensor_qparams(ctx, ctx.inputs[0], "input 0")
            != c.per_tensor_qparams(ctx, ctx.inputs[1], "input 1")
        ):
            raise ctx.unsupported("int8 inputs with different quantization are not supported")

        def run(a, b):
            c.broadcast_shape(ctx, a, b)
            return [np.asarray(fn(a, b))]

        return run

    return prepare


prepare_less = _comparison(np.less)
prepare_less_equal = _comparison(np.less_equal)
prepare_greater = _comparison(np.greater)
prepare_greater_equal = _comparison(np.greater_equal)
prepare_equal = _comparison(np.equal)
prepare_not_equal = _comparison(np.not_equal)


def _logical(fn, arity):
    def prepare(ctx: c.OpContext) -> c.Eval:
        ctx.check_arity(arity)
        ctx.require_types((c.BOOL,), inputs=tuple(range(arity)))

        def run(*xs):
            if arity == 2:
                c.broadcast_shape(ctx, *xs)
            return [np.asarray(fn(*xs))]

        return run

    return prepare


prepare_logical_and = _logical(np.logical_and, 2)
prepare_logical_or = _logical(np.logical_or, 2)
prepare_logical_not = _logical(np.logical_not, 1)


def _select(v2: bool):
    def prepare(ctx: c.OpContext) -> c.Eval:
        ctx.check_arity(3)
        if ctx.in_type(0) != c.BOOL:
            raise ctx.fail("condition must be bool")
        ctx.require_types((c.F32, c.U8, c.I8, c.I16, c.I32, c.I64, c.BOOL), inputs=(1, 2))

        def run(cond, a, b):
            if not v2 and cond.ndim == 1 and a.ndim > 1 and cond.shape[0] == a.shape[0]:
                # SELECT (v1) with a rank-1 condition picks whole rows.
                cond = cond.reshape((-1,) + (1,) * (a.ndim - 1))
            shape = c.broadcast_shape(ctx, a, b)
            shape = c.broadcast_shape(ctx, np.empty(shape, bool), cond)
            if not v2 and (a.shape != b.shape):
                raise ctx.fail(f"SELECT needs equal shapes, got {list(a.shape)}, {list(b.shape)}")
            return [np.where(cond, a, b)]

        return run

    return prepare


prepare_select = _select(False)
prepare_select_v2 = _select(True)


def prepare_cast(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1)
    dtype = schema.TENSOR_TYPE_TO_NUMPY.get(ctx.out_type())
    if dtype is None:
        raise ctx.unsupported(f"output type {ctx.out_type()} not supported")
    return lambda x: [x.astype(dtype)]


def prepare_fill(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(2)
    if ctx.in_type(0) not in (c.I32, c.I64):
        raise ctx.fail("dims must be int32 or int64")

    def run(dims, value):
        if dims.ndim != 1 or value.size != 1 or (dims.size and dims.min() < 0):
            raise ctx.fail(f"dims {dims.tolist()} / value of size {value.size} invalid")
        shape = dims.tolist()
        c.check_alloc(ctx, shape, "output")
        return [np.full(shape, value.ravel()[0], dtype=value.dtype)]

    return run
