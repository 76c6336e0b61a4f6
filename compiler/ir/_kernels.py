"""Numpy kernels of the IR's float ops: the reference semantics the passes must preserve.

Semantics follow TFLite's reference kernels (``tflite/kernels/internal/reference/``): NHWC,
SAME padding puts the odd extra row/column after (``pad_before = total // 2``), average pooling
divides by the number of in-bounds elements, SOFTMAX is over the last axis. Kernels compute in
float64 and return the output dtype, so that comparing a rewritten graph with the original
measures the rewrite, not rounding order.
"""

from __future__ import annotations

import math

import numpy as np

from compiler.ir._conv_transpose_kernel import transpose_conv
from compiler.ir._math_kernels import MATH_KERNELS
from compiler.ir._normalization_kernels import NORMALIZATION_KERNELS
from compiler.ir._recurrent_kernels import RECURRENT_KERNELS
from compiler.ir.errors import IRError

__all__ = ["KERNELS", "same_padding", "apply_activation"]

_ACT = {
    "NONE": lambda x: x,
    "RELU": lambda x: np.maximum(x, 0),
    "RELU6": lambda x: np.clip(x, 0, 6),
    "RELU_N1_TO_1": lambda x: np.clip(x, -1, 1),
    "TANH": np.tanh,
}


def apply_activation(x, name: str):
    return _ACT[name](x)


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """(before, after) padding of one spatial axis for TFLite / Keras ``"same"``."""
    effective = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _spatial_pads(x, kernel, stride, dilation, padding):
    if padding == "VALID":
        return (0, 0), (0, 0)
    return (
        same_padding(x.shape[1], kernel[0], stride[0], dilation[0]),
        same_padding(x.shape[2], kernel[1], stride[1], dilation[1]),
    )


def _windows(x, kernel, stride, dilation, pads, fill):
    """Patches ``(n, oh, ow, c, kh, kw)`` of an NHWC array."""
    (pt, pb), (pl, pr) = pads
    x = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=fill)
    eh = (kernel[0] - 1) * dilation[0] + 1
    ew = (kernel[1] - 1) * dilation[1] + 1
    win = np.lib.stride_tricks.sliding_window_view(x, (eh, ew), axis=(1, 2))
    return win[:, :: stride[0], :: stride[1], :, :: dilation[0], :: dilation[1]]


def conv_2d(x, w, b, *, padding, stride, dilation, activation):
    kh, kw = w.shape[1:3]
    pads = _spatial_pads(x, (kh, kw), stride, dilation, padding)
    win = _windows(x.astype(np.float64), (kh, kw), stride, dilation, pads, 0.0)
    # im2col (one copy, columns ordered c, kh, kw) and one BLAS matmul: calibration runs this
    # on hundreds of images, where an einsum over the strided windows is several times slower.
    n, oh, ow = win.shape[:3]
    cols = win.reshape(n * oh * ow, -1)
    y = (cols @ w.astype(np.float64).transpose(3, 1, 2, 0).reshape(cols.shape[1], -1)).reshape(
        n, oh, ow, -1
    )
    if b is not None:
        y = y + b
    return apply_activation(y, activation)


def depthwise_conv_2d(x, w, b, *, padding, stride, dilation, activation, depth_multiplier):
    kh, kw = w.shape[1:3]
    c = x.shape[3]
    pads = _spatial_pads(x, (kh, kw), stride, dilation, padding)
    win = _windows(x.astype(np.float64), (kh, kw), stride, dilation, pads, 0.0)
    # Output channel c * multiplier + m reads input channel c.
    wk = w.astype(np.float64).reshape(kh, kw, c, depth_multiplier)
    y = np.einsum("nhwcij,ijcm->nhwcm", win, wk, optimize=True)
    y = y.reshape(*y.shape[:3], c * depth_multiplier)
    if b is not None:
        y = y + b
    return apply_activation(y, activation)


def fully_connected(x, w, b, *, activation, keep_num_dims):
    flat = x.reshape(-1, w.shape[1]) if not keep_num_dims else x
    y = flat.astype(np.float64) @ w.astype(np.float64).T
    if b is not None:
        y = y + b
    return apply_activation(y, activation)


def _pool(x, *, padding, stride, filter, activation, reduce):
    pads = _spatial_pads(x, filter, stride, (1, 1), padding)
    if reduce == "max":
        win = _windows(x.astype(np.float64), filter, stride, (1, 1), pads, -np.inf)
        # The maximum over the window offsets, one strided view at a time (fast), not a
        # reduction over the two innermost strided axes (slow).
        y = win[..., 0, 0].copy()
        for i in range(filter[0]):
            for j in range(filter[1]):
                np.maximum(y, win[..., i, j], out=y)
    else:
        win = _windows(x.astype(np.float64), filter, stride, (1, 1), pads, 0.0)
        ones = np.ones((1, *x.shape[1:3], 1))
        count = _windows(ones, filter, stride, (1, 1), pads, 0.0).sum(axis=(4, 5))
        y = win.sum(axis=(4, 5)) / count
    return apply_activation(y, activation)


def max_pool_2d(x, **attrs):
    return _pool(x, reduce="max", **attrs)


def average_pool_2d(x, **attrs):
    return _pool(x, reduce="mean", **attrs)


def mean(x, axes, *, keep_dims):
    return x.astype(np.float64).mean(
        axis=tuple(int(a) for a in axes.reshape(-1)), keepdims=keep_dims
    )


def reshape(x, shape):
    return x.reshape([int(d) for d in shape])


def softmax(x, *, beta):
    z = beta * x.astype(np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def _binary(fn):
    def kernel(x, y, *, activation):
        return apply_activation(fn(x.astype(np.float64), y.astype(np.float64)), activation)

    return kernel


def concatenation(*values, axis, activation):
    joined = np.concatenate([v.astype(np.float64) for v in values], axis)
    return apply_activation(joined, activation)


def pad(x, paddings):
    return np.pad(x, [(int(a), int(b)) for a, b in paddings])


def batch_norm(x, gamma, beta, mean_, variance, *, epsilon, axis):
    shape = [1] * x.ndim
    shape[axis] = -1
    scale = gamma.astype(np.float64) / np.sqrt(variance.astype(np.float64) + epsilon)
    return (x - mean_.reshape(shape)) * scale.reshape(shape) + beta.reshape(shape)


def slice_(x, begin, size):
    """TFLite SLICE: ``size`` -1 takes the rest of the axis."""
    index = tuple(
        slice(int(b), None if int(s) == -1 else int(b) + int(s)) for b, s in zip(begin, size)
    )
    return x[index]


def resize_nearest_neighbor(x, size, *, align_corners, half_pixel_centers):
    """NHWC nearest resize, ``src = floor(dst * in / out)`` (both flags False, Keras's
    UpSampling2D); the flags' other variants are not needed by any lowering."""
    if align_corners or half_pixel_centers:
        raise IRError(
            "the IR evaluator's RESIZE_NEAREST_NEIGHBOR takes align_corners=False and "
            f"half_pixel_centers=False; received {align_corners}, {half_pixel_centers}"
        )
    rows = (np.arange(int(size[0])) * x.shape[1]) // int(size[0])
    cols = (np.arange(int(size[1])) * x.shape[2]) // int(size[1])
    return x[:, rows][:, :, cols]


def leaky_relu(x, *, alpha):
    x = x.astype(np.float64)
    return np.where(x >= 0, x, alpha * x)


def elu(x):
    x = x.astype(np.float64)
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


def batch_matmul(x, y, *, adj_x, adj_y):
    x, y = x.astype(np.float64), y.astype(np.float64)
    if adj_x:
        x = np.swapaxes(x, -1, -2)
    if adj_y:
        y = np.swapaxes(y, -1, -2)
    return np.matmul(x, y)


_ERF = np.frompyfunc(math.erf, 1, 1)


def gelu(x, *, approximate):
    x = x.astype(np.float64)
    if approximate:
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    return 0.5 * x * (1 + _ERF(x / math.sqrt(2)).astype(np.float64))


KERNELS = {
    "CONV_2D": conv_2d,
    "DEPTHWISE_CONV_2D": depthwise_conv_2d,
    "FULLY_CONNECTED": fully_connected,
    "MAX_POOL_2D": max_pool_2d,
    "AVERAGE_POOL_2D": average_pool_2d,
    "MEAN": mean,
    "RESHAPE": reshape,
    "SOFTMAX": softmax,
    "LOGISTIC": lambda x: 1.0 / (1.0 + np.exp(-x.astype(np.float64))),
    "TANH": lambda x: np.tanh(x.astype(np.float64)),
    "RELU": lambda x: np.maximum(x, 0),
    "RELU6": lambda x: np.clip(x, 0, 6),
    "RELU_N1_TO_1": lambda x: np.clip(x, -1, 1),
    "LEAKY_RELU": leaky_relu,
    "ELU": elu,
    "GELU": gelu,
    "MAXIMUM": lambda x, y: np.maximum(x.astype(np.float64), y),
    "MINIMUM": lambda x, y: np.minimum(x.astype(np.float64), y),
    "ADD": _binary(np.add),
    "SUB": _binary(np.subtract),
    "MUL": _binary(np.multiply),
    "CONCATENATION": concatenation,
    "PAD": pad,
    "SLICE": slice_,
    "RESIZE_NEAREST_NEIGHBOR": resize_nearest_neighbor,
    "TRANSPOSE": lambda x, perm: np.transpose(x, [int(p) for p in perm]),
    "TRANSPOSE_CONV": transpose_conv,
    "BATCH_MATMUL": batch_matmul,
    "BATCH_NORM": batch_norm,
    "DROPOUT": lambda x, *, rate: x,
    "IDENTITY": lambda x: x,
    **RECURRENT_KERNELS,
    **NORMALIZATION_KERNELS,  # its RESIZE_NEAREST_NEIGHBOR also takes the half-pixel variant
    **MATH_KERNELS,
}
