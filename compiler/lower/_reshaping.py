"""Lowering of Flatten, Reshape and ZeroPadding2D.

Flatten and Reshape become ONE RESHAPE whose new shape starts with -1, so the batch stays
dynamic (TFLiteConverter writes SHAPE, STRIDED_SLICE, PACK and RESHAPE for the same thing).
"""

from __future__ import annotations

import numpy as np

from compiler.ir import Value
from compiler.lower.context import LayerCall, Lowering

__all__ = ["lower_reshape", "lower_zero_padding2d"]


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
