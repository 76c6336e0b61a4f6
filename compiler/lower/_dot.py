"""Lowering of Dot (rank 2 or 3 inputs) to one BATCH_MATMUL.

A rank-2 input ``(batch, d)`` becomes ``(batch, 1, d)`` (first input) or ``(batch, d, 1)``
(second input) by a RESHAPE, so both are rank 3; the summed axis is the last of the first
input (else ``adj_x``) and the middle of the second (else ``adj_y``). The product
``(batch, n, m)`` is reshaped to Keras's output shape. ``normalize=True`` is refused.
"""

from __future__ import annotations

import numpy as np

from compiler.ir import Value
from compiler.lower.context import LayerCall, Lowering

__all__ = ["lower_dot"]


def _reshape(ctx: Lowering, x: Value, dims, name: str) -> Value:
    shape = ctx.const(f"{name}/shape", np.array([-1, *dims], dtype=np.int32))
    return ctx.op("RESHAPE", [x, shape], (x.shape[0], *dims), name)


def lower_dot(ctx: Lowering, call: LayerCall) -> list[Value]:
    if call.config.get("normalize"):
        raise call.unsupported("normalize=True is not supported")
    x, y = call.inputs
    axes = call.config["axes"]
    axes = (axes, axes) if isinstance(axes, int) else tuple(axes)
    ax, ay = axes[0] % x.rank, axes[1] % y.rank
    if x.rank == 2:
        x, ax = _reshape(ctx, x, (1, x.shape[1]), f"{call.name}/x3"), 2
    if y.rank == 2:
        y, ay = _reshape(ctx, y, (y.shape[1], 1), f"{call.name}/y3"), 1
    n = x.shape[1] if ax == 2 else x.shape[2]
    m = y.shape[2] if ay == 1 else y.shape[1]
    out = call.out_shapes[0]
    product_shape = (x.shape[0], n, m)
    same = tuple(out) == product_shape
    z = ctx.op(
        "BATCH_MATMUL",
        [x, y],
        product_shape,
        call.name if same else f"{call.name}/matmul",
        adj_x=ax == 1,
        adj_y=ay == 2,
    )
    if same:
        return [z]
    shape = ctx.const(f"{call.name}/shape", np.array([-1, *out[1:]], dtype=np.int32))
    return [ctx.op("RESHAPE", [z, shape], out, call.name)]
