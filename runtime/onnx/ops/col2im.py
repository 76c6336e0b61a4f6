"""Col2Im (onnx.ai/onnx/operators/onnx__Col2Im.html, opset 18).

The inverse of im2col: input (N, C * prod(block_shape), L) holds one column per sliding block;
each block is added back at its place in the (padded) image, overlapping cells summing, and the
pads are cut off. L must equal the number of blocks the geometry gives.
"""

import itertools

import numpy as np

from runtime.errors import InvalidModelError
from runtime.onnx.ops._common import check_size, ints


def Col2Im(input, image_shape, block_shape, *, dilations=None, pads=None, strides=None):
    image, block = ints(image_shape), ints(block_shape)
    n = len(image)
    dilations = list(dilations) if dilations else [1] * n
    pads = list(pads) if pads else [0] * (2 * n)
    strides = list(strides) if strides else [1] * n
    if (
        n == 0 or len(block) != n or len(dilations) != n or len(strides) != n
        or len(pads) != 2 * n or min(block + dilations + strides) < 1 or min(pads) < 0
        or min(image) < 0
    ):  # fmt: skip
        raise InvalidModelError(
            f"Col2Im: image_shape {image}, block_shape {block}, dilations {dilations}, strides "
            f"{strides}, pads {pads} are inconsistent"
        )
    if input.ndim != 3 or input.shape[1] % int(np.prod(block)):
        raise InvalidModelError(
            f"Col2Im: input {list(input.shape)} must be [N, C * {int(np.prod(block))}, L]"
        )
    padded = [d + pads[i] + pads[n + i] for i, d in enumerate(image)]
    counts = []
    for i in range(n):
        extent = (block[i] - 1) * dilations[i] + 1
        if extent > padded[i]:
            raise InvalidModelError(f"Col2Im: block extent {extent} exceeds the image {padded}")
        counts.append((padded[i] - extent) // strides[i] + 1)
    batch, c = input.shape[0], input.shape[1] // int(np.prod(block))
    if input.shape[2] != int(np.prod(counts)):
        raise InvalidModelError(
            f"Col2Im: input has {input.shape[2]} blocks; the geometry gives {counts}"
        )
    check_size((batch, c, *padded), "Col2Im", input.dtype.itemsize)
    cols = input.reshape(batch, c, *block, *counts)
    y = np.zeros((batch, c, *padded), input.dtype)
    for offset in itertools.product(*(range(k) for k in block)):
        target = (slice(None), slice(None)) + tuple(
            slice(o * d, o * d + (m - 1) * s + 1, s)
            for o, d, m, s in zip(offset, dilations, counts, strides, strict=True)
        )
        y[target] += cols[(slice(None), slice(None), *offset)]
    crop = tuple(slice(pads[i], pads[i] + image[i]) for i in range(n))
    return np.ascontiguousarray(y[(slice(None), slice(None), *crop)])
