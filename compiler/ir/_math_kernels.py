"""Numpy kernels of the IR's activation and elementwise-math ops (float64, as ``_kernels``).

HARD_SWISH is ``x * relu6(x + 3) / 6`` (``reference/hard_swish.h``), HARD_SIGMOID Keras 3's
``relu6(x + 3) / 6``; PRELU is ``x >= 0 ? x : alpha * x`` with ``alpha`` broadcast against
``x`` (``reference/prelu.h``); SELU uses Keras's alpha and scale; LOG_SOFTMAX is over the last
axis; the reductions SUM / REDUCE_MAX / REDUCE_MIN take their axes as an int32 input, as MEAN
does.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MATH_KERNELS"]


def _f64(x):
    return np.asarray(x).astype(np.float64)


def hard_swish(x):
    x = _f64(x)
    return x * np.clip(x + 3.0, 0.0, 6.0) / 6.0


def prelu(x, alpha):
    x = _f64(x)
    return np.where(x >= 0, x, x * _f64(alpha))


def log_softmax(x):
    x = _f64(x)
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _reduce(fn):
    def kernel(x, axes, *, keep_dims):
        return fn(_f64(x), axis=tuple(int(a) for a in axes.reshape(-1)), keepdims=keep_dims)

    return kernel


def _unary(fn):
    def kernel(x):
        with np.errstate(all="ignore"):  # log(0) = -inf and sqrt(-1) = nan, as in C
            return fn(_f64(x))

    return kernel


def softplus(x):
    return np.logaddexp(0.0, _f64(x))


def _selu(x):
    x = _f64(x)
    return 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(np.minimum(x, 0)))


MATH_KERNELS = {
    "HARD_SWISH": hard_swish,
    "HARD_SIGMOID": lambda x: np.clip(_f64(x) + 3.0, 0.0, 6.0) / 6.0,
    "SOFTPLUS": softplus,
    "MISH": lambda x: _f64(x) * np.tanh(softplus(x)),
    "SELU": _selu,
    "PRELU": prelu,
    "LOG_SOFTMAX": log_softmax,
    "EXP": _unary(np.exp),
    "LOG": _unary(np.log),
    "ABS": _unary(np.abs),
    "NEG": _unary(np.negative),
    "SQRT": _unary(np.sqrt),
    "RSQRT": _unary(lambda v: 1.0 / np.sqrt(v)),
    "SQUARE": _unary(np.square),
    "DIV": lambda x, y, *, activation: _apply(_f64(x) / _f64(y), activation),
    "SUM": _reduce(np.sum),
    "REDUCE_MAX": _reduce(np.max),
    "REDUCE_MIN": _reduce(np.min),
}


def _apply(y, activation):
    from compiler.ir._kernels import apply_activation

    return apply_activation(y, activation)
