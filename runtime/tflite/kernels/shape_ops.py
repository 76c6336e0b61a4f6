"""MIRROR_PAD, BROADCAST_TO, CUMSUM.

References: ``tflite/kernels/mirror_pad.cc`` (REFLECT leaves out the edge value, SYMMETRIC
repeats it), ``broadcast_to.cc`` (ranks up to 8), ``cumsum.cc`` (float32, int32, int64; options
``exclusive`` and ``reverse``). MIRROR_PAD and BROADCAST_TO move values without arithmetic, so
quantized tensors keep their values.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c
from runtime.tflite.schema import MirrorPadMode

_MOVE_TYPES = (c.F32, c.U8, c.I8, c.I16, c.I32, c.I64)
_MAX_BROADCAST_RANK = 8


def prepare_mirror_pad(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(2)
    ctx.require_types(_MOVE_TYPES)
    if ctx.in_type(1) not in (c.I32, c.I64):
        raise ctx.fail("paddings must be int32 or int64")
    mode = ctx.options["mode"]
    if mode not in (MirrorPadMode.REFLECT, MirrorPadMode.SYMMETRIC):
        raise ctx.fail(f"mode {mode} is neither REFLECT (0) nor SYMMETRIC (1)")
    # REFLECT mirrors around the edge value, so it can add at most size - 1 values per side.
    slack = 1 if mode == MirrorPadMode.REFLECT else 0
    np_mode = "reflect" if mode == MirrorPadMode.REFLECT else "symmetric"

    def run(x, paddings):
        pads = np.asarray(paddings).astype(np.int64)
        if pads.shape != (x.ndim, 2):
            raise ctx.fail(f"paddings of shape {list(pads.shape)} do not fit rank {x.ndim}")
        for d, (lo, hi) in enumerate(pads.tolist()):
            if min(lo, hi) < 0 or max(lo, hi) > x.shape[d] - slack:
                raise ctx.fail(f"paddings ({lo}, {hi}) invalid for axis {d} of size {x.shape[d]}")
        out = [d + int(lo) + int(hi) for d, (lo, hi) in zip(x.shape, pads)]
        c.check_alloc(ctx, out, "output", x.dtype.itemsize)
        return [np.pad(x, pads.tolist(), mode=np_mode)]

    return run


def prepare_broadcast_to(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(2)
    ctx.require_types(_MOVE_TYPES + (c.BOOL,))
    if ctx.in_type(1) not in (c.I32, c.I64):
        raise ctx.fail("shape must be int32 or int64")

    def run(x, shape):
        target = [int(d) for d in shape.ravel()]
        if len(target) > _MAX_BROADCAST_RANK or x.ndim > len(target):
            raise ctx.fail(
                f"cannot broadcast rank {x.ndim} to shape {target} (ranks up to "
                f"{_MAX_BROADCAST_RANK}, never lower than the input's)"
            )
        c.check_alloc(ctx, target, "output", x.dtype.itemsize)
        try:
            y = np.broadcast_to(x, target)
        except ValueError:
            raise ctx.fail(f"shape {list(x.shape)} does not broadcast to {target}") from None
        return [np.ascontiguousarray(y)]

    return run


def prepare_cumsum(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(2)
    ctx.require_types((c.F32, c.I32, c.I64))
    exclusive, reverse = bool(ctx.options["exclusive"]), bool(ctx.options["reverse"])

    def run(x, axis):
        if axis.size != 1:
            raise ctx.fail("axis must hold one value")
        a = int(axis.ravel()[0])
        if not -x.ndim <= a < max(x.ndim, 1):
            raise ctx.fail(f"axis {a} out of range for rank {x.ndim}")
        a %= max(x.ndim, 1)
        if x.size == 0:
            return [x.copy()]
        v = np.flip(x, a) if reverse else x
        # Integers wrap as in C++ (two's complement) rather than widen.
        y = np.cumsum(v, axis=a, dtype=x.dtype)
        if exclusive:
            y = np.concatenate([np.zeros_like(np.take(y, [0], axis=a)), y], axis=a)
            y = np.take(y, np.arange(x.shape[a]), axis=a)
        if reverse:
            y = np.flip(y, a)
        return [np.ascontiguousarray(y)]

    return run
