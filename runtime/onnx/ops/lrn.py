"""LRN, local response normalization across channels (onnx.ai/onnx/operators/onnx__LRN.html).

square_sum[n, c] = sum of x[n, i]^2 for i in [c - floor((size - 1) / 2), c + ceil((size - 1)
/ 2)] clipped to the channels; y = x / (bias + alpha / size * square_sum) ** beta.
"""

import numpy as np

from runtime.errors import InvalidModelError


def LRN(X, *, size, alpha=0.0001, beta=0.75, bias=1.0):
    if X.ndim < 3:
        raise InvalidModelError(f"LRN: input rank {X.ndim}; expected >= 3 (N, C, D1, ...)")
    if size < 1:
        raise InvalidModelError(f"LRN: size {size} must be positive")
    channels = X.shape[1]
    before, after = (size - 1) // 2, size - 1 - (size - 1) // 2
    # A running sum over the channel axis: each window is a difference of two prefix sums,
    # in float64 so that the subtraction loses nothing a float32 result would show.
    squares = np.square(X.astype(np.float64))
    prefix = np.concatenate([np.zeros_like(squares[:, :1]), np.cumsum(squares, axis=1)], axis=1)
    low = np.clip(np.arange(channels) - before, 0, channels)
    high = np.clip(np.arange(channels) + after + 1, 0, channels)
    square_sum = prefix[:, high] - prefix[:, low]
    scale = (bias + alpha / size * square_sum) ** beta
    return (X / scale).astype(X.dtype, copy=False)
