"""MaxUnpool (onnx.ai/onnx/operators/onnx__MaxUnpool.html, opsets 9, 11, 22).

Zeros of the unpooled shape, each X value written at its index I (flat over the whole
output tensor, as MaxPool's Indices output). The default spatial shape inverts the pooling:
``(in - 1) * stride - pad_begin - pad_end + kernel``; ``output_shape`` replaces it, and the
indices then address that shape, as onnxruntime (MaxPool of an input of output_shape gave
them). The spec's reference instead writes the default shape into output_shape's corner.
"""

import numpy as np

from runtime.errors import InvalidModelError
from runtime.onnx.ops._common import check_size, ints


def MaxUnpool(X, I, output_shape=None, *, kernel_shape=None, pads=None, strides=None):
    if kernel_shape is None:
        raise InvalidModelError("MaxUnpool: attribute kernel_shape is required")
    nsp = len(kernel_shape)
    if X.ndim != nsp + 2 or I.shape != X.shape:
        raise InvalidModelError(
            f"MaxUnpool: X {list(X.shape)} and I {list(I.shape)} must have the same shape, of "
            f"rank {nsp + 2}"
        )
    strides = list(strides) if strides else [1] * nsp
    pads = list(pads) if pads else [0] * (2 * nsp)
    if len(strides) != nsp or len(pads) != 2 * nsp or min(pads, default=0) < 0:
        raise InvalidModelError(f"MaxUnpool: strides {strides} / pads {pads} do not fit")
    shape = list(X.shape[:2]) + [
        (d - 1) * s - pads[i] - pads[nsp + i] + k
        for i, (d, s, k) in enumerate(zip(X.shape[2:], strides, kernel_shape, strict=True))
    ]
    if output_shape is not None and output_shape.size:
        given = ints(output_shape)
        if len(given) != X.ndim or given[:2] != shape[:2]:
            raise InvalidModelError(
                f"MaxUnpool: output_shape {given} does not fit X {list(X.shape)}"
            )
        shape = given
    shape = check_size(shape, "MaxUnpool", X.dtype.itemsize)
    y = np.zeros(shape, X.dtype)
    flat = I.reshape(-1).astype(np.int64)
    if flat.size and (flat.min() < 0 or flat.max() >= y.size):
        raise InvalidModelError(f"MaxUnpool: an index in I lies outside the {y.size} outputs")
    y.reshape(-1)[flat] = X.reshape(-1)
    return y
