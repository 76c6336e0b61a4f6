"""Lowering of 1-D layers (Conv1D, DepthwiseConv1D, SeparableConv1D, 1-D pooling, global 1-D
pooling, UpSampling1D) through their 2-D ops on a height-1 image.

``(N, L, C)`` becomes ``(N, 1, L, C)`` by a RESHAPE, the 2-D op runs with a ``(1, k)`` window,
and a RESHAPE brings the result back to rank 3 (the FoldReshapes pass merges the reshapes
between consecutive 1-D layers). Kernels: Conv1D ``(k, in, out)`` -> OHWI ``(out, 1, k, in)``;
DepthwiseConv1D ``(k, in, mult)`` -> ``[1, 1, k, in * mult]``. ``"causal"`` padding is a left
PAD of ``(k - 1) * dilation`` followed by a VALID convolution.
"""

from __future__ import annotations

import numpy as np

from compiler.ir import Value
from compiler.lower.context import LayerCall, Lowering

__all__ = [
    "lower_conv1d",
    "lower_depthwise_conv1d",
    "lower_separable_conv1d",
    "lower_pool1d",
    "lower_global_average_pooling1d",
    "lower_global_max_pooling1d",
    "lower_up_sampling1d",
]


def _one(value) -> int:
    return int(value[0]) if isinstance(value, (list, tuple)) else int(value)


def _to_2d(ctx: Lowering, call: LayerCall, x: Value) -> Value:
    _, length, channels = x.shape
    shape = ctx.const(f"{call.name}/to_2d", np.array([-1, 1, length, channels], np.int32))
    return ctx.op("RESHAPE", [x, shape], (x.shape[0], 1, length, channels), f"{call.name}/2d")


def _to_1d(ctx: Lowering, call: LayerCall, y: Value, name: str) -> Value:
    out = call.out_shapes[0]
    shape = ctx.const(f"{call.name}/to_1d", np.array([-1, *out[1:]], np.int32))
    return ctx.op("RESHAPE", [y, shape], out, name)


def _geometry(call: LayerCall, x: Value) -> tuple[dict, Value | None]:
    cfg = call.config
    if (cfg.get("data_format") or "channels_last") != "channels_last":
        raise call.unsupported("data_format='channels_first' is not supported")
    padding = str(cfg.get("padding", "valid")).lower()
    if padding not in ("valid", "same", "causal"):
        raise call.unsupported(f"padding={padding!r} is not supported")
    stride, dilation = _one(cfg.get("strides", 1)), _one(cfg.get("dilation_rate", 1))
    geometry = {
        "padding": "VALID" if padding == "causal" else padding.upper(),
        "stride": (1, stride),
        "dilation": (1, dilation),
    }
    return geometry, padding == "causal"


def _causal_pad(ctx: Lowering, call: LayerCall, x: Value, kernel: int) -> Value:
    left = (kernel - 1) * _one(call.config.get("dilation_rate", 1))
    pads = ctx.const(f"{call.name}/causal", np.array([[0, 0], [left, 0], [0, 0]], np.int32))
    return ctx.op(
        "PAD", [x, pads], (x.shape[0], x.shape[1] + left, x.shape[2]), f"{call.name}/causal_pad"
    )


def _finish(ctx: Lowering, call: LayerCall, op_type, inputs, mid_shape, **attrs) -> Value:
    # The activation runs before the reshape back, so the passes can fuse it into the conv.
    y = ctx.op(op_type, inputs, mid_shape, f"{call.name}/{op_type.lower()}", **attrs)
    y = ctx.activation(call, y, call.config.get("activation"), f"{call.name}/activation")
    return _to_1d(ctx, call, y, call.name)


def _mid(call: LayerCall, channels: int) -> tuple:
    out = call.out_shapes[0]
    return (out[0], 1, out[1], channels)


def lower_conv1d(ctx: Lowering, call: LayerCall) -> list[Value]:
    if int(call.config.get("groups", 1)) != 1:
        raise call.unsupported(f"groups={call.config['groups']} is not supported; only 1")
    x = call.inputs[0]
    geometry, causal = _geometry(call, x)
    kernel = call.weights[0]  # (k, in, out)
    if causal:
        x = _causal_pad(ctx, call, x, kernel.shape[0])
    filt = kernel.transpose(2, 0, 1)[:, None]  # (out, 1, k, in)
    inputs = [_to_2d(ctx, call, x), ctx.weight(f"{call.name}/kernel", filt)]
    if call.config.get("use_bias", True):
        inputs.append(ctx.weight(f"{call.name}/bias", call.weights[1]))
    return [_finish(ctx, call, "CONV_2D", inputs, _mid(call, kernel.shape[2]), **geometry)]


def lower_depthwise_conv1d(ctx: Lowering, call: LayerCall) -> list[Value]:
    x = call.inputs[0]
    geometry, causal = _geometry(call, x)
    kernel = call.weights[0]  # (k, in, mult)
    k, cin, mult = kernel.shape
    if causal:
        x = _causal_pad(ctx, call, x, k)
    inputs = [
        _to_2d(ctx, call, x),
        ctx.weight(f"{call.name}/kernel", kernel.reshape(1, 1, k, cin * mult)),
    ]
    if call.config.get("use_bias", True):
        inputs.append(ctx.weight(f"{call.name}/bias", call.weights[1]))
    return [
        _finish(
            ctx,
            call,
            "DEPTHWISE_CONV_2D",
            inputs,
            _mid(call, cin * mult),
            depth_multiplier=mult,
            **geometry,
        )
    ]


def lower_separable_conv1d(ctx: Lowering, call: LayerCall) -> list[Value]:
    x = call.inputs[0]
    geometry, causal = _geometry(call, x)
    depthwise, pointwise = call.weights[0], call.weights[1]  # (k, in, m), (1, in*m, out)
    k, cin, mult = depthwise.shape
    if causal:
        x = _causal_pad(ctx, call, x, k)
    mid = ctx.op(
        "DEPTHWISE_CONV_2D",
        [
            _to_2d(ctx, call, x),
            ctx.weight(f"{call.name}/depthwise_kernel", depthwise.reshape(1, 1, k, cin * mult)),
        ],
        _mid(call, cin * mult),
        f"{call.name}/depthwise",
        depth_multiplier=mult,
        **geometry,
    )
    filt = pointwise.transpose(2, 0, 1)[:, None]  # (out, 1, 1, in*m)
    inputs = [mid, ctx.weight(f"{call.name}/pointwise_kernel", filt)]
    if call.config.get("use_bias", True):
        inputs.append(ctx.weight(f"{call.name}/bias", call.weights[2]))
    return [_finish(ctx, call, "CONV_2D", inputs, _mid(call, pointwise.shape[2]))]


def lower_pool1d(ctx: Lowering, call: LayerCall) -> list[Value]:
    x = call.inputs[0]
    geometry, causal = _geometry(call, x)
    if causal:
        raise call.unsupported("padding='causal' is not supported for pooling")
    size = _one(call.config.get("pool_size", 2))
    strides = call.config.get("strides")
    stride = size if strides is None else _one(strides)
    op_type = "MAX_POOL_2D" if "Max" in call.class_name else "AVERAGE_POOL_2D"
    y = ctx.op(
        op_type,
        [_to_2d(ctx, call, x)],
        _mid(call, x.shape[2]),
        f"{call.name}/pool",
        filter=(1, size),
        stride=(1, stride),
        padding=geometry["padding"],
    )
    return [_to_1d(ctx, call, y, call.name)]


def lower_global_average_pooling1d(ctx: Lowering, call: LayerCall) -> list[Value]:
    axes = ctx.const(f"{call.name}/axes", np.array([1], dtype=np.int32))
    return [
        ctx.op(
            "MEAN",
            [call.inputs[0], axes],
            call.out_shapes[0],
            call.name,
            keep_dims=bool(call.config.get("keepdims", False)),
        )
    ]


def lower_global_max_pooling1d(ctx: Lowering, call: LayerCall) -> list[Value]:
    x = call.inputs[0]
    _, length, channels = x.shape
    y = ctx.op(
        "MAX_POOL_2D",
        [_to_2d(ctx, call, x)],
        (x.shape[0], 1, 1, channels),
        f"{call.name}/pool",
        filter=(1, length),
        stride=(1, length),
    )
    return [_to_1d(ctx, call, y, call.name)]


def lower_up_sampling1d(ctx: Lowering, call: LayerCall) -> list[Value]:
    x = call.inputs[0]
    out = call.out_shapes[0]
    y = _to_2d(ctx, call, x)
    size = ctx.const(f"{call.name}/size", np.array([1, out[1]], dtype=np.int32))
    y = ctx.op(
        "RESIZE_NEAREST_NEIGHBOR", [y, size], (out[0], 1, out[1], out[2]), f"{call.name}/resize"
    )
    return [_to_1d(ctx, call, y, call.name)]
