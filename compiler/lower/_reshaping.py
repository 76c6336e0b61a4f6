"""Lowering of Flatten, Reshape and ZeroPadding2D.

Flatten and Reshape become ONE RESHAPE whose new shape starts with -1, so the batch stays
dynamic (TFLiteConverter writes SHAPE, STRIDED_SLICE, PACK and RESHAPE for the same thing).
"""

from __future__ import annotations

import numpy as np

from compiler.ir import Value
from compiler.lower.context import LayerCall, Lowering

__all__ = [
    "lower_reshape",
    "lower_zero_padding2d",
    "lower_zero_padding1d",
    "lower_cropping2d",
    "lower_cropping1d",
    "lower_up_sampling2d",
    "lower_repeat_vector",
]


def _pair(value) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    return int(value[0]), int(value[1])


def _channels_last(call: LayerCall) -> None:
    if (call.config.get("data_format") or "channels_last") != "channels_last":
        raise call.unsupported("data_format='channels_first' is not supported")


def lower_reshape(ctx: Lowering, call: LayerCall) -> list[Value]:
    """Flatten / Reshape: RESHAPE to ``[-1, *known output dims]``."""
    out = call.out_shapes[0]
    if any(d is None for d in out[1:]):
        raise call.unsupported(f"the output shape {out} has unknown non-batch dimensions")
    if call.class_name == "Flatten" and call.config.get("data_format") == "channels_first":
        raise call.unsupported("data_format='channels_first' is not supported")
    shape = ctx.const(f"{call.name}/shape", np.array([-1, *out[1:]], dtype=np.int32))
    return [ctx.op("RESHAPE", [call.inputs[0], shape], out, call.name)]


def lower_zero_padding2d(ctx: Lowering, call: LayerCall) -> list[Value]:
    cfg = call.config
    if (cfg.get("data_format") or "channels_last") != "channels_last":
        raise call.unsupported("data_format='channels_first' is not supported")
    padding = cfg.get("padding", 1)
    if isinstance(padding, int):
        rows = cols = (padding, padding)
    else:
        rows, cols = padding
        rows = (rows, rows) if isinstance(rows, int) else tuple(rows)
        cols = (cols, cols) if isinstance(cols, int) else tuple(cols)
    pads = np.array([[0, 0], list(rows), list(cols), [0, 0]], dtype=np.int32)
    paddings = ctx.const(f"{call.name}/paddings", pads)
    return [ctx.op("PAD", [call.inputs[0], paddings], call.out_shapes[0], call.name)]


def lower_zero_padding1d(ctx: Lowering, call: LayerCall) -> list[Value]:
    left, right = _pair(call.config.get("padding", 1))
    pads = np.array([[0, 0], [left, right], [0, 0]], dtype=np.int32)
    paddings = ctx.const(f"{call.name}/paddings", pads)
    return [ctx.op("PAD", [call.inputs[0], paddings], call.out_shapes[0], call.name)]


def _slice(ctx: Lowering, call: LayerCall, begin: list[int]) -> list[Value]:
    out = call.out_shapes[0]
    size = [-1] + [int(d) for d in out[1:]]
    inputs = [
        call.inputs[0],
        ctx.const(f"{call.name}/begin", np.array(begin, dtype=np.int32)),
        ctx.const(f"{call.name}/size", np.array(size, dtype=np.int32)),
    ]
    return [ctx.op("SLICE", inputs, out, call.name)]


def lower_cropping2d(ctx: Lowering, call: LayerCall) -> list[Value]:
    """Cropping2D: SLICE from (top, left) of the output's size."""
    _channels_last(call)
    rows, cols = call.config.get("cropping", ((0, 0), (0, 0)))
    return _slice(ctx, call, [0, _pair(rows)[0], _pair(cols)[0], 0])


def lower_cropping1d(ctx: Lowering, call: LayerCall) -> list[Value]:
    return _slice(ctx, call, [0, _pair(call.config.get("cropping", (1, 1)))[0], 0])


def lower_repeat_vector(ctx: Lowering, call: LayerCall) -> list[Value]:
    """RepeatVector(n): RESHAPE ``(N, F)`` to ``(N, 1, F)``, then CONCATENATION of n copies."""
    x, out = call.inputs[0], call.out_shapes[0]
    n, features = int(call.config["n"]), x.shape[1]
    shape = ctx.const(f"{call.name}/shape", np.array([-1, 1, features], dtype=np.int32))
    y = ctx.op("RESHAPE", [x, shape], (x.shape[0], 1, features), f"{call.name}/expand")
    return [ctx.op("CONCATENATION", [y] * n, out, call.name, axis=1)]


def lower_up_sampling2d(ctx: Lowering, call: LayerCall) -> list[Value]:
    """UpSampling2D: RESIZE_NEAREST_NEIGHBOR (``src = floor(dst / size)``), or
    RESIZE_BILINEAR with half-pixel centers (Keras's ``ops.image.resize``) to the output size."""
    _channels_last(call)
    interpolation = call.config.get("interpolation", "nearest")
    out = call.out_shapes[0]
    size = ctx.const(f"{call.name}/size", np.array(out[1:3], dtype=np.int32))
    if interpolation == "bilinear":
        return [
            ctx.op(
                "RESIZE_BILINEAR",
                [call.inputs[0], size],
                out,
                call.name,
                align_corners=False,
                half_pixel_centers=True,
            )
        ]
    if interpolation != "nearest":
        raise call.unsupported(
            f"interpolation={interpolation!r} is not supported; only 'nearest' and 'bilinear'"
        )
    return [ctx.op("RESIZE_NEAREST_NEIGHBOR", [call.inputs[0], size], out, call.name)]
