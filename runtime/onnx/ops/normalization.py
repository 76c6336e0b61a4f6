"""BatchNormalization in inference mode (onnx.ai/onnx/operators/onnx__BatchNormalization.html).

Y = (X - mean) / sqrt(var + epsilon) * scale + B, with every parameter along axis 1.
"""

import numpy as np

from runtime.errors import UnsupportedOpError


def BatchNormalization(
    X, scale, B, input_mean, input_var, *, epsilon=1e-5, momentum=0.9, training_mode=0
):
    if training_mode:
        raise UnsupportedOpError("BatchNormalization: training_mode=1 is not supported")
    shape = (1, -1) + (1,) * (X.ndim - 2)
    dtype = X.dtype
    inv = (scale / np.sqrt(input_var + np.asarray(epsilon, dtype=input_var.dtype))).astype(dtype)
    return (X - input_mean.reshape(shape).astype(dtype)) * inv.reshape(shape) + B.reshape(
        shape
    ).astype(dtype)
