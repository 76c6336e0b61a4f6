"""Lowering of Conv2D, DepthwiseConv2D and SeparableConv2D (NHWC, TFLite filter layouts).

Keras kernels are ``(kh, kw, in, out)`` for Conv2D (TFLite wants OHWI: transpose 3, 0, 1, 2)
and ``(kh, kw, in, multiplier)`` for DepthwiseConv2D (TFLite wants ``[1, kh, kw, in * mult]``,
output channel ``c * mult + m``: a plain reshape). SeparableConv2D is a depthwise conv followed
by a 1x1 conv carrying the bias and the activation.
"""

from __future__ import annotations

from compiler.ir import Value
from compiler.lower.context import LayerCall, Lowering

__all__ = ["lower_conv2d", "lower_depthwise_conv2d", "lower_separable_conv2d"]


def _pair(value) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    return int(value[0]), int(value[1])


def _geometry(call: LayerCall) -> dict:
    cfg = call.config
    if cfg.get("data_format", "channels_last") != "channels_last":
        raise call.unsupported(
            f"data_format={cfg['data_format']!r} is not supported; only 'channels_last'"
        )
    padding = str(cfg.get("padding", "valid")).lower()
    if padding not in ("valid", "same"):
        raise call.unsupported(f"padding={padding!r} is not supported; use 'valid' or 'same'")
    return {
        "padding": padding.upper(),
        "stride": _pair(cfg.get("strides", 1)),
        "dilation": _pair(cfg.get("dilation_rate", 1)),
    }


def _finish(ctx: Lowering, call: LayerCall, op_type, inputs, shape, **attrs) -> Value:
    activation = call.config.get("activation")
    plain = activation in (None, "linear")
    y = ctx.op(op_type, inputs, shape, call.name if plain else f"{call.name}/conv", **attrs)
    return ctx.activation(call, y, activation, call.name)


def lower_conv2d(ctx: Lowering, call: LayerCall) -> list[Value]:
    groups = int(call.config.get("groups", 1))
    channels = call.inputs[0].shape[-1]
    if groups != 1 and groups == channels:
        return _grouped_as_depthwise(ctx, call)
    if groups != 1:
        raise call.unsupported(
            f"groups={groups} is not supported; only 1 or the number of input channels ({channels})"
        )
    geometry = _geometry(call)
    kernel = call.weights[0]
    inputs = [call.inputs[0], ctx.weight(f"{call.name}/kernel", kernel.transpose(3, 0, 1, 2))]
    if call.config.get("use_bias", True):
        inputs.append(ctx.weight(f"{call.name}/bias", call.weights[1]))
    return [_finish(ctx, call, "CONV_2D", inputs, call.out_shapes[0], **geometry)]


def _depthwise_filter(kernel):
    kh, kw, cin, mult = kernel.shape
    return kernel.reshape(1, kh, kw, cin * mult), mult


def _grouped_as_depthwise(ctx: Lowering, call: LayerCall) -> list[Value]:
    """Conv2D with one group per input channel (ConvNeXt's 7x7 convolutions) is a depthwise
    convolution: its kernel ``(kh, kw, 1, C * mult)`` gives output ``o`` from input
    ``o // mult``, the DEPTHWISE_CONV_2D order, so the filter is a reshape."""
    kh, kw, _, filters = call.weights[0].shape
    channels = call.inputs[0].shape[-1]
    filt = call.weights[0].reshape(1, kh, kw, filters)
    inputs = [call.inputs[0], ctx.weight(f"{call.name}/kernel", filt)]
    if call.config.get("use_bias", True):
        inputs.append(ctx.weight(f"{call.name}/bias", call.weights[1]))
    return [
        _finish(
            ctx,
            call,
            "DEPTHWISE_CONV_2D",
            inputs,
            call.out_shapes[0],
            depth_multiplier=filters // channels,
            **_geometry(call),
        )
    ]


def lower_depthwise_conv2d(ctx: Lowering, call: LayerCall) -> list[Value]:
    geometry = _geometry(call)
    filt, mult = _depthwise_filter(call.weights[0])
    inputs = [call.inputs[0], ctx.weight(f"{call.name}/kernel", filt)]
    if call.config.get("use_bias", True):
        inputs.append(ctx.weight(f"{call.name}/bias", call.weights[1]))
    return [
        _finish(
            ctx,
            call,
            "DEPTHWISE_CONV_2D",
            inputs,
            call.out_shapes[0],
            depth_multiplier=mult,
            **geometry,
        )
    ]


def lower_separable_conv2d(ctx: Lowering, call: LayerCall) -> list[Value]:
    geometry = _geometry(call)
    filt, mult = _depthwise_filter(call.weights[0])
    pointwise = call.weights[1]  # (1, 1, in * mult, out)
    out_shape = call.out_shapes[0]
    mid_shape = (*out_shape[:3], filt.shape[3])
    x = ctx.op(
        "DEPTHWISE_CONV_2D",
        [call.inputs[0], ctx.weight(f"{call.name}/depthwise_kernel", filt)],
        mid_shape,
        f"{call.name}/depthwise",
        depth_multiplier=mult,
        **geometry,
    )
    inputs = [x, ctx.weight(f"{call.name}/pointwise_kernel", pointwise.transpose(3, 0, 1, 2))]
    if call.config.get("use_bias", True):
        inputs.append(ctx.weight(f"{call.name}/bias", call.weights[2]))
    return [_finish(ctx, call, "CONV_2D", inputs, out_shape)]
