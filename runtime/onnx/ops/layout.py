"""Layout ops: DepthToSpace, SpaceToDepth, CenterCropPad, Upsample (opsets 7-9)
(onnx.ai/onnx/operators).

Block orders: DCR (depth-column-row) takes the block offset as the outer part of the channel
index, CRD (column-row-depth) as the inner part. Upsample is Resize with the
``asymmetric`` coordinate transform and floor rounding (what Upsample always did), with every
scale at least 1.
"""

import math

import numpy as np

from runtime.errors import InvalidModelError, UnsupportedOpError
from runtime.onnx.ops import resize
from runtime.onnx.ops._common import axis_index, check_size, ints


def _blocks(op, x, blocksize, mode):
    if x.ndim != 4:
        raise InvalidModelError(f"{op}: input must be 4-D (NCHW); received {x.ndim}-D")
    if blocksize < 1:
        raise InvalidModelError(f"{op}: blocksize must be positive; received {blocksize}")
    if mode not in ("DCR", "CRD"):
        raise InvalidModelError(f"{op}: mode must be DCR or CRD; received {mode!r}")
    return int(blocksize)


def DepthToSpace(input, *, blocksize, mode="DCR"):  # noqa: A002 - ONNX input name
    b = _blocks("DepthToSpace", input, blocksize, mode)
    n, c, h, w = input.shape
    if c % (b * b):
        raise InvalidModelError(f"DepthToSpace: channels {c} are not a multiple of {b * b}")
    depth = c // (b * b)
    if mode == "DCR":
        y = input.reshape(n, b, b, depth, h, w).transpose(0, 3, 4, 1, 5, 2)
    else:
        y = input.reshape(n, depth, b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
    return y.reshape(n, depth, h * b, w * b)


def DepthToSpace_1(input, *, blocksize):  # noqa: A002
    """DepthToSpace before opset 11: DCR order only."""
    return DepthToSpace(input, blocksize=blocksize)


def SpaceToDepth(input, *, blocksize, mode="DCR"):  # noqa: A002 - ONNX input name
    b = _blocks("SpaceToDepth", input, blocksize, mode)
    n, c, h, w = input.shape
    if h % b or w % b:
        raise InvalidModelError(f"SpaceToDepth: spatial dims {h}x{w} are not multiples of {b}")
    y = input.reshape(n, c, h // b, b, w // b, b)
    y = y.transpose(0, 3, 5, 1, 2, 4) if mode == "DCR" else y.transpose(0, 1, 3, 5, 2, 4)
    return y.reshape(n, c * b * b, h // b, w // b)


def SpaceToDepth_1(input, *, blocksize):  # noqa: A002
    """SpaceToDepth before opset 28: DCR order only."""
    return SpaceToDepth(input, blocksize=blocksize)


def CenterCropPad(input_data, shape, *, axes=None):
    rank = input_data.ndim
    axes = (
        list(range(rank)) if axes is None else [axis_index(a, rank, "CenterCropPad") for a in axes]
    )
    sizes = ints(shape)
    if len(sizes) != len(axes) or len(set(axes)) != len(axes):
        raise InvalidModelError(f"CenterCropPad: shape {sizes} does not fit axes {axes}")
    if any(s < 0 for s in sizes):
        raise InvalidModelError(f"CenterCropPad: shape {sizes} has a negative size")
    out_shape = list(input_data.shape)
    src, dst = [slice(None)] * rank, [slice(None)] * rank
    for a, size in zip(axes, sizes, strict=True):
        dim = input_data.shape[a]
        out_shape[a] = size
        if size <= dim:  # crop: the window starts half the excess in, rounded down
            start = (dim - size) // 2
            src[a] = slice(start, start + size)
        else:  # pad: the odd pixel goes to the end
            start = (size - dim) // 2
            dst[a] = slice(start, start + dim)
    check_size(out_shape, "CenterCropPad", input_data.dtype.itemsize)
    out = np.zeros(out_shape, dtype=input_data.dtype)
    if out.dtype.kind == "O":
        out[...] = ""
    out[tuple(dst)] = input_data[tuple(src)]
    return out


def Upsample(X, scales, *, mode="nearest"):
    """Upsample-9 (and 10): scales are an input."""
    return Upsample_7(X, mode=mode, scales=[float(s) for s in np.asarray(scales).reshape(-1)])


def Upsample_7(X, *, mode="nearest", scales):
    """Upsample-7: scales are an attribute."""
    if mode not in ("nearest", "linear", "bilinear"):
        raise UnsupportedOpError(f"Upsample: mode {mode!r} is not one of nearest, linear")
    if mode != "nearest" and X.dtype.kind not in "iuf":
        raise UnsupportedOpError(f"Upsample: linear mode on {X.dtype} tensors is not supported")
    if len(scales) != X.ndim:
        raise InvalidModelError(f"Upsample: {len(scales)} scales for a rank-{X.ndim} input")
    if not all(math.isfinite(s) and s >= 1 for s in scales):
        raise InvalidModelError(f"Upsample: scales {scales} must be finite and >= 1")
    out_shape = [math.floor(d * s) for d, s in zip(X.shape, scales, strict=True)]
    check_size(out_shape, "Upsample", X.dtype.itemsize)
    if X.size == 0:  # nothing to interpolate from: an empty result of the scaled shape
        return np.zeros(out_shape, dtype=X.dtype)
    return resize.Resize(
        X,
        None,
        np.asarray(scales, dtype=np.float32),
        coordinate_transformation_mode="asymmetric",
        mode="nearest" if mode == "nearest" else "linear",
        nearest_mode="floor",
    )
