"""LpNormalization and MeanVarianceNormalization (onnx.ai/onnx/operators), in the input's type.

MeanVarianceNormalization is the spec's function body: (X - E[X]) / (sqrt(E[X^2] - E[X]^2)
+ 1e-9) over ``axes``.
"""

import numpy as np

from runtime.errors import InvalidModelError
from runtime.onnx.ops._common import axis_index


def LpNormalization(input, *, axis=-1, p=2):  # noqa: A002 - ONNX input name
    if p not in (1, 2):
        raise InvalidModelError(f"LpNormalization: p must be 1 or 2; received {p}")
    if input.ndim == 0:
        raise InvalidModelError("LpNormalization: input must have rank >= 1")
    a = axis_index(axis, input.ndim, "LpNormalization")
    x = input.astype(np.float32) if input.dtype == np.float16 else input
    norm = (
        np.sum(np.abs(x), axis=a, keepdims=True)
        if p == 1
        else np.sqrt(np.sum(x * x, axis=a, keepdims=True))
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        # A zero vector stays zero (onnxruntime's kernel), rather than 0/0.
        y = np.where(norm == 0, 0, x / np.where(norm == 0, 1, norm))
    return y.astype(input.dtype)


def MeanVarianceNormalization(X, *, axes=(0, 2, 3)):
    axes = tuple(sorted({axis_index(a, X.ndim, "MeanVarianceNormalization") for a in axes}))
    if X.size == 0:
        return X.copy()
    x = X.astype(np.float32) if X.dtype == np.float16 else X
    mean = np.mean(x, axis=axes, keepdims=True)
    var = np.mean(x * x, axis=axes, keepdims=True) - mean * mean
    with np.errstate(invalid="ignore"):
        y = (x - mean) / (np.sqrt(np.maximum(var, 0)) + 1e-9)
    return y.astype(X.dtype)
