"""RMSNormalization (onnx.ai/onnx/operators/onnx__RMSNormalization.html, opset 23).

Over the axes ``[axis, rank)``: ``Y = X / sqrt(ReduceMean(X * X) + epsilon) * scale``, computed
in ``stash_type`` (1: float32) and returned in X's type.
"""

import numpy as np

from runtime.errors import InvalidModelError, UnsupportedOpError


def RMSNormalization(X, scale, *, axis=-1, epsilon=1e-5, stash_type=1):
    if stash_type != 1:
        raise UnsupportedOpError(f"RMSNormalization: stash_type={stash_type} (only 1, float)")
    rank = X.ndim
    if not -rank <= axis < rank:
        raise InvalidModelError(f"RMSNormalization: axis {axis} out of range for rank {rank}")
    normalized = X.shape[axis % rank :]
    try:
        fits = np.broadcast_shapes(scale.shape, normalized) == normalized
    except ValueError:
        fits = False
    if not fits:
        raise InvalidModelError(
            f"RMSNormalization: scale of shape {list(scale.shape)} does not broadcast to the "
            f"normalized shape {list(normalized)}"
        )
    x = X.astype(np.float32)
    axes = tuple(range(axis % rank, rank))
    mean_square = np.mean(x * x, axis=axes, keepdims=True, dtype=np.float32)
    y = x / np.sqrt(mean_square + np.float32(epsilon)) * scale.astype(np.float32)
    return y.astype(X.dtype)
