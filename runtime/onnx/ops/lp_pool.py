"""LpPool (onnx.ai/onnx/operators/onnx__LpPool.html, opsets 2, 11, 18).

``Y = (sum over the window of |x| ** p) ** (1 / p)``, zero padding (it adds nothing). Opset 18
adds ``dilations`` and ``ceil_mode``; the geometry is MaxPool's.
"""

import numpy as np

from runtime.errors import InvalidModelError
from runtime.onnx.ops._common import check_size, windows
from runtime.onnx.ops.pool import pool_geometry


def LpPool(
    X, *, auto_pad="NOTSET", ceil_mode=0, dilations=None, kernel_shape=None, p=2, pads=None,
    strides=None,
):  # fmt: skip
    if p <= 0:
        raise InvalidModelError(f"LpPool: p must be positive; received {p}")
    pads, strides, dilations, extra = pool_geometry(
        X, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode, "LpPool"
    )
    view = windows(X, kernel_shape, strides, dilations, pads, 0, extra)
    check_size(view.shape, "LpPool", X.dtype.itemsize)
    axes = tuple(range(X.ndim, view.ndim))
    total = np.sum(np.abs(view) ** p, axis=axes)
    return (total ** (1.0 / p)).astype(X.dtype)
