"""MaxUnpool (onnx.ai/onnx/operators/onnx__MaxUnpool.html, opsets 9, 11, 22).

Zeros of the unpooled shape, each X value written at its index I (flat over the whole
unpooled tensor, as MaxPool's Indices output). The unpooled spatial shape inverts the pooling:
``(in - 1) * stride - pad_begin - pad_end + kernel``; a larger ``output_shape`` holds it in its
leading corner, zeros after (as the spec's reference and onnxruntime).
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
    inferred = list(X.shape[:2]) + [
        (d - 1) * s - pads[i] - pads[nsp + i] + k
        for i, (d, s, k) in enumerate(zip(X.shape[2:], strides, kernel_shape, strict=True))
    ]
    inferred = check_size(inferred, "MaxUnpool", X.dtype.itemsize)
    shape = inferred
    if output_shape is not None and output_shape.size:
        shape = ints(output_shape)
        if len(shape) != X.ndim or any(s < i for s, i in zip(shape, inferred, strict=True)):
            raise InvalidModelError(
                f"MaxUnpool: output_shape {shape} is smaller than the unpooled {inferred}"
            )
        shape = check_size(shape, "MaxUnpool", X.dtype.itemsize)
    # The indices address the unpooled shape; a larger output_shape pads it at the end.
    flat = I.reshape(-1).astype(np.int64)
    size = int(np.prod(inferred))
    if flat.size and (flat.min() < 0 or flat.max() >= size):
        raise InvalidModelError(f"MaxUnpool: an index in I lies outside the {size} outputs")
    unpooled = np.zeros(size, X.dtype)
    unpooled[flat] = X.reshape(-1)
    if shape == inferred:
        return unpooled.reshape(shape)
    y = np.zeros(shape, X.dtype)
    y[tuple(slice(0, d) for d in inferred)] = unpooled.reshape(inferred)
    return y
