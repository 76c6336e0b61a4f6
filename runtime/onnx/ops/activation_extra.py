"""Activations added in later opsets: Celu, ThresholdedRelu, Swish, Hardmax
(onnx.ai/onnx/operators), in the input's type.
"""

import numpy as np

from runtime.errors import InvalidModelError
from runtime.onnx.ops._common import axis_index


def Celu(X, *, alpha=1.0):
    if alpha == 0:
        raise InvalidModelError("Celu: alpha must be non-zero")
    a = np.asarray(alpha, dtype=X.dtype)
    with np.errstate(over="ignore"):
        neg = a * np.expm1(np.minimum(X, 0) / a)
    return np.asarray(np.maximum(X, 0) + np.minimum(neg, 0), dtype=X.dtype)


def ThresholdedRelu(X, *, alpha=1.0):
    return np.where(X > np.asarray(alpha, dtype=X.dtype), X, np.zeros((), X.dtype))


def Swish(X, *, alpha=1.0):
    z = np.asarray(alpha, dtype=X.dtype) * X
    # Stable for both signs: exp never sees a large positive argument.
    e = np.exp(-np.abs(z))
    sig = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
    return np.asarray(X * sig, dtype=X.dtype)


def _one_hot_max(x2, axis):
    out = np.zeros(x2.shape, dtype=x2.dtype)
    if x2.size:
        first = np.expand_dims(np.argmax(x2, axis=axis), axis)  # ties: the first index wins
        np.put_along_axis(out, first, 1, axis=axis)
    return out


def Hardmax(input, *, axis=-1):  # noqa: A002 - ONNX input name
    """Hardmax-13: a one at the first maximum along ``axis``."""
    if input.ndim == 0:
        raise InvalidModelError("Hardmax: input must have rank >= 1")
    return _one_hot_max(input, axis_index(axis, input.ndim, "Hardmax"))


def Hardmax_1(input, *, axis=1):  # noqa: A002
    """Hardmax before opset 13: the input is seen as 2-D, [prod(dims < axis), prod(rest)]."""
    if not -input.ndim <= axis <= input.ndim:
        raise InvalidModelError(f"Hardmax: axis {axis} is out of range for rank {input.ndim}")
    axis = axis + input.ndim if axis < 0 else axis
    rows = int(np.prod(input.shape[:axis]))
    flat = input.reshape(rows, int(np.prod(input.shape[axis:])))
    return _one_hot_max(flat, 1).reshape(input.shape)
