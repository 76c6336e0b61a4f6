"""CausalConvWithState (onnx.ai/onnx/operators/onnx__CausalConvWithState.html, opset 27).

A depthwise 1-D convolution (weight [channels, 1, k]) over ``past_state`` (the last k - 1
inputs of the previous call, zeros by default) followed by ``input`` [batch, channels, length],
so output t sees inputs t - k + 1 .. t; then an optional SiLU (``silu`` / ``swish``, in
float32). ``present_state`` is the last k - 1 columns of that padded input.
"""

import numpy as np

from runtime.errors import InvalidModelError


def CausalConvWithState(input, weight, bias=None, past_state=None, *, activation="none"):
    op = "CausalConvWithState"
    if activation not in ("none", "silu", "swish"):
        raise InvalidModelError(f"{op}: activation {activation!r}; expected none, silu, swish")
    if input.ndim != 3 or weight.ndim != 3 or weight.shape[:2] != (input.shape[1], 1):
        raise InvalidModelError(
            f"{op}: input {list(input.shape)} must be [batch, channels, length] and weight "
            f"{list(weight.shape)} [channels, 1, k]"
        )
    batch, channels, length = input.shape
    k = weight.shape[2]
    if k < 1:
        raise InvalidModelError(f"{op}: kernel size {k} must be positive")
    if bias is not None and bias.shape != (channels,):
        raise InvalidModelError(f"{op}: bias {list(bias.shape)}; expected [{channels}]")
    if past_state is None:
        past_state = np.zeros((batch, channels, k - 1), input.dtype)
    elif past_state.shape != (batch, channels, k - 1):
        raise InvalidModelError(
            f"{op}: past_state {list(past_state.shape)}; expected {[batch, channels, k - 1]}"
        )
    padded = np.concatenate([past_state.astype(input.dtype), input], axis=2)
    wide = np.result_type(input.dtype, np.float32)  # float16 products and sums in float32
    acc = np.zeros((batch, channels, length), wide)
    taps = padded.astype(wide, copy=False)
    for j in range(k):
        acc += taps[:, :, j : j + length] * weight[None, :, 0, j, None].astype(wide)
    out = acc.astype(input.dtype)
    if bias is not None:  # added in the input's type, after the sum, as the spec's Conv
        out = out + bias.astype(input.dtype)[None, :, None]
    if activation != "none":
        x = out.astype(np.float32)
        out = (x * (np.float32(1) / (1 + np.exp(-x)))).astype(input.dtype)
    return out, padded[:, :, padded.shape[2] - (k - 1) :]
