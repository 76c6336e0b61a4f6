"""EMBEDDING_LOOKUP: rows of a table picked by int32 ids.

Reference: ``tflite/kernels/embedding_lookup.cc``. Inputs ``(ids[K] int32, table[R, ...])``;
output ``[K, ...]``. When the output has the table's type the rows are copied as they are
(quantization kept). The hybrid form, an int8 or uint8 table with a float32 output, dequantizes
each row as ``value * scale`` (float32), with the table's one scale or, per-axis on dim 0, its
row's scale; zero points must be 0. LiteRT reads a uint8 table through an ``int8_t`` pointer in
that form, so bytes above 127 count as negative, and so they do here. An id outside [0, R) is an
error, as in LiteRT.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c


def prepare(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(2)
    if ctx.in_type(0) != c.I32 or len(ctx.inputs[0].shape) != 1:
        raise ctx.fail("ids must be a 1-D int32 tensor")
    table, out = ctx.inputs[1], ctx.outputs[0]
    if len(table.shape) < 2:
        raise ctx.fail(f"table must have rank >= 2, has shape {list(table.shape)}")
    scales = None
    if table.type != out.type:
        if table.type not in (c.I8, c.U8) or out.type != c.F32:
            raise ctx.unsupported(
                f"table of type {c._tname(table.type)} with output {c._tname(out.type)} "
                "(hybrid lookups take int8/uint8 tables and a float32 output)"
            )
        q = table.quantization
        if q is None or np.any(q.zero_point != 0):
            raise ctx.fail("a hybrid lookup needs a table quantized with zero points 0")
        if len(q.scale) > 1 and (q.quantized_dimension != 0 or len(q.scale) != table.shape[0]):
            raise ctx.fail(f"{len(q.scale)} per-axis scales must be one per row of dim 0")
        scales = q.scale.astype(np.float32)

    def run(ids, values):
        rows = values.shape[0]
        if ids.size and (ids.min() < 0 or ids.max() >= rows):
            raise ctx.fail(f"ids {_outside(ids, rows)} outside [0, {rows})")
        c.check_alloc(ctx, (ids.size, *values.shape[1:]), "output", values.dtype.itemsize)
        picked = values[ids]
        if scales is None:
            return [picked]
        row_scale = scales[ids] if scales.size > 1 else scales[0]
        row_scale = np.reshape(row_scale, (-1,) + (1,) * (values.ndim - 1))
        return [(picked.view(np.int8).astype(np.float32) * row_scale).astype(np.float32)]

    return run


def _outside(ids, rows):
    bad = ids[(ids < 0) | (ids >= rows)]
    return bad[:4].tolist()
