"""LpPool (onnx.ai/onnx/operators/onnx__LpPool.html, opsets 2, 11, 18) and GlobalLpPool
(opset 2).

``Y = (sum over the window of |x| ** p) ** (1 / p)``, zero padding (it adds nothing). Opset 18
adds ``dilations`` and ``ceil_mode``; the geometry is MaxPool's, except two onnxruntime
behaviours: SAME padding is sized by the undilated kernel, and a kernel wider than the padded
input gives an empty output.
"""

import numpy as np

from runtime.errors import InvalidModelError
from runtime.onnx.ops._common import check_size, conv_pads, windows
from runtime.onnx.ops.pool import pool_geometry


def LpPool(
    X, *, auto_pad="NOTSET", ceil_mode=0, dilations=None, kernel_shape=None, p=2, pads=None,
    strides=None,
):  # fmt: skip
    if p <= 0:
        raise InvalidModelError(f"LpPool: p must be positive; received {p}")
    if kernel_shape is None or X.ndim != len(kernel_shape) + 2:
        raise InvalidModelError(f"LpPool: kernel_shape {kernel_shape} does not fit input rank")
    n = len(kernel_shape)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        # onnxruntime sizes SAME padding by the undilated kernel, also with dilations.
        pads = conv_pads(X.shape[2:], kernel_shape, strides or [1] * n, [1] * n, auto_pad, None,
                         "LpPool")  # fmt: skip
        auto_pad = "NOTSET"
    spans = _spans(X, kernel_shape, dilations, pads, auto_pad)
    if min(spans) < 0:  # the kernel is wider than the padded input: no window (onnxruntime)
        out = [max(0, s // st + 1) for s, st in zip(spans, strides or [1] * n, strict=True)]
        return np.zeros((*X.shape[:2], *out), X.dtype)
    pads, strides, dilations, extra = pool_geometry(
        X, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode, "LpPool"
    )
    view = windows(X, kernel_shape, strides, dilations, pads, 0, extra)
    check_size(view.shape, "LpPool", X.dtype.itemsize)
    axes = tuple(range(X.ndim, view.ndim))
    total = np.sum(np.abs(view) ** p, axis=axes)
    return (total ** (1.0 / p)).astype(X.dtype)


def GlobalLpPool(X, *, p=2):
    """(sum over every spatial position of |x| ** p) ** (1 / p), per batch and channel, in X's
    type as onnxruntime's pooling loop (a square of +-3e38 overflows to inf in float32)."""
    if p <= 0:
        raise InvalidModelError(f"GlobalLpPool: p must be positive; received {p}")
    if X.ndim < 3:
        raise InvalidModelError(
            f"GlobalLpPool: the input needs a batch, a channel and spatial axes; has shape "
            f"{list(X.shape)}"
        )
    total = np.sum(np.abs(X) ** p, axis=tuple(range(2, X.ndim)), keepdims=True)
    return (total ** (1.0 / p)).astype(X.dtype)


def _spans(X, kernel_shape, dilations, pads, auto_pad):
    """Per spatial axis, padded length minus the dilated kernel's extent."""
    n = len(kernel_shape)
    dilations = dilations or [1] * n
    pads = [0] * (2 * n) if auto_pad == "VALID" or not pads else list(pads)
    if len(pads) != 2 * n or len(dilations) != n:
        raise InvalidModelError(f"LpPool: pads {pads} / dilations {dilations} do not fit")
    return [
        d + pads[i] + pads[n + i] - ((kernel_shape[i] - 1) * dilations[i] + 1)
        for i, d in enumerate(X.shape[2:])
    ]
