"""Lowering of 2-D pooling: MAX_POOL_2D / AVERAGE_POOL_2D, and global pooling.

GlobalAveragePooling2D is MEAN over axes 1, 2. GlobalMaxPooling2D is a MAX_POOL_2D whose window
is the whole image, then a RESHAPE to ``[-1, C]`` unless ``keepdims``.
"""

from __future__ import annotations

import numpy as np

from compiler.ir import Value
from compiler.lower._conv import _pair
from compiler.lower.context import LayerCall, Lowering

__all__ = ["lower_pool2d", "lower_global_average_pooling2d", "lower_global_max_pooling2d"]


def _channels_last(call: LayerCall) -> None:
    fmt = call.config.get("data_format") or "channels_last"
    if fmt != "channels_last":
        raise call.unsupported(f"data_format={fmt!r} is not supported; only 'channels_last'")


def lower_pool2d(ctx: Lowering, call: LayerCall) -> list[Value]:
    _channels_last(call)
    cfg = call.config
    size = _pair(cfg.get("pool_size", 2))
    strides = cfg.get("strides")
    padding = str(cfg.get("padding", "valid")).upper()
    op_type = "MAX_POOL_2D" if "Max" in call.class_name else "AVERAGE_POOL_2D"
    return [
        ctx.op(
            op_type,
            call.inputs,
            call.out_shapes[0],
            call.name,
            filter=size,
            stride=size if strides is None else _pair(strides),
            padding=padding,
        )
    ]


def lower_global_average_pooling2d(ctx: Lowering, call: LayerCall) -> list[Value]:
    _channels_last(call)
    axes = ctx.const(f"{call.name}/axes", np.array([1, 2], dtype=np.int32))
    keep = bool(call.config.get("keepdims", False))
    return [ctx.op("MEAN", [call.inputs[0], axes], call.out_shapes[0], call.name, keep_dims=keep)]


def lower_global_max_pooling2d(ctx: Lowering, call: LayerCall) -> list[Value]:
    _channels_last(call)
    x = call.inputs[0]
    _, h, w, c = x.shape
    keep = bool(call.config.get("keepdims", False))
    name = call.name if keep else f"{call.name}/pool"
    y = ctx.op("MAX_POOL_2D", [x], (x.shape[0], 1, 1, c), name, filter=(h, w), stride=(h, w))
    if keep:
        return [y]
    shape = ctx.const(f"{call.name}/shape", np.array([-1, c], dtype=np.int32))
    return [ctx.op("RESHAPE", [y, shape], call.out_shapes[0], call.name)]
