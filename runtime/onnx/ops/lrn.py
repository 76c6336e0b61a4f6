"""LRN, local response normalization across channels (onnx.ai/onnx/operators/onnx__LRN.html).

square_sum[n, c] = sum of x[n, i]^2 for i in [c - floor((size - 1) / 2), c + ceil((size - 1)
/ 2)] clipped to the channels; y = x / (bias + alpha / size * square_sum) ** beta.
"""

import numpy as np

from runtime.errors import InvalidModelError

# Windows up to this many channels are summed slice by slice; wider ones by prefix sums.
_DIRECT_SIZE = 16


def LRN(X, *, size, alpha=0.0001, beta=0.75, bias=1.0):
    if X.ndim < 3:
        raise InvalidModelError(f"LRN: input rank {X.ndim}; expected >= 3 (N, C, D1, ...)")
    if size < 1:
        raise InvalidModelError(f"LRN: size {size} must be positive")
    channels = X.shape[1]
    before, after = (size - 1) // 2, size - 1 - (size - 1) // 2
    if size <= _DIRECT_SIZE and X.dtype in (np.float32, np.float64):
        # Small windows (AlexNet's and GoogLeNet's 5): the window's squares added slice by
        # slice in the input's type, as onnxruntime sums them.
        edge = [(0, 0), (before, after)] + [(0, 0)] * (X.ndim - 2)
        padded = np.pad(np.square(X), edge)
        square_sum = padded[:, :channels].copy()
        for k in range(1, size):
            square_sum += padded[:, k : k + channels]
        base = bias + np.asarray(alpha / size, X.dtype) * square_sum
        if beta == 0.75:  # the usual value: base^0.75 = sqrt(base) * sqrt(sqrt(base)), cheaper
            root = np.sqrt(base)
            root *= np.sqrt(root)
            return X / root
        return X * np.power(base, -np.asarray(beta, X.dtype))
    # A running sum over the channel axis: each window is a difference of two prefix sums,
    # in float64 so that the subtraction loses nothing a float32 result would show.
    squares = np.square(X.astype(np.float64))
    prefix = np.concatenate([np.zeros_like(squares[:, :1]), np.cumsum(squares, axis=1)], axis=1)
    # The window [c - before, c + after] clipped to the channels: prefix[min(c + after + 1, C)]
    # - prefix[max(c - before, 0)], i.e. two slices of the prefix sums padded with their edge
    # values (no gather).
    edge = [(0, 0), (before, after)] + [(0, 0)] * (X.ndim - 2)
    padded = np.pad(prefix, edge, mode="edge")
    square_sum = padded[:, size : size + channels] - padded[:, :channels]
    base = (bias + alpha / size * square_sum).astype(X.dtype, copy=False)
    return (X * np.power(base, -np.asarray(beta, X.dtype))).astype(X.dtype, copy=False)
