"""Which builtin operators take STRING tensors, and their string kernels.

References: LiteRT's kernels that have a ``kTfLiteString`` case: ``reshape.cc``,
``squeeze.cc``, ``expand_dims.cc``, ``shape.cc``, ``rank.cc``, ``gather.cc`` (string params must
be 1-D), ``gather_nd.cc``, ``slice.cc``, ``strided_slice.cc``, ``tile.cc``, ``fill.cc`` and
``comparisons.cc`` (EQUAL and NOT_EQUAL only), and IF and WHILE. GATHER_ND, TILE, FILL and
the comparisons have their string kernels here; the others' own kernels move object arrays as
they move numbers.
Every other builtin refuses a STRING tensor at prepare, as LiteRT's do (TRANSPOSE,
CONCATENATION, PACK, SELECT, CAST, PAD, SPLIT... each reports "type STRING not supported"), so
an operator on strings runs here only where it runs in LiteRT. Operators whose kernels are
written for strings (HASHTABLE_*, LSH_PROJECTION, HASHTABLE_LOOKUP, SKIP_GRAM) are registered
after the gate and check their types themselves.

String values are object arrays of ``bytes`` (``runtime/tflite/_strings.py``).
"""

from __future__ import annotations

import numpy as np

from runtime.tflite import _strings
from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels import nd_indexing
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType

STRING = TensorType.STRING


def _has_strings(ctx: c.OpContext) -> bool:
    return any(t is not None and t.type == STRING for t in ctx.inputs + ctx.outputs)


def _same_kernel(ctx: c.OpContext, prepare) -> c.Eval:
    """The op's own kernel, which moves object arrays as it moves numbers."""
    return prepare(ctx)


def _gather(ctx: c.OpContext, prepare) -> c.Eval:
    if ctx.inputs[0].type == STRING and len(ctx.inputs[0].shape) != 1:
        raise ctx.fail(
            f"STRING params must be 1-D (as LiteRT's gather.cc), has shape "
            f"{list(ctx.inputs[0].shape)}"
        )
    return prepare(ctx)


def _comparison(equal: bool):
    def prepare(ctx: c.OpContext, _generic) -> c.Eval:
        ctx.check_arity(2)
        if ctx.in_type(0) != STRING or ctx.in_type(1) != STRING:
            raise ctx.fail("compares a STRING tensor with a non-STRING one")
        if ctx.out_type() != TensorType.BOOL:
            raise ctx.fail(f"output must be BOOL, has type {c._tname(ctx.out_type())}")

        def run(x, y):
            x, y = _strings.as_bytes(x), _strings.as_bytes(y)
            c.broadcast_shape(ctx, x, y)
            same = np.frompyfunc(bytes.__eq__, 2, 1)(x, y).astype(np.bool_)
            return [same if equal else ~same]

        return run

    return prepare


def _check_strings(ctx: c.OpContext, inputs=(0,)) -> None:
    for k in inputs:
        if ctx.in_type(k) != STRING:
            raise ctx.fail(f"input {k} has type {c._tname(ctx.in_type(k))}, expected STRING")
    if ctx.out_type() != STRING:
        raise ctx.fail(f"output has type {c._tname(ctx.out_type())}, expected STRING")


def _check_index_type(ctx: c.OpContext, k: int, what: str) -> None:
    if ctx.in_type(k) not in (c.I32, c.I64):
        raise ctx.fail(f"{what} must be int32 or int64, has type {c._tname(ctx.in_type(k))}")


def _gather_nd(ctx: c.OpContext, _generic) -> c.Eval:
    ctx.check_arity(2)
    _check_strings(ctx)
    _check_index_type(ctx, 1, "indices")
    return nd_indexing.gather_nd(ctx)  # (an object array's itemsize is a pointer's: 8)


def _tile(ctx: c.OpContext, _generic) -> c.Eval:
    ctx.check_arity(2)
    _check_strings(ctx)
    _check_index_type(ctx, 1, "multiples")

    def run(x, multiples):
        reps = [int(m) for m in multiples.ravel()]
        if len(reps) != x.ndim or min(reps, default=1) < 0:
            raise ctx.fail(f"multiples {reps} do not fit rank {x.ndim}")
        c.check_alloc(ctx, [d * m for d, m in zip(x.shape, reps)], "output", 8)
        return [np.tile(x, reps)]

    return run


def _fill(ctx: c.OpContext, _generic) -> c.Eval:
    ctx.check_arity(2)
    _check_strings(ctx, inputs=(1,))
    _check_index_type(ctx, 0, "dims")

    def run(dims, value):
        if dims.ndim != 1 or value.size != 1 or (dims.size and dims.min() < 0):
            raise ctx.fail(f"dims {dims.tolist()} / value of size {value.size} invalid")
        shape = dims.tolist()
        c.check_alloc(ctx, shape, "output", 8)
        out = np.empty(shape, _strings.OBJECT)
        out.fill(value.reshape(-1)[0])
        return [_strings.as_bytes(out)]

    return run


# Builtin op -> prepare(ctx, generic_prepare) for a node with a STRING tensor.
STRING_KERNELS = {
    Op.RESHAPE: _same_kernel,
    Op.SQUEEZE: _same_kernel,
    Op.EXPAND_DIMS: _same_kernel,
    Op.SHAPE: _same_kernel,
    Op.RANK: _same_kernel,
    Op.GATHER: _gather,
    Op.GATHER_ND: _gather_nd,
    Op.SLICE: _same_kernel,
    Op.STRIDED_SLICE: _same_kernel,
    Op.TILE: _tile,
    Op.FILL: _fill,
    Op.EQUAL: _comparison(True),
    Op.NOT_EQUAL: _comparison(False),
    # control flow hands values to other subgraphs whatever their type
    Op.IF: _same_kernel,
    Op.WHILE: _same_kernel,
}


def _gated(op, prepare):
    string_prepare = STRING_KERNELS.get(op)

    def prepare_checking_strings(ctx: c.OpContext) -> c.Eval:
        if not _has_strings(ctx):
            return prepare(ctx)
        if string_prepare is None:
            raise ctx.unsupported("takes no STRING tensors (nor does LiteRT's kernel)")
        return string_prepare(ctx, prepare)

    prepare_checking_strings.__wrapped__ = prepare
    return prepare_checking_strings


def gate(registry: dict) -> None:
    """Make every kernel of ``registry`` refuse STRING tensors unless ``STRING_KERNELS`` lists
    its op (in place)."""
    for op, prepare in list(registry.items()):
        registry[op] = _gated(op, prepare)
