"""STRIDED_SLICE, SLICE, GATHER, SPLIT, PACK, CONCATENATION, PAD, PADV2: index and copy ops.

References: ``tflite/kernels/strided_slice.cc``, ``slice.cc``, ``gather.cc``, ``split.cc``,
``pack.cc``, ``concatenation.cc``, ``pad.cc``. int8 variants move bytes and require the same
quantization in and out (CONCATENATION compares scales exactly; PAD pads with the output
zero point).
"""

from __future__ import annotations

import math

import numpy as np

from runtime import _budget
from runtime.tflite.kernels import _common as c


def prepare_strided_slice(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity((3, 4))
    o = ctx.options
    if o["ellipsis_mask"] or o["new_axis_mask"]:
        raise ctx.unsupported("ellipsis_mask and new_axis_mask are not supported")
    bmask, emask, smask, offset = o["begin_mask"], o["end_mask"], o["shrink_axis_mask"], o["offset"]

    # (input shape, begin, end, strides) -> (index, squeezed shape or None): the same slice of
    # a fixed input shape (e.g. of a SHAPE result) worked out once.
    known = {}

    def run(x, begin, end, strides=None):
        # (dtypes in the key: int64 [1] and int32 [1, 0] have the same bytes)
        key = (x.shape, begin.dtype, begin.tobytes(), end.dtype, end.tobytes())
        if strides is not None:
            key += (strides.dtype, strides.tobytes())
        entry = known.get(key)
        if entry is not None:
            index, shape = entry
            y = x[index]
            return [(y if shape is None else y.reshape(shape)).copy()]
        begin, end = begin.ravel().tolist(), end.ravel().tolist()
        strides = [1] * len(begin) if strides is None else strides.ravel().tolist()
        if not len(begin) == len(end) == len(strides) or len(begin) > x.ndim:
            raise ctx.fail(
                f"begin/end/strides of lengths {len(begin)}/{len(end)}/"
                f"{len(strides)} do not fit input rank {x.ndim}"
            )
        index, squeeze = [], []
        for i, (b, e, s) in enumerate(zip(begin, end, strides)):
            dim = x.shape[i]
            if s == 0:
                raise ctx.fail("stride 0")
            if offset:
                e = b + e
            if smask >> i & 1:
                k = b + dim if b < 0 else b
                if not 0 <= k < dim:
                    raise ctx.fail(f"index {b} out of range for axis {i} of size {dim}")
                index.append(slice(k, k + 1))
                squeeze.append(i)
                continue
            start = None if bmask >> i & 1 else b
            stop = None if emask >> i & 1 else e
            index.append(slice(start, stop, s))
        index = tuple(index)
        y = x[index]
        shape = None
        if squeeze:
            shape = tuple(n for i, n in enumerate(y.shape) if i not in squeeze)
            y = y.reshape(shape)
        if len(known) > 16:  # (shapes that change again and again)
            known.clear()
        known[key] = (index, shape)
        return [y.copy()]

    return run


def prepare_slice(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(3)

    def run(x, begin, size):
        b, s = begin.ravel().tolist(), size.ravel().tolist()
        if len(b) != x.ndim or len(s) != x.ndim:
            raise ctx.fail(f"begin {b} and size {s} must have one entry per axis ({x.ndim})")
        index = []
        for i, (bb, ss) in enumerate(zip(b, s)):
            end = x.shape[i] if ss == -1 else bb + ss
            if not 0 <= bb <= end <= x.shape[i]:
                raise ctx.fail(
                    f"slice [{bb}, {end}) out of range for axis {i} of size {x.shape[i]}"
                )
            index.append(slice(bb, end))
        return [x[tuple(index)].copy()]

    return run


def prepare_gather(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(2)
    axis, batch_dims = ctx.options["axis"], ctx.options["batch_dims"]
    if batch_dims:
        raise ctx.unsupported("batch_dims != 0 is not supported")
    if ctx.in_type(1) not in (c.I32, c.I64):
        raise ctx.fail("indices must be int32 or int64")

    def run(params, indices):
        if not -params.ndim <= axis < params.ndim:
            raise ctx.fail(f"axis {axis} out of range for rank {params.ndim}")
        dim = params.shape[axis]
        if indices.size and (indices.min() < 0 or indices.max() >= dim):
            raise ctx.fail(f"indices outside [0, {dim})")
        a = axis % params.ndim
        out = params.shape[:a] + indices.shape + params.shape[a + 1 :]
        c.check_alloc(ctx, out, "output", params.dtype.itemsize)
        return [np.take(params, indices, axis=axis)]

    return run


def prepare_split(ctx: c.OpContext) -> c.Eval:
    n = ctx.options["num_splits"]
    if n < 1 or len(ctx.outputs) != n:
        raise ctx.fail(f"num_splits {n} does not match {len(ctx.outputs)} outputs")
    if len(ctx.inputs) != 2:
        raise ctx.fail(f"has {len(ctx.inputs)} inputs, expected 2 (axis, value)")

    def run(axis, x):
        a = int(axis.ravel()[0]) if axis.size == 1 else None
        if a is None or not -x.ndim <= a < x.ndim or x.shape[a] % n:
            raise ctx.fail(f"cannot split shape {list(x.shape)} into {n} along axis {a}")
        return [p.copy() for p in np.split(x, n, axis=a)]

    return run


def prepare_pack(ctx: c.OpContext) -> c.Eval:
    axis, count = ctx.options["axis"], ctx.options["values_count"]
    if count != len(ctx.inputs) or len(ctx.outputs) != 1 or None in ctx.inputs:
        raise ctx.fail(f"values_count {count} does not match {len(ctx.inputs)} inputs")

    def run(*xs):
        if axis in (0, -1) and all(x.ndim == 0 for x in xs):
            # scalars (e.g. a shape assembled from SHAPE's entries): the same array as
            # np.stack's, at a tenth of its cost
            return [np.array(xs)]
        if len({x.shape for x in xs}) != 1:
            raise ctx.fail("inputs have different shapes")
        if not -xs[0].ndim - 1 <= axis <= xs[0].ndim:
            raise ctx.fail(f"axis {axis} out of range")
        return [np.stack(xs, axis=axis)]

    return run


def prepare_concatenation(ctx: c.OpContext) -> c.Eval:
    if not ctx.inputs or None in ctx.inputs or len(ctx.outputs) != 1:
        raise ctx.fail("needs at least one input and one output")
    axis = ctx.options["axis"]
    act = c.check_activation(ctx, ctx.options["fused_activation_function"])
    ttype = ctx.require_types(
        (c.F32, c.I8, c.I16, c.I32, c.I64, c.BOOL), inputs=tuple(range(len(ctx.inputs)))
    )
    if ttype in (c.I8, c.I16):
        out_q = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
        for k, t in enumerate(ctx.inputs):
            if c.per_tensor_qparams(ctx, t, f"input {k}") != out_q:
                raise ctx.unsupported(
                    "quantized inputs with quantization different from the output's are not "
                    "supported"
                )
    lo, hi = (
        c.activation_range_float(act)
        if ttype == c.F32
        else c.activation_range_quantized(act, *out_q)
        if ttype == c.I8
        else c.activation_range_quantized(act, *out_q, np.int16)
        if ttype == c.I16
        else (None, None)
    )

    def run(*xs):
        rank = xs[0].ndim
        if not -rank <= axis < rank:
            raise ctx.fail(f"axis {axis} out of range for rank {rank}")
        try:
            y = np.concatenate(xs, axis=axis)
        except ValueError:
            raise ctx.fail(f"shapes {[list(x.shape) for x in xs]} do not concatenate") from None
        if act:
            y = np.clip(y, lo, hi).astype(y.dtype)
        return [y]

    return run


def _prepare_pad(ctx: c.OpContext, v2: bool) -> c.Eval:
    ctx.check_arity((2, 3) if v2 else 2)
    ttype = ctx.require_types((c.F32, c.I8, c.I16, c.I32, c.I64))
    fill = 0
    if ttype in (c.I8, c.I16):
        fill = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")[1]

    # (output shape, where the input goes) per input shape and paddings: np.pad costs tens of
    # microseconds of argument handling, a fill and one slice assignment a few.
    plans: dict = {}

    def plan(x, paddings):
        if paddings.shape != (x.ndim, 2) or paddings.size and paddings.min() < 0:
            raise ctx.fail(f"paddings of shape {list(paddings.shape)} do not fit rank {x.ndim}")
        pads = paddings.astype(np.int64).tolist()
        shape = tuple(d + a + b for d, (a, b) in zip(x.shape, pads))
        inside = tuple(slice(a, a + d) for d, (a, _) in zip(x.shape, pads))
        if len(plans) >= 16:
            plans.clear()  # shapes that keep changing: a bounded cache
        return plans.setdefault((x.shape, paddings.dtype, paddings.tobytes()), (shape, inside))

    def run(x, paddings, value=None):
        shape, inside = plans.get((x.shape, paddings.dtype, paddings.tobytes())) or plan(
            x, paddings
        )
        if not _budget.fits(math.prod(shape) * x.dtype.itemsize):
            c.check_alloc(ctx, shape, "padded output", x.dtype.itemsize)  # raises
        if value is not None and value.size != 1:
            raise ctx.fail(f"constant_values must hold one value, holds {value.size}")
        out = np.full(shape, fill if value is None else value.ravel()[0], x.dtype)
        out[inside] = x
        return [out]

    return run


def prepare_pad(ctx: c.OpContext) -> c.Eval:
    return _prepare_pad(ctx, False)


def prepare_padv2(ctx: c.OpContext) -> c.Eval:
    return _prepare_pad(ctx, True)
