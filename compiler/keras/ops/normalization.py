"""Training-mode batch normalization as one primitive.

Spec: ``tf.nn.fused_batch_norm`` (training) / Ioffe & Szegedy 2015. With ``m`` values per
feature, ``mu = mean(x)``, ``var = mean((x - mu)^2)`` (biased), ``inv = 1 / sqrt(var + eps)``,
``xhat = (x - mu) * inv`` and ``y = scale * xhat + offset``, the gradient is

    d_offset = sum(g),  d_scale = sum(g * xhat),
    dx = inv * (gs - mean(gs) - xhat * mean(gs * xhat)),  where gs = g * scale,

all sums and means over the reduced axes. Composed of primitives, the same computation takes
about three times as many passes over the activations.
"""

from compiler.keras.backend import xp
from compiler.keras.ops._core import as_tensor, primitive

__all__ = ["fused_batch_norm"]


@primitive("fused_batch_norm")
def _fused_batch_norm(x, scale, offset, axes, epsilon):
    mean = x.mean(axis=axes, keepdims=True, dtype=x.dtype)
    centered = x - mean
    variance = xp.mean(xp.square(centered), axis=axes, keepdims=True, dtype=x.dtype)
    inv = (1.0 / xp.sqrt(variance + x.dtype.type(epsilon))).astype(x.dtype)
    xhat = centered
    xhat *= inv
    out = xhat * scale
    out += offset
    return out, (xhat, inv, scale, axes, mean, variance)


@_fused_batch_norm.defgrad
def _fused_batch_norm_grad(ctx, g):
    xhat, inv, scale, axes, _, _ = ctx
    grad_offset = g.sum(axis=axes, keepdims=True)
    grad_scale = (g * xhat).sum(axis=axes, keepdims=True)
    count = g.size // grad_offset.size
    # mean(gs) = scale * mean(g), mean(gs * xhat) = scale * mean(g * xhat): no extra passes.
    dx = g * scale
    dx -= scale * (grad_offset / count)
    dx -= xhat * (scale * (grad_scale / count))
    dx *= inv
    return dx, grad_scale, grad_offset


def fused_batch_norm(x, scale, offset, axes, epsilon):
    """Normalizes ``x`` with its own statistics over ``axes``; returns ``(y, mean, variance)``.

    ``scale`` and ``offset`` broadcast against ``x`` (length-1 on ``axes``); ``mean`` and
    ``variance`` are plain arrays (for the moving averages), of the same broadcast shape.
    """
    x = as_tensor(x)
    out = _fused_batch_norm(
        x, as_tensor(scale), as_tensor(offset), axes=tuple(axes), epsilon=float(epsilon)
    )
    if out._ctx is not None:
        _, _, _, _, mean, variance = out._ctx
    else:  # no autodiff record (inference under no_grad): recompute the cheap statistics
        mean = x.data.mean(axis=tuple(axes), keepdims=True, dtype=x.dtype)
        variance = x.data.var(axis=tuple(axes), keepdims=True, dtype=x.dtype)
    return out, mean, variance
