"""Lowering of Conv2DTranspose to TRANSPOSE_CONV.

The Keras kernel ``(kh, kw, filters, in)`` becomes TFLite's OHWI filter ``(filters, kh, kw,
in)`` (transpose 2, 0, 1, 3). TFLite has no dilated transposed convolution and derives its
padding from the output size (``transpose_conv.cc``: ``ComputePaddingHeightWidth`` with the
output as the convolution's input): the front crop is ``max((o - 1) * s + k - H, 0) // 2`` with
``o = ceil(H / s)`` for SAME and 0 for VALID. Keras crops ``k - 1 - left`` (its ``left`` pad of
the zero-inserted input); the op takes whichever TFLite padding crops the same, and a layer for
which neither does is refused.
"""

from __future__ import annotations

from compiler.ir import Value
from compiler.keras.layers.convolutional.conv2d_transpose import conv_transpose_pads
from compiler.lower.context import LayerCall, Lowering

__all__ = ["lower_conv2d_transpose"]


def _pair(value) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    return int(value[0]), int(value[1])


def _tflite_crop(padding: str, out: int, kernel: int, stride: int) -> int:
    if padding == "VALID":
        return 0
    conv_out = (out + stride - 1) // stride
    return max((conv_out - 1) * stride + kernel - out, 0) // 2


def lower_conv2d_transpose(ctx: Lowering, call: LayerCall) -> list[Value]:
    cfg = call.config
    if (cfg.get("data_format") or "channels_last") != "channels_last":
        raise call.unsupported("data_format='channels_first' is not supported")
    if _pair(cfg.get("dilation_rate", 1)) != (1, 1):
        raise call.unsupported("dilation_rate > 1 has no TFLite TRANSPOSE_CONV form")
    out = call.out_shapes[0]
    if any(d is None for d in out[1:]):
        raise call.unsupported(f"the output shape {out} has unknown spatial dimensions")
    kernel, strides = _pair(cfg["kernel_size"]), _pair(cfg.get("strides", 1))
    output_padding = cfg.get("output_padding")
    output_padding = (None, None) if output_padding is None else _pair(output_padding)
    padding = str(cfg.get("padding", "valid")).lower()
    crops = [
        kernel[a] - 1 - conv_transpose_pads(kernel[a], strides[a], 1, padding, output_padding[a])[0]
        for a in range(2)
    ]
    chosen = None
    for mode in ("SAME", "VALID") if padding == "same" else ("VALID", "SAME"):
        if all(_tflite_crop(mode, out[1 + a], kernel[a], strides[a]) == crops[a] for a in range(2)):
            chosen = mode
            break
    if chosen is None:
        raise call.unsupported(
            f"padding={padding!r} with output_padding={cfg.get('output_padding')} crops "
            f"{crops}, which neither TFLite padding (SAME, VALID) reproduces"
        )
    filt = call.weights[0].transpose(2, 0, 1, 3)
    inputs = [call.inputs[0], ctx.weight(f"{call.name}/kernel", filt)]
    if cfg.get("use_bias", True):
        inputs.append(ctx.weight(f"{call.name}/bias", call.weights[1]))
    activation = cfg.get("activation")
    plain = activation in (None, "linear")
    y = ctx.op(
        "TRANSPOSE_CONV",
        inputs,
        out,
        call.name if plain else f"{call.name}/conv",
        padding=chosen,
        stride=strides,
        output_size=(int(out[1]), int(out[2])),
    )
    return [ctx.activation(call, y, activation, call.name)]
