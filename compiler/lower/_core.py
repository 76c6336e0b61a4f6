"""Lowering of core layers: Dense, activations, Dropout and other inference-time identities."""

from __future__ import annotations

import numpy as np

from compiler.ir import Value
from compiler.lower.context import LayerCall, Lowering

__all__ = [
    "lower_dense",
    "lower_activation",
    "lower_softmax",
    "lower_identity",
    "lower_rescaling",
    "lower_permute",
    "lower_dropout",
]


def lower_dense(ctx: Lowering, call: LayerCall) -> list[Value]:
    """``x @ kernel + bias``: FULLY_CONNECTED with weights ``kernel.T`` ([units, in])."""
    kernel = call.weights[0]
    bias = call.weights[1] if call.config.get("use_bias", True) else None
    (x,), shape = call.inputs, call.out_shapes[0]
    inputs = [x, ctx.weight(f"{call.name}/kernel", kernel.T)]
    if bias is not None:
        inputs.append(ctx.weight(f"{call.name}/bias", bias))
    activation = call.config.get("activation")
    plain = activation in (None, "linear")
    y = ctx.op(
        "FULLY_CONNECTED",
        inputs,
        shape,
        call.name if plain else f"{call.name}/matmul",
        keep_num_dims=x.rank > 2,
    )
    return [ctx.activation(call, y, activation, call.name)]


def lower_activation(ctx: Lowering, call: LayerCall) -> list[Value]:
    x = call.inputs[0]
    y = ctx.activation(call, x, call.config.get("activation"), call.name)
    if y is x:
        y = ctx.op("IDENTITY", [x], x.shape, call.name)
    return [y]


def lower_softmax(ctx: Lowering, call: LayerCall) -> list[Value]:
    x = call.inputs[0]
    axis = call.config.get("axis", -1)
    axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
    if axis not in (-1, x.rank - 1):
        raise call.unsupported(f"softmax over axis={axis} is not supported; only the last axis")
    return [ctx.op("SOFTMAX", [x], x.shape, call.name, beta=1.0)]


def lower_identity(ctx: Lowering, call: LayerCall) -> list[Value]:
    x = call.inputs[0]
    return [ctx.op("IDENTITY", [x], x.shape, call.name)]


def lower_rescaling(ctx: Lowering, call: LayerCall) -> list[Value]:
    """``x * scale + offset`` (scalars or per-channel lists)."""
    x = call.inputs[0]
    scale, offset = call.config.get("scale", 1.0), call.config.get("offset", 0.0)
    has_offset = bool(np.any(np.asarray(offset) != 0))
    y = ctx.op(
        "MUL",
        [x, ctx.weight(f"{call.name}/scale", scale)],
        x.shape,
        f"{call.name}/scale" if has_offset else call.name,
    )
    if has_offset:
        y = ctx.op("ADD", [y, ctx.weight(f"{call.name}/offset", offset)], x.shape, call.name)
    return [y]


def lower_permute(ctx: Lowering, call: LayerCall) -> list[Value]:
    """``Permute(dims)`` (1-based sample axes): TRANSPOSE with perm ``[0, *dims]``."""
    perm = np.array([0, *[int(d) for d in call.config["dims"]]], dtype=np.int32)
    return [
        ctx.op(
            "TRANSPOSE",
            [call.inputs[0], ctx.const(f"{call.name}/perm", perm)],
            call.out_shapes[0],
            call.name,
        )
    ]


def lower_dropout(ctx: Lowering, call: LayerCall) -> list[Value]:
    """Dropout and noise layers are identities at inference; the passes remove them."""
    x = call.inputs[0]
    return [ctx.op("DROPOUT", [x], x.shape, call.name, rate=float(call.config.get("rate", 0.0)))]
