"""Conv, ConvInteger (onnx.ai/onnx/operators/onnx__Conv.html, onnx__ConvInteger.html).

A convolution is one im2col copy of the input windows and one BLAS matmul per group:
out[n, g, m, p] = sum_k W[g, m, k] * cols[g, n, p, k].
"""

import numpy as np

from runtime.errors import InvalidModelError
from runtime.onnx.ops._common import check_size, conv_pads, windows


def conv_nchw(x, w, *, auto_pad, dilations, group, kernel_shape, pads, strides, op, dtype):
    """The convolution of ``x`` (N, C, *S) with ``w`` (M, C/group, *K), computed in ``dtype``."""
    if x.ndim < 3 or w.ndim != x.ndim:
        raise InvalidModelError(
            f"{op}: input rank {x.ndim} and weight rank {w.ndim} should be equal and >= 3"
        )
    nsp = x.ndim - 2
    kernel = tuple(w.shape[2:])
    if kernel_shape is not None and tuple(kernel_shape) != kernel:
        raise InvalidModelError(f"{op}: kernel_shape {kernel_shape} != weight dims {kernel}")
    strides = list(strides) if strides else [1] * nsp
    dilations = list(dilations) if dilations else [1] * nsp
    if len(strides) != nsp or len(dilations) != nsp or min(strides + dilations) < 1:
        raise InvalidModelError(f"{op}: strides {strides} / dilations {dilations} are invalid")
    n, c = x.shape[:2]
    m, cg = w.shape[:2]
    if group < 1 or c != cg * group or m % group:
        raise InvalidModelError(
            f"{op}: input channels {c}, weight {list(w.shape)} and group {group} do not agree"
        )
    pads = conv_pads(x.shape[2:], kernel, strides, dilations, auto_pad, pads, op)
    view = windows(x, kernel, strides, dilations, pads, 0)  # (N, C, *out, *K)
    out_sp = view.shape[2 : 2 + nsp]
    k = cg * int(np.prod(kernel))
    p = int(np.prod(out_sp))
    check_size((group, n * p, k), op)
    # (N, G, Cg, *out, *K) -> (G, N, *out, Cg, *K): the one copy, laid out for the matmul.
    view = view.reshape((n, group, cg) + tuple(out_sp) + kernel)
    order = (1, 0) + tuple(range(3, 3 + nsp)) + (2,) + tuple(range(3 + nsp, 3 + 2 * nsp))
    cols = np.ascontiguousarray(view.transpose(order), dtype=dtype).reshape(group, n * p, k)
    weights = w.reshape(group, m // group, k).astype(dtype, copy=False)
    out = np.matmul(cols, weights.transpose(0, 2, 1))  # (G, N*P, M/G)
    out = out.reshape((group, n) + tuple(out_sp) + (m // group,))
    order = (1, 0, nsp + 2) + tuple(range(2, 2 + nsp))
    return out.transpose(order).reshape((n, m) + tuple(out_sp))


def Conv(
    x,
    w,
    b=None,
    *,
    auto_pad="NOTSET",
    dilations=None,
    group=1,
    kernel_shape=None,
    pads=None,
    strides=None,
):
    dtype = np.result_type(x.dtype, w.dtype)
    y = conv_nchw(
        x,
        w,
        auto_pad=auto_pad,
        dilations=dilations,
        group=group,
        kernel_shape=kernel_shape,
        pads=pads,
        strides=strides,
        op="Conv",
        dtype=dtype,
    )
    if b is not None:
        y = y + b.reshape((1, -1) + (1,) * (y.ndim - 2)).astype(dtype, copy=False)
    return y


def integer_conv(x, w, x_zp, w_zp, attrs, op):
    """int32 convolution of zero-point-shifted ints; float64 BLAS is exact below 2**53."""
    xs = x.astype(np.float64) - (0 if x_zp is None else float(np.asarray(x_zp).reshape(-1)[0]))
    ws = w.astype(np.float64)
    if w_zp is not None:
        w_zp = np.asarray(w_zp, dtype=np.float64)
        ws = ws - (w_zp.reshape((-1,) + (1,) * (w.ndim - 1)) if w_zp.size > 1 else w_zp.reshape(()))
    acc = conv_nchw(xs, ws, op=op, dtype=np.float64, **attrs)
    return acc.astype(np.int64)


def ConvInteger(
    x,
    w,
    x_zero_point=None,
    w_zero_point=None,
    *,
    auto_pad="NOTSET",
    dilations=None,
    group=1,
    kernel_shape=None,
    pads=None,
    strides=None,
):
    attrs = dict(
        auto_pad=auto_pad,
        dilations=dilations,
        group=group,
        kernel_shape=kernel_shape,
        pads=pads,
        strides=strides,
    )
    return integer_conv(x, w, x_zero_point, w_zero_point, attrs, "ConvInteger").astype(np.int32)
