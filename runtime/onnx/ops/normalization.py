"""BatchNormalization in inference mode (onnx.ai/onnx/operators/onnx__BatchNormalization.html).

Y = (X - mean) / sqrt(var + epsilon) * scale + B, with every parameter along axis 1.
"""

import numpy as np

from runtime.errors import InvalidModelError, UnsupportedOpError


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
    return (X - input_mean.astype(dtype)) * inv + B.astype(dtype)


def BatchNormalization(
    X, scale, B, input_mean, input_var, *, epsilon=1e-5, momentum=0.9, training_mode=0
):
    if training_mode:
        raise UnsupportedOpError("BatchNormalization: training_mode=1 is not supported")
    shape = (1, -1) + (1,) * (X.ndim - 2)
    dtype = X.dtype
    inv = (scale / np.sqrt(input_var + np.asarray(epsilon, dtype=input_var.dtype))).astype(dtype)
    y = X - input_mean.reshape(shape).astype(dtype)
    if type(y) is not np.ndarray or y.shape != X.shape:
        return y * inv.reshape(shape) + B.reshape(shape).astype(dtype)
    # The same operations, the last two in place on y (fresh: a large tensor's new pages cost
    # as much as the arithmetic).
    y *= inv.reshape(shape)
    y += B.reshape(shape).astype(dtype)
    return y
