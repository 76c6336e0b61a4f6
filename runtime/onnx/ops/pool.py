"""MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool (onnx.ai/onnx/operators).

Windows are a strided view of the (padded) input and the reduction runs over the kernel axes.
With ``ceil_mode`` the last window may run past the end pad; ONNX drops a window that would
start inside the end padding, and AveragePool never counts the extra cells.
"""

import itertools
import math

import numpy as np

from runtime.errors import InvalidModelError
from runtime.onnx.ops._common import check_size, conv_pads, windows


def pool_geometry(x, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode, op):
    """Pads, strides, dilations and the extra end padding that ``ceil_mode`` needs."""
    if kernel_shape is None:
        raise InvalidModelError(f"{op}: attribute kernel_shape is required")
    nsp = len(kernel_shape)
    if x.ndim != nsp + 2:
        raise InvalidModelError(f"{op}: input rank {x.ndim} does not match kernel {kernel_shape}")
    strides = list(strides) if strides else [1] * nsp
    dilations = list(dilations) if dilations else [1] * nsp
    if len(strides) != nsp or len(dilations) != nsp or min(strides + dilations + kernel_shape) < 1:
        raise InvalidModelError(f"{op}: kernel/strides/dilations are invalid")
    pads = conv_pads(x.shape[2:], kernel_shape, strides, dilations, auto_pad, pads, op)
    extra = []
    for i, size in enumerate(x.shape[2:]):
        extent = (kernel_shape[i] - 1) * dilations[i] + 1
        span = size + pads[i] + pads[nsp + i] - extent
        if span < 0:
            raise InvalidModelError(f"{op}: kernel extent {extent} exceeds the padded input")
        out = (math.ceil(span / strides[i]) if ceil_mode else span // strides[i]) + 1
        if ceil_mode and (out - 1) * strides[i] >= size + pads[i]:
            out -= 1
        extra.append(max(0, (out - 1) * strides[i] + extent - (size + pads[i] + pads[nsp + i])))
    return pads, strides, dilations, extra


def _lowest(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def MaxPool_1(x, *, auto_pad="NOTSET", kernel_shape=None, pads=None, strides=None):
    """MaxPool 1-7: one output, no dilations, ceil_mode or storage_order."""
    return MaxPool(x, auto_pad=auto_pad, kernel_shape=kernel_shape, pads=pads, strides=strides)


def MaxPool(
    x,
    *,
    auto_pad="NOTSET",
    ceil_mode=0,
    dilations=None,
    kernel_shape=None,
    pads=None,
    storage_order=0,
    strides=None,
    _n_outputs=1,
):
    pads, strides, dilations, extra = pool_geometry(
        x, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode, "MaxPool"
    )
    nsp = len(kernel_shape)
    if _n_outputs > 1:
        return _max_with_indices(x, kernel_shape, strides, dilations, pads, extra, storage_order)
    if any(pads) or any(extra):
        width = [(0, 0), (0, 0)] + [(pads[i], pads[nsp + i] + extra[i]) for i in range(nsp)]
        check_size([d + a + b for d, (a, b) in zip(x.shape, width, strict=True)], "MaxPool")
        x = np.pad(x, width, constant_values=_lowest(x.dtype))
    # The maximum over the kernel offsets of strided slices: kernel-size elementwise maxima on
    # whole tensors, whatever the memory layout (no window view, no copy of the input).
    outs = [
        (size - (k - 1) * d - 1) // s + 1
        for size, k, d, s in zip(x.shape[2:], kernel_shape, dilations, strides, strict=True)
    ]
    result = None
    for offset in itertools.product(*(range(k) for k in kernel_shape)):
        index = (slice(None), slice(None)) + tuple(
            slice(o * d, o * d + (n - 1) * s + 1, s)
            for o, d, s, n in zip(offset, dilations, strides, outs, strict=True)
        )
        result = (
            x[index].copy(order="K") if result is None else np.maximum(result, x[index], out=result)
        )
    return result


def _max_with_indices(x, kernel_shape, strides, dilations, pads, extra, storage_order):
    """MaxPool's optional Indices output: the flat index of each maximum in the input tensor
    (row-major, or column-major over the spatial dims when storage_order is 1), pads ignored."""
    nsp = len(kernel_shape)
    flat = np.arange(x.size, dtype=np.int64).reshape(x.shape)
    if storage_order:
        if nsp != 2:
            raise InvalidModelError("MaxPool: storage_order=1 is defined for 2-D pooling only")
        n, c, h, w = x.shape
        flat = (
            (np.arange(n * c, dtype=np.int64) * h * w).reshape(n, c, 1, 1)
            + np.arange(w, dtype=np.int64) * h
            + np.arange(h, dtype=np.int64)[:, None]
        )
    values = windows(x, kernel_shape, strides, dilations, pads, _lowest(x.dtype), extra)
    index = windows(flat, kernel_shape, strides, dilations, pads, -1, extra)
    shape = values.shape[: 2 + nsp] + (-1,)
    values, index = values.reshape(shape), index.reshape(shape)
    best = values.argmax(axis=-1)[..., None]
    return (
        np.take_along_axis(values, best, axis=-1)[..., 0],
        np.take_along_axis(index, best, axis=-1)[..., 0],
    )


def AveragePool(
    x,
    *,
    auto_pad="NOTSET",
    ceil_mode=0,
    count_include_pad=0,
    dilations=None,
    kernel_shape=None,
    pads=None,
    strides=None,
):
    pads, strides, dilations, extra = pool_geometry(
        x, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode, "AveragePool"
    )
    nsp = len(kernel_shape)
    axes = tuple(range(-nsp, 0))
    total = _window_sums(x, kernel_shape, strides, dilations, pads, extra)
    # Count of cells each window averages: real cells, plus explicit pads if count_include_pad;
    # never the extra cells ceil_mode adds.
    mask = np.ones((1, 1) + x.shape[2:], dtype=x.dtype)
    if count_include_pad:
        width = [(0, 0), (0, 0)] + [(pads[i], pads[nsp + i]) for i in range(nsp)]
        mask = np.pad(mask, width, constant_values=1)
        inner = [0] * (2 * nsp)
    else:
        inner = pads
    count = windows(mask, kernel_shape, strides, dilations, inner, 0, extra).sum(axis=axes)
    return (total / count).astype(x.dtype, copy=False)


def _window_sums(x, kernel_shape, strides, dilations, pads, extra):
    """The sum of each window (zero padding), one kernel axis at a time, the first kernel
    axis innermost: the float32 summation order of onnxruntime's MLAS pooling, so that QDQ
    models match it exactly ((x00 + x10) + (x01 + x11)). Strided slices of the whole tensor
    are added in turn, whatever its memory layout (no window view, no reduction over one)."""
    nsp = len(kernel_shape)
    if any(pads) or any(extra):
        width = [(0, 0), (0, 0)] + [(pads[i], pads[nsp + i] + extra[i]) for i in range(nsp)]
        check_size([d + a + b for d, (a, b) in zip(x.shape, width, strict=True)], "AveragePool")
        x = np.pad(x, width)
    outs = [
        (size - (k - 1) * d - 1) // s + 1
        for size, k, d, s in zip(x.shape[2:], kernel_shape, dilations, strides, strict=True)
    ]

    def tap(offset):
        return x[
            (slice(None), slice(None))
            + tuple(
                slice(o * d, o * d + (n - 1) * s + 1, s)
                for o, d, s, n in zip(offset, dilations, strides, outs, strict=True)
            )
        ]

    def nested(axis, offset):
        # Sum over kernel axes 0..axis, the later axes' offsets fixed in ``offset``.
        total = None
        for o in range(kernel_shape[axis]):
            at = offset[:axis] + (o,) + offset[axis + 1 :]
            term = tap(at) if axis == 0 else nested(axis - 1, at)
            total = term.copy(order="K") if total is None else np.add(total, term, out=total)
        return total

    return nested(nsp - 1, (0,) * nsp)


def GlobalAveragePool(x):
    return x.mean(axis=tuple(range(2, x.ndim)), keepdims=True, dtype=x.dtype)


def GlobalMaxPool(x):
    return x.max(axis=tuple(range(2, x.ndim)), keepdims=True)
