"""GroupNormalization (onnx.ai/onnx/operators/onnx__GroupNormalization.html, opset 21).

X is channels first ``(N, C, D1, ...)``; its channels are split into ``num_groups`` groups,
each sample's group normalized over its channels and spatial positions with the biased
variance, then ``scale`` and ``bias`` (one per channel since opset 21; per group in 18) are
applied. Computed in ``stash_type`` (1: float32).
"""

import numpy as np

from runtime.errors import InvalidModelError, UnsupportedOpError


def GroupNormalization(X, scale, bias, *, num_groups, epsilon=1e-5, stash_type=1):
    if stash_type != 1:
        raise UnsupportedOpError(f"GroupNormalization: stash_type={stash_type} (only 1, float)")
    if X.ndim < 2:
        raise InvalidModelError(f"GroupNormalization: input of rank {X.ndim}; expected >= 2")
    n, c = X.shape[:2]
    if num_groups <= 0 or c % num_groups:
        raise InvalidModelError(
            f"GroupNormalization: num_groups={num_groups} does not divide the {c} channels"
        )
    if scale.shape != (c,) or bias.shape != (c,):
        raise InvalidModelError(
            f"GroupNormalization: scale {list(scale.shape)} and bias {list(bias.shape)} must "
            f"hold one value per channel ({c})"
        )
    x = X.astype(np.float32).reshape(n, num_groups, -1)
    mean = x.mean(axis=2, keepdims=True, dtype=np.float32)
    d = x - mean
    variance = (d * d).mean(axis=2, keepdims=True, dtype=np.float32)
    y = (d / np.sqrt(variance + np.float32(epsilon))).reshape(X.shape)
    shape = (1, c) + (1,) * (X.ndim - 2)
    y = y * scale.astype(np.float32).reshape(shape) + bias.astype(np.float32).reshape(shape)
    return y.astype(X.dtype)
