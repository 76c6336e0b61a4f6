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
    finite = np.isfinite(mean) & np.isfinite(variance)
    if not finite.all():
        _overflowing_groups(x, Scale, B, epsilon, normalized, ~finite.reshape(-1), y, mean, inv)
    return y.astype(X.dtype), mean, inv


def _overflowing_groups(x, scale, bias, epsilon, normalized, bad, y, mean, inv):
    """Rewrites, in ``y``, ``mean`` and ``inv``, the ``bad`` groups (statistics not finite)
    as onnxruntime's kernel computes them: Welford's running mean and sum of squares in
    float32 (m += d / k, M2 += d * (x - m)), then (x - m) / sqrt(M2 / n + epsilon) * Scale + B.

    Its statistics stay finite where a float32 sum overflows ([3e38] * 4: mean 3e38, variance
    0, so y = B) and become inf or NaN where its steps overflow; the two-pass statistics above
    agree with it (within rounding) whenever they are finite, so only such groups come here.
    """
    n = int(np.prod(normalized))
    xb = x.reshape(-1, n)[bad]
    m = np.zeros(len(xb), np.float32)
    m2 = np.zeros(len(xb), np.float32)
    with np.errstate(all="ignore"):
        for k in range(n):
            v = xb[:, k]
            d = v - m
            m = m + d / np.float32(k + 1)
            m2 = m2 + d * (v - m)
        std = np.sqrt(m2 / np.float32(n) + np.float32(epsilon))
        yb = (xb - m[:, None]) / std[:, None]
        yb = yb * np.broadcast_to(scale.astype(np.float32), normalized).reshape(1, n)
        if bias is not None:
            yb = yb + np.broadcast_to(bias.astype(np.float32), normalized).reshape(1, n)
        y.reshape(-1, n)[bad] = yb
        mean.reshape(-1)[bad] = m
        inv.reshape(-1)[bad] = np.float32(1) / std
