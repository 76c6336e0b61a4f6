"""InstanceNormalization (onnx.ai/onnx/operators/onnx__InstanceNormalization.html).

y = scale * (x - mean) / sqrt(variance + epsilon) + B, with the mean and (biased) variance of
each (sample, channel) over the spatial axes, and scale, B one value per channel.
"""

import numpy as np

from runtime.errors import InvalidModelError


def InstanceNormalization(input, scale, B, *, epsilon=1e-5):
    x = input
    if x.ndim < 3:
        raise InvalidModelError(f"InstanceNormalization: input rank {x.ndim}; expected >= 3")
    channels = x.shape[1]
    if scale.shape != (channels,) or B.shape != (channels,):
        raise InvalidModelError(
            f"InstanceNormalization: scale {list(scale.shape)} and B {list(B.shape)} must both "
            f"have shape [{channels}] (the input's channels)"
        )
    axes = tuple(range(2, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = np.square(x - mean).mean(axis=axes, keepdims=True)
    shape = (1, channels) + (1,) * (x.ndim - 2)
    y = (x - mean) / np.sqrt(var + np.asarray(epsilon, dtype=x.dtype))
    return (y * scale.reshape(shape) + B.reshape(shape)).astype(x.dtype, copy=False)
