"""Lowering of LayerNormalization, GroupNormalization, UnitNormalization and ConvNeXt's
LayerScale / StochasticDepth.

LayerNormalization and GroupNormalization become one LAYER_NORM / GROUP_NORM op (ONNX writes
them as LayerNormalization / GroupNormalization where its opset has them; the
DecomposeNormalizationPass turns them into TFLite builtins). UnitNormalization is lowered
straight to TFLite builtins:

* UnitNormalization over ``n`` values: ``x * rsqrt(sum(x^2))`` is
  ``x * RSQRT(MEAN(x * x) + eps^2 / n) / sqrt(n)``; Keras clamps the norm below at
  ``eps = 1e-12`` (``rsqrt(max(s, eps^2))``), which differs from adding ``eps^2`` by a relative
  ``eps^2 / s``, far below float32 resolution unless the whole vector is ~0 (then both are 0).
  SUM is avoided: TFLite has no usable int8 SUM kernel.
"""

from __future__ import annotations

import math

import numpy as np

from compiler.ir import Value
from compiler.lower.context import LayerCall, Lowering

__all__ = [
    "lower_layer_normalization",
    "lower_group_normalization",
    "lower_unit_normalization",
    "lower_layer_scale",
    "lower_stochastic_depth",
]


def _axes(call: LayerCall, rank: int) -> tuple[int, ...]:
    axis = call.config.get("axis", -1)
    axes = axis if isinstance(axis, (list, tuple)) else [axis]
    if not axes or any(not isinstance(a, int) or not -rank <= a < rank for a in axes):
        raise call.unsupported(f"axis={axis} is not valid for inputs of rank {rank}")
    axes = tuple(sorted({a % rank for a in axes}))
    if 0 in axes:
        raise call.unsupported(f"normalization over the batch axis (axis={axis}) is not supported")
    return axes


def _axes_const(ctx: Lowering, call: LayerCall, axes, tag: str = "axes") -> Value:
    return ctx.const(f"{call.name}/{tag}", np.array(axes, dtype=np.int32))


def _reduced_shape(shape, axes):
    return tuple(1 if a in axes else d for a, d in enumerate(shape))


def lower_layer_normalization(ctx: Lowering, call: LayerCall) -> list[Value]:
    """LAYER_NORM with Keras's weights [gamma if scale], [beta if center]."""
    cfg, x = call.config, call.inputs[0]
    if cfg.get("rms_scaling"):
        raise call.unsupported("rms_scaling=True (deprecated in Keras) is not supported")
    axes = _axes(call, x.rank)
    weights = list(call.weights)
    inputs = [x, None, None]
    if cfg.get("scale", True):
        inputs[1] = ctx.weight(f"{call.name}/gamma", weights.pop(0))
    if cfg.get("center", True):
        inputs[2] = ctx.weight(f"{call.name}/beta", weights.pop(0))
    while inputs[-1] is None:
        inputs.pop()
    y = ctx.op(
        "LAYER_NORM",
        inputs,
        x.shape,
        call.name,
        axes=axes,
        epsilon=float(cfg.get("epsilon", 1e-3)),
    )
    return [y]


def lower_group_normalization(ctx: Lowering, call: LayerCall) -> list[Value]:
    """GROUP_NORM with Keras's weights [gamma if scale], [beta if center]."""
    cfg, x = call.config, call.inputs[0]
    axis = cfg.get("axis", -1)
    if not isinstance(axis, int) or axis % x.rank != x.rank - 1:
        raise call.unsupported(f"group normalization over axis={axis} is not supported; only -1")
    channels = x.shape[-1]
    groups = int(cfg.get("groups", 32))
    groups = channels if groups == -1 else groups
    if groups <= 0 or channels % groups:
        raise call.unsupported(f"groups={groups} does not divide the {channels} channels")
    weights = list(call.weights)
    inputs = [x, None, None]
    if cfg.get("scale", True):
        inputs[1] = ctx.weight(f"{call.name}/gamma", weights.pop(0))
    if cfg.get("center", True):
        inputs[2] = ctx.weight(f"{call.name}/beta", weights.pop(0))
    while inputs[-1] is None:
        inputs.pop()
    eps = float(cfg.get("epsilon", 1e-3))
    return [ctx.op("GROUP_NORM", inputs, x.shape, call.name, groups=groups, epsilon=eps)]


def lower_unit_normalization(ctx: Lowering, call: LayerCall) -> list[Value]:
    """The decomposition in the module docstring."""
    x, name = call.inputs[0], call.name
    axes = _axes(call, x.rank)
    count = math.prod(x.shape[a] for a in axes)
    stat_shape = _reduced_shape(x.shape, axes)
    sq = ctx.op("MUL", [x, x], x.shape, f"{name}/square")
    mean = ctx.op(
        "MEAN",
        [sq, _axes_const(ctx, call, axes)],
        stat_shape,
        f"{name}/mean_square",
        keep_dims=True,
    )
    eps = ctx.const(f"{name}/epsilon", np.float32(1e-24 / count))
    mean = ctx.op("ADD", [mean, eps], stat_shape, f"{name}/add")
    inv = ctx.op("RSQRT", [mean], stat_shape, f"{name}/rsqrt")
    y = ctx.op("MUL", [x, inv], x.shape, f"{name}/normalized")
    scale = ctx.const(f"{name}/inv_sqrt_count", np.float32(1.0 / math.sqrt(count)))
    return [ctx.op("MUL", [y, scale], x.shape, name)]


def lower_layer_scale(ctx: Lowering, call: LayerCall) -> list[Value]:
    """ConvNeXt's LayerScale: ``x * gamma`` (per channel)."""
    x = call.inputs[0]
    return [
        ctx.op("MUL", [x, ctx.weight(f"{call.name}/gamma", call.weights[0])], x.shape, call.name)
    ]


def lower_stochastic_depth(ctx: Lowering, call: LayerCall) -> list[Value]:
    """An identity at inference, as Dropout (the passes remove it)."""
    x = call.inputs[0]
    rate = float(call.config.get("drop_path_rate", 0.0))
    return [ctx.op("DROPOUT", [x], x.shape, call.name, rate=rate)]
