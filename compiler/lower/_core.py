"""Lowering of core layers: Dense, activations, Dropout and other inference-time identities."""

from __future__ import annotations

from compiler.ir import Value
from compiler.lower.context import LayerCall, Lowering

__all__ = [
    "lower_dense",
    "lower_activation",
    "lower_relu",
    "lower_leaky_relu",
    "lower_softmax",
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


def lower_relu(ctx: Lowering, call: LayerCall) -> list[Value]:
    """``ReLU(max_value, negative_slope, threshold)``: RELU, RELU6 or LEAKY_RELU."""
    cfg, x = call.config, call.inputs[0]
    max_value = cfg.get("max_value")
    slope = float(cfg.get("negative_slope") or 0.0)
    threshold = float(cfg.get("threshold") or 0.0)
    if threshold == 0.0 and slope == 0.0 and max_value is None:
        return [ctx.op("RELU", [x], x.shape, call.name)]
    if threshold == 0.0 and slope == 0.0 and float(max_value) == 6.0:
        return [ctx.op("RELU6", [x], x.shape, call.name)]
    if threshold == 0.0 and max_value is None and 0.0 < slope < 1.0:
        return [ctx.op("LEAKY_RELU", [x], x.shape, call.name, alpha=slope)]
    raise call.unsupported(
        f"ReLU(max_value={max_value}, negative_slope={slope}, threshold={threshold}) is not "
        "supported; supported: plain ReLU, max_value=6, or 0 < negative_slope < 1 alone"
    )


def lower_leaky_relu(ctx: Lowering, call: LayerCall) -> list[Value]:
    x = call.inputs[0]
    alpha = call.config.get("negative_slope", call.config.get("alpha", 0.3))
    return [ctx.op("LEAKY_RELU", [x], x.shape, call.name, alpha=float(alpha))]


def lower_softmax(ctx: Lowering, call: LayerCall) -> list[Value]:
    x = call.inputs[0]
    axis = call.config.get("axis", -1)
    axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
    if axis not in (-1, x.rank - 1):
        raise call.unsupported(f"softmax over axis={axis} is not supported; only the last axis")
    return [ctx.op("SOFTMAX", [x], x.shape, call.name, beta=1.0)]


def lower_dropout(ctx: Lowering, call: LayerCall) -> list[Value]:
    """Dropout and noise layers are identities at inference; the passes remove them."""
    x = call.inputs[0]
    return [ctx.op("DROPOUT", [x], x.shape, call.name, rate=float(call.config.get("rate", 0.0)))]
