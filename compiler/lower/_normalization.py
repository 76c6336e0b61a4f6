"""Lowering of BatchNormalization to a BATCH_NORM op (folded away by the passes)."""

from __future__ import annotations

import numpy as np

from compiler.ir import Value
from compiler.lower.context import LayerCall, Lowering

__all__ = ["lower_batch_normalization"]


def lower_batch_normalization(ctx: Lowering, call: LayerCall) -> list[Value]:
    """Weights in Keras order: [gamma if scale], [beta if center], moving_mean,
    moving_variance."""
    cfg, x = call.config, call.inputs[0]
    axis = cfg.get("axis", -1)
    axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
    if not isinstance(axis, int) or axis not in (-1, x.rank - 1):
        raise call.unsupported(f"normalization over axis={axis} is not supported; only the last")
    weights = list(call.weights)
    channels = x.shape[-1]
    gamma = weights.pop(0) if cfg.get("scale", True) else np.ones(channels, np.float32)
    beta = weights.pop(0) if cfg.get("center", True) else np.zeros(channels, np.float32)
    mean, variance = weights[:2]
    params = [
        ctx.weight(f"{call.name}/{n}", v)
        for n, v in (
            ("gamma", gamma),
            ("beta", beta),
            ("moving_mean", mean),
            ("moving_variance", variance),
        )
    ]
    return [
        ctx.op(
            "BATCH_NORM",
            [x, *params],
            x.shape,
            call.name,
            epsilon=float(cfg.get("epsilon", 1e-3)),
            axis=-1,
        )
    ]
