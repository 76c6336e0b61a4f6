"""BatchNormalization in inference mode (onnx.ai/onnx/operators/onnx__BatchNormalization.html).

Y = (X - mean) / sqrt(var + epsilon) * scale + B, with every parameter along axis 1.
"""

import math

import numpy as np

from runtime.errors import InvalidModelError


def BatchNormalization_7(
    X, scale, B, input_mean, input_var, *, epsilon=1e-5, momentum=0.9, spatial=1
):
    """BatchNormalization 7-8: with ``spatial=0`` every parameter has shape (C, D1, ..., Dn),
    one value per activation rather than per channel."""
    if spatial:
        return BatchNormalization(X, scale, B, input_mean, input_var, epsilon=epsilon)
    per_activation = X.shape[1:]
    params = (scale, B, input_mean, input_var)
    if X.ndim < 2 or any(p.shape != per_activation for p in params):
        raise InvalidModelError(
            f"BatchNormalization: with spatial=0 every parameter must have shape "
            f"{list(per_activation)} (X.shape[1:]); received {[list(p.shape) for p in params]}"
        )
    dtype = X.dtype
    inv = (scale / np.sqrt(input_var + np.asarray(epsilon, dtype=input_var.dtype))).astype(dtype)
    return X * inv + (B.astype(dtype) - input_mean.astype(dtype) * inv)


def BatchNormalization(
    X, scale, B, input_mean, input_var, *, epsilon=1e-5, momentum=0.9, training_mode=0
):
    if training_mode:
        return _training(X, scale, B, input_mean, input_var, epsilon, momentum)
    shape = (1, -1) + (1,) * (X.ndim - 2)
    dtype = X.dtype
    inv = (scale / np.sqrt(input_var + np.asarray(epsilon, dtype=input_var.dtype))).astype(dtype)
    # onnxruntime's form: X * inv + (B - mean * inv). Its results, non-finite ones included
    # (an infinite scale with a zero mean makes the shift 0 * inf = NaN, not (X - 0) * inf).
    shift = (B.astype(dtype) - input_mean.astype(dtype) * inv).reshape(shape)
    y = X * inv.reshape(shape)
    if type(y) is not np.ndarray or y.shape != X.shape:
        return y + shift
    # The addition in place on y (fresh: a large tensor's new pages cost as much as the
    # arithmetic).
    y += shift
    return y


def _training(X, scale, B, input_mean, input_var, epsilon, momentum):
    """BatchNormalization-14+ with training_mode=1: Y normalized by the batch's own mean and
    (population) variance over every axis but 1, and the running statistics updated,
    running = input * momentum + batch * (1 - momentum). Statistics in float64."""
    if X.ndim < 2 or X.shape[0] * math.prod(X.shape[2:]) == 0:
        raise InvalidModelError(
            f"BatchNormalization (training mode): X must have a batch to take statistics of; "
            f"has shape {list(X.shape)}"
        )
    c = X.shape[1]
    if any(p.shape != (c,) for p in (scale, B, input_mean, input_var)):
        raise InvalidModelError(
            f"BatchNormalization: scale, B, mean and var must have shape [{c}]; received "
            f"{[list(p.shape) for p in (scale, B, input_mean, input_var)]}"
        )
    axes = (0,) + tuple(range(2, X.ndim))
    shape = (1, c) + (1,) * (X.ndim - 2)
    x = X.astype(np.float64)
    mean = x.mean(axis=axes)
    var = x.var(axis=axes)
    inv = scale.astype(np.float64) / np.sqrt(var + epsilon)
    y = (x - mean.reshape(shape)) * inv.reshape(shape) + B.astype(np.float64).reshape(shape)
    running_mean = input_mean.astype(np.float64) * momentum + mean * (1 - momentum)
    running_var = input_var.astype(np.float64) * momentum + var * (1 - momentum)
    return (
        y.astype(X.dtype),
        running_mean.astype(input_mean.dtype),
        running_var.astype(input_var.dtype),
    )
