"""LayerNormalization (onnx.ai/onnx/operators/onnx__LayerNormalization.html, opset 17).

Over the axes ``[axis, rank)``: ``Mean = ReduceMean(X)``, ``D = X - Mean``,
``InvStdDev = 1 / sqrt(ReduceMean(D * D) + epsilon)``, ``Y = D * InvStdDev * Scale + B``,
computed in ``stash_type`` (1: float32). The optional outputs Mean and InvStdDev are the
statistics with the normalized axes kept as size 1.
"""

import numpy as np

from runtime.errors import InvalidModelError, UnsupportedOpError


def LayerNormalization(X, Scale, B=None, *, axis=-1, epsilon=1e-5, stash_type=1):
    if stash_type != 1:
        raise UnsupportedOpError(f"LayerNormalization: stash_type={stash_type} (only 1, float)")
    rank = X.ndim
    if not -rank <= axis < rank:
        raise InvalidModelError(f"LayerNormalization: axis {axis} out of range for rank {rank}")
    axes = tuple(range(axis % rank, rank))
    normalized = X.shape[axis % rank :]
    for name, value in (("Scale", Scale), ("B", B)):
        if value is None:
            continue
        try:
            fits = np.broadcast_shapes(value.shape, normalized) == normalized
        except ValueError:
            fits = False
        if not fits:
            raise InvalidModelError(
                f"LayerNormalization: {name} of shape {list(value.shape)} does not broadcast to "
                f"the normalized shape {list(normalized)}"
            )
    x = X.astype(np.float32)
    mean = x.mean(axis=axes, keepdims=True, dtype=np.float32)
    d = x - mean
    variance = (d * d).mean(axis=axes, keepdims=True, dtype=np.float32)
    inv = (np.float32(1) / np.sqrt(variance + np.float32(epsilon))).astype(np.float32)
    y = d * inv * Scale.astype(np.float32)
    if B is not None:
        y = y + B.astype(np.float32)
    return y.astype(X.dtype), mean, inv
