"""Neural-network primitives with hand-written gradients: matmul and the activations.

Activations are primitives (not compositions) because they run on every activation of every
batch: one fused numpy expression forward and one backward is measurably faster.
"""

import math

from compiler.keras.backend import xp
from compiler.keras.ops._core import as_tensor, primitive

__all__ = [
    "matmul",
    "relu",
    "relu6",
    "sigmoid",
    "tanh",
    "softmax",
    "log_softmax",
    "softplus",
    "elu",
    "leaky_relu",
    "gelu",
    "silu",
    "selu",
    "hard_sigmoid",
    "hard_silu",
    "mish",
]


@primitive("matmul")
def matmul(a, b):
    return a @ b, (a, b)


@matmul.defgrad
def _matmul_grad(ctx, g):
    a, b = ctx
    if a.ndim == 2 and b.ndim == 2:
        return g @ b.T, a.T @ g
    grad_a = g @ xp.swapaxes(b, -1, -2)
    grad_b = xp.swapaxes(a, -1, -2) @ g
    if b.ndim == 2 and grad_b.ndim > 2:
        grad_b = grad_b.reshape(-1, *grad_b.shape[-2:]).sum(axis=0)
    return grad_a, grad_b


@primitive("relu")
def _relu(a, max_value, threshold, negative_slope):
    if threshold == 0 and negative_slope == 0:
        out = xp.maximum(a, 0)
    else:
        out = xp.where(a >= threshold, a, negative_slope * (a - threshold)).astype(a.dtype)
    if max_value is not None:
        out = xp.minimum(out, xp.asarray(max_value, a.dtype))
    return out, (a, max_value, threshold, negative_slope)


@_relu.defgrad
def _relu_grad(ctx, g):
    # As TensorFlow: the gradient at the kink (a == threshold) is the lower side's.
    a, max_value, threshold, negative_slope = ctx
    above = a > threshold
    if max_value is not None:
        above &= a < max_value
    if negative_slope == 0:
        return (xp.where(above, g, xp.zeros((), g.dtype)),)
    below = a <= threshold
    return (xp.where(above, g, xp.where(below, g * g.dtype.type(negative_slope), 0)),)


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras's parameterized ReLU: leaky below ``threshold``, capped at ``max_value``."""
    return _relu(
        as_tensor(x), max_value=max_value, threshold=threshold, negative_slope=negative_slope
    )


def relu6(x):
    return relu(x, max_value=6.0)


def leaky_relu(x, negative_slope=0.2):
    return relu(x, negative_slope=negative_slope)


@primitive("sigmoid")
def sigmoid(a):
    # Stable for large |a|: exp only of non-positive numbers.
    e = xp.exp(-xp.abs(a))
    out = xp.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype)
    return out, out


sigmoid.defgrad(lambda out, g: (g * out * (1 - out),))


@primitive("tanh")
def tanh(a):
    out = xp.tanh(a)
    return out, out


tanh.defgrad(lambda out, g: (g * (1 - out * out),))


@primitive("softmax")
def _softmax(a, axis):
    e = xp.exp(a - a.max(axis=axis, keepdims=True))
    out = e / e.sum(axis=axis, keepdims=True)
    return out, (out, axis)


@_softmax.defgrad
def _softmax_grad(ctx, g):
    out, axis = ctx
    return (out * (g - (g * out).sum(axis=axis, keepdims=True)),)


def softmax(x, axis=-1):
    return _softmax(as_tensor(x), axis=axis)


@primitive("log_softmax")
def _log_softmax(a, axis):
    shifted = a - a.max(axis=axis, keepdims=True)
    out = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
    return out, (out, axis)


@_log_softmax.defgrad
def _log_softmax_grad(ctx, g):
    out, axis = ctx
    return (g - xp.exp(out) * g.sum(axis=axis, keepdims=True),)


def log_softmax(x, axis=-1):
    return _log_softmax(as_tensor(x), axis=axis)


@primitive("softplus")
def softplus(a):
    out = xp.logaddexp(0, a).astype(a.dtype)
    return out, a


@softplus.defgrad
def _softplus_grad(a, g):
    e = xp.exp(-xp.abs(a))
    return (g * xp.where(a >= 0, 1 / (1 + e), e / (1 + e)),)


@primitive("elu")
def _elu(a, alpha):
    neg = alpha * xp.expm1(xp.minimum(a, 0))
    return xp.where(a > 0, a, neg).astype(a.dtype), (a, neg, alpha)


@_elu.defgrad
def _elu_grad(ctx, g):
    a, neg, alpha = ctx
    return (g * xp.where(a > 0, 1, neg + alpha),)


def elu(x, alpha=1.0):
    return _elu(as_tensor(x), alpha=alpha)


def silu(x):
    x = as_tensor(x)
    return x * sigmoid(x)


def selu(x):
    """``scale * elu(x, alpha)`` with Keras's constants."""
    return 1.0507009873554805 * elu(x, alpha=1.6732632423543772)


@primitive("hard_sigmoid")
def hard_sigmoid(a):
    # Keras 3: relu6(x + 3) / 6, computed as clip(x / 6 + 0.5, 0, 1) in the input's dtype.
    out = xp.clip(a / a.dtype.type(6) + a.dtype.type(0.5), 0, 1).astype(a.dtype)
    return out, a


hard_sigmoid.defgrad(lambda a, g: (xp.where((a > -3) & (a < 3), g / g.dtype.type(6), 0),))


@primitive("hard_silu")
def hard_silu(a):
    """``x * hard_sigmoid(x)`` (MobileNetV3's hard swish)."""
    gate = xp.clip(a / a.dtype.type(6) + a.dtype.type(0.5), 0, 1).astype(a.dtype)
    return a * gate, a


# d/dx x * relu6(x + 3) / 6 = 0 below -3, 1 above 3, x / 3 + 1/2 between.
hard_silu.defgrad(
    lambda a, g: (g * xp.where(a <= -3, 0, xp.where(a >= 3, 1, a / 3 + 0.5)).astype(g.dtype),)
)


def mish(x):
    """``x * tanh(softplus(x))``, composed of primitives (its gradient needs no code)."""
    x = as_tensor(x)
    return x * tanh(softplus(x))


def gelu(x, approximate=True):
    from compiler.keras.ops.math import power

    x = as_tensor(x)
    if approximate:
        inner = math.sqrt(2 / math.pi) * (x + 0.044715 * power(x, 3.0))
        return 0.5 * x * (1 + tanh(inner))
    return x * _normal_cdf(x)


@primitive("normal_cdf")
def _normal_cdf(a):
    from math import erf

    erf_v = xp.vectorize(erf, otypes=[a.dtype])
    return (0.5 * (1 + erf_v(a / math.sqrt(2)))).astype(a.dtype), a


_normal_cdf.defgrad(lambda a, g: (g * xp.exp(-0.5 * a * a) / math.sqrt(2 * math.pi),))
