"""Lowering of merge layers: Add, Subtract, Multiply, Average (chains of binary ops) and
Concatenate."""

from __future__ import annotations

import numpy as np

from compiler.ir import Value
from compiler.lower.context import LayerCall, Lowering

__all__ = ["lower_elementwise", "lower_concatenate"]

_BINARY = {
    "Add": "ADD",
    "Subtract": "SUB",
    "Multiply": "MUL",
    "Average": "ADD",
    "Maximum": "MAXIMUM",
    "Minimum": "MINIMUM",
}


def lower_elementwise(ctx: Lowering, call: LayerCall) -> list[Value]:
    op_type = _BINARY[call.class_name]
    values, shape = call.inputs, call.out_shapes[0]
    if len(values) < 2 or (op_type == "SUB" and len(values) != 2):
        raise call.unsupported(f"received {len(values)} inputs; expected 2 (Subtract) or more")
    average = call.class_name == "Average"
    acc = values[0]
    for i, value in enumerate(values[1:], start=1):
        last = i == len(values) - 1 and not average
        acc = ctx.op(op_type, [acc, value], shape, call.name if last else f"{call.name}/{i}")
    if average:
        scale = ctx.weight(f"{call.name}/scale", np.float32(1.0 / len(values)))
        acc = ctx.op("MUL", [acc, scale], shape, call.name)
    return [acc]


def lower_concatenate(ctx: Lowering, call: LayerCall) -> list[Value]:
    shape = call.out_shapes[0]
    axis = int(call.config.get("axis", -1))
    axis = axis + len(shape) if axis < 0 else axis
    return [ctx.op("CONCATENATION", call.inputs, shape, call.name, axis=axis)]
