"""GATHER with ``batch_dims`` (as in ``tf.gather(..., batch_dims=b)``); batch_dims 0 goes to
``slicing``'s kernel.

Reference: ``tflite/kernels/gather.cc`` and ``reference/gather.h``. Negative axis and
batch_dims count from the end of params and indices. The first batch_dims dims of params and
indices must match; each batch entry gathers along ``axis`` with its own indices. Output shape:
``params.shape[:axis] + indices.shape[batch_dims:] + params.shape[axis + 1:]``. An index
outside the gathered dim is an error, as in LiteRT.
"""

from __future__ import annotations

import math

import numpy as np

from runtime.tflite.kernels import _common as c

_VALUES = (c.F32, c.I8, c.U8, c.I16, c.I32, c.I64, c.BOOL)


def accept_batch_dims(prepare):
    def prepare_gather(ctx: c.OpContext) -> c.Eval:
        batch_dims = ctx.options.get("batch_dims", 0)
        if not batch_dims:
            return prepare(ctx)
        ctx.check_arity(2)
        ctx.require_types(_VALUES)
        if ctx.in_type(1) not in (c.I32, c.I64):
            raise ctx.fail("indices must be int32 or int64")
        axis_option = ctx.options["axis"]

        def run(params, indices):
            bd = batch_dims + indices.ndim if batch_dims < 0 else batch_dims
            axis = axis_option + params.ndim if axis_option < 0 else axis_option
            if not (0 <= bd <= indices.ndim and bd <= axis < params.ndim):
                raise ctx.fail(
                    f"batch_dims {batch_dims} and axis {axis_option} invalid for params of rank "
                    f"{params.ndim} and indices of rank {indices.ndim}"
                )
            if params.shape[:bd] != indices.shape[:bd]:
                raise ctx.fail(
                    f"batch dims of params {list(params.shape)} and indices "
                    f"{list(indices.shape)} differ"
                )
            dim = params.shape[axis]
            if indices.size and (indices.min() < 0 or indices.max() >= dim):
                raise ctx.fail(f"indices outside [0, {dim})")
            shape = params.shape[:axis] + indices.shape[bd:] + params.shape[axis + 1 :]
            c.check_alloc(ctx, shape, "output", params.dtype.itemsize)
            batch = math.prod(params.shape[:bd])
            pre = math.prod(params.shape[bd:axis])
            post = math.prod(params.shape[axis + 1 :])
            k = math.prod(indices.shape[bd:])
            p4 = params.reshape(batch, pre, dim, post)
            picks = indices.reshape(batch, k).astype(np.int64)
            # advanced indices around a slice put their dims first: (batch, k, pre, post)
            gathered = p4[np.arange(batch)[:, None], :, picks]
            return [np.ascontiguousarray(gathered.transpose(0, 2, 1, 3)).reshape(shape)]

        return run

    return prepare_gather
