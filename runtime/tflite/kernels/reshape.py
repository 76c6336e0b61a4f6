"""RESHAPE, SHAPE, SQUEEZE, EXPAND_DIMS, TRANSPOSE: byte moves that keep quantization.

References: ``tflite/kernels/reshape.cc`` (shape from input 1 when it is a 1-D tensor, else
``ReshapeOptions.new_shape``, else the output tensor's shape; one -1 is inferred),
``shape.cc``, ``squeeze.cc``, ``expand_dims.cc``, ``transpose.cc``.
"""

from __future__ import annotations

import math

import numpy as np

from runtime.tflite.kernels import _common as c


def _resolve_shape(ctx, x, shape):
    shape = [int(d) for d in shape]
    unknown = [i for i, d in enumerate(shape) if d == -1]
    if len(unknown) > 1 or any(d < -1 for d in shape):
        raise ctx.fail(f"invalid target shape {shape}")
    known = math.prod(d for d in shape if d != -1)
    if unknown:
        if known == 0 or x.size % known:
            raise ctx.fail(f"cannot reshape {list(x.shape)} to {shape}")
        shape[unknown[0]] = x.size // known
    if math.prod(shape) != x.size:
        raise ctx.fail(f"cannot reshape {list(x.shape)} ({x.size} elements) to {shape}")
    return shape


def prepare_reshape(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity((1, 2))
    new_shape = ctx.options.get("new_shape")
    fallback = list(ctx.outputs[0].shape)

    def target_of(shape):
        if shape is not None and shape.ndim == 1:
            return shape.tolist()
        return new_shape if new_shape is not None else fallback

    if len(ctx.inputs) > 1 and ctx.inputs[1] is not None and ctx.constant(1) is None:

        def run(x, shape=None):  # a shape computed by the graph
            return [x.reshape(_resolve_shape(ctx, x, target_of(shape)))]

        return run

    target = target_of(ctx.constant(1))
    resolved = {}  # input shape -> output shape, the target being fixed

    def run_fixed(x, shape=None):
        out = resolved.get(x.shape)
        if out is None:
            out = tuple(_resolve_shape(ctx, x, target))
            if len(resolved) > 16:  # (a model resized again and again)
                resolved.clear()
            resolved[x.shape] = out
        return [x.reshape(out)]

    return run_fixed


def prepare_shape(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1)
    dtype = {c.I32: np.int32, c.I64: np.int64}.get(ctx.out_type())
    if dtype is None:
        raise ctx.fail("output must be int32 or int64")
    return lambda x: [np.array(x.shape, dtype=dtype)]


def prepare_squeeze(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1)
    dims = ctx.options.get("squeeze_dims") or []

    def run(x):
        if not dims:
            return [x.reshape([d for d in x.shape if d != 1])]
        axes = set()
        for d in dims:
            if not -x.ndim <= d < x.ndim or x.shape[d] != 1:
                raise ctx.fail(f"cannot squeeze axis {d} of shape {list(x.shape)}")
            axes.add(d % x.ndim)
        return [x.reshape([n for i, n in enumerate(x.shape) if i not in axes])]

    return run


def prepare_expand_dims(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(2)

    def run(x, axis):
        if axis.size != 1:
            raise ctx.fail(f"axis must hold one value, holds {axis.size}")
        a = int(axis.ravel()[0])
        if not -x.ndim - 1 <= a <= x.ndim:
            raise ctx.fail(f"axis {a} out of range for rank {x.ndim}")
        return [np.expand_dims(x, a)]

    return run


def prepare_transpose(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(2)

    def run(x, perm):
        p = [int(v) % max(x.ndim, 1) for v in perm.ravel()]
        if sorted(p) != list(range(x.ndim)):
            raise ctx.fail(f"perm {perm.tolist()} is not a permutation of rank {x.ndim}")
        return [np.transpose(x, p).copy()]

    return run
