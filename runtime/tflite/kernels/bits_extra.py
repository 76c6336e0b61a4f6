"""UNIQUE, FAKE_QUANT, BITCAST, BITWISE_XOR and RIGHT_SHIFT.

References: ``tflite/kernels/unique.cc``, ``fake_quant.cc`` with ``reference/fake_quant.h``
(``Nudge``, ``FakeQuantizeArray``), ``bitcast.cc``, ``bitwise_xor.cc``, ``right_shift.cc``.
UNIQUE gives the distinct values of a 1-D tensor in order of first appearance and, for each
input, the index of its value (int32 or int64, ``idx_out_type``). FAKE_QUANT nudges
[min, max] so that zero is exactly representable on a (2^num_bits - 1)-step grid and rounds
each value to that grid, in float32 (narrow_range is refused, as by LiteRT). BITCAST
reinterprets the bytes (a wider element type drops the last dim, which must hold the ratio; a
narrower one adds it). RIGHT_SHIFT shifts arithmetically for signed types, with the shift clamped to
[0, bits - 1] as the kernel does to avoid undefined behaviour.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite import schema
from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels._fixed_point import round_half_away

_UINT16, _UINT32 = schema.TensorType.UINT16, schema.TensorType.UINT32
_INTEGERS = (c.I8, c.U8, c.I16, _UINT16, c.I32, _UINT32)


def prepare_unique(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1, 2)
    ctx.require_types((c.F32, c.I8, c.U8, c.I16, c.I32, c.I64), outputs=(0,))
    index_type = ctx.out_type(1)
    if index_type not in (c.I32, c.I64):
        raise ctx.fail("the index output must be int32 or int64")
    dtype = np.int32 if index_type == c.I32 else np.int64

    def run(x):
        if x.ndim != 1:
            raise ctx.fail(f"input must be 1-D, has shape {list(x.shape)}")
        values, first, inverse = np.unique(x, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")  # distinct values by first appearance
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        return [values[order], rank[inverse.ravel()].astype(dtype)]

    return run


def prepare_fake_quant(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1)
    ctx.require_types((c.F32,))
    o = ctx.options
    bits = int(o["num_bits"])
    if not 1 <= bits <= 16:
        raise ctx.fail(f"num_bits {bits} must be in [1, 16]")
    if o["narrow_range"]:  # LiteRT's Prepare refuses it too (meant for weights only)
        raise ctx.unsupported("narrow_range FAKE_QUANT is not supported at run time")
    lo, hi = np.float32(o["min"]), np.float32(o["max"])
    if not lo <= hi:
        raise ctx.fail(f"min {lo} is above max {hi}")
    q_min = np.float32(0)
    q_max = np.float32((1 << bits) - 1)
    scale = np.float32((hi - lo) / (q_max - q_min))
    with np.errstate(all="ignore"):
        from_min = np.float32(q_min - lo / scale)
    if from_min < q_min:
        zero = q_min
    elif from_min > q_max:
        zero = q_max
    else:
        zero = np.float32(round_half_away(from_min))
    nudged_min = np.float32((q_min - zero) * scale)
    nudged_max = np.float32((q_max - zero) * scale)
    inverse = np.float32(np.float32(1) / scale) if scale else np.float32(np.inf)

    def run(x):
        with np.errstate(all="ignore"):
            shifted = np.minimum(nudged_max, np.maximum(nudged_min, x)) - nudged_min
            steps = round_half_away((shifted * inverse).astype(np.float32)).astype(np.float32)
            return [np.asarray(steps * scale + nudged_min, np.float32)]

    return run


def prepare_bitcast(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1)
    src = schema.TENSOR_TYPE_TO_NUMPY.get(ctx.in_type(0))
    dst = schema.TENSOR_TYPE_TO_NUMPY.get(ctx.out_type())
    if src is None or dst is None or ctx.in_type(0) == c.BOOL or ctx.out_type() == c.BOOL:
        raise ctx.unsupported("BITCAST between these types is not supported")

    def run(x):
        x = np.ascontiguousarray(x)
        if src.itemsize == dst.itemsize:
            return [x.view(dst)]
        if src.itemsize > dst.itemsize:
            ratio = src.itemsize // dst.itemsize
            return [x.view(dst).reshape(x.shape + (ratio,))]
        ratio = dst.itemsize // src.itemsize
        if x.ndim == 0 or x.shape[-1] != ratio:
            raise ctx.fail(f"input of shape {list(x.shape)} must end in {ratio} to cast to {dst}")
        return [x.view(dst).reshape(x.shape[:-1])]

    return run


def prepare_bitwise_xor(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(2)
    ctx.require_types(_INTEGERS, inputs=(0, 1))

    def run(a, b):
        c.broadcast_shape(ctx, a, b)
        return [np.asarray(np.bitwise_xor(a, b))]

    return run


def prepare_right_shift(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(2)
    ctx.require_types(_INTEGERS, inputs=(0, 1))

    def run(a, b):
        c.broadcast_shape(ctx, a, b)
        bits = a.dtype.itemsize * 8
        shift = np.clip(b.astype(np.int64), 0, bits - 1).astype(a.dtype)
        return [np.asarray(np.right_shift(a, shift))]

    return run
