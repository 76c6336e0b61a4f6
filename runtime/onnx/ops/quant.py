"""QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger, QLinearMatMul,
QLinearConv (onnx.ai/onnx/operators).

Quantize: y = saturate(round_half_even(x / scale) + zero_point), the division done in the
scale's float type. Dequantize: y = float(x - zero_point) * scale. The QLinear ops accumulate
exactly in integers and requantize the way onnxruntime's MLAS does: the float32 multiplier
(x_scale * w_scale) / y_scale, float32(acc) * multiplier, round half to even, + zero point,
saturate.
"""

import numpy as np

from runtime.errors import InvalidModelError, UnsupportedOpError
from runtime.onnx._types import (
    dtype_type_name,
    elem_type_name,
    elem_type_of_dtype,
    is_supported_elem_type,
    numpy_dtype,
)
from runtime.onnx.ops import _exotic_types
from runtime.onnx.ops._common import axis_index, check_size, matmul_shape
from runtime.onnx.ops.conv import integer_conv


def per_axis(param, x, axis, block_size, op, name):
    """``param`` shaped to broadcast against ``x``: scalar, per-axis or blocked."""
    param = np.asarray(param)
    if param.size == 1 and param.ndim <= 1:
        return param.reshape(())
    axis = axis_index(axis, x.ndim, op)
    if block_size:
        if param.ndim != x.ndim:
            raise InvalidModelError(f"{op}: blocked {name} must have the input's rank")
        expanded = np.repeat(param, block_size, axis=axis)
        return np.take(expanded, np.arange(x.shape[axis]), axis=axis)
    if param.ndim != 1 or param.size != x.shape[axis]:
        raise InvalidModelError(
            f"{op}: {name} of shape {list(param.shape)} does not match axis {axis} of input "
            f"{list(x.shape)}"
        )
    shape = [1] * x.ndim
    shape[axis] = param.size
    return param.reshape(shape)


def saturate_round(values, dtype):
    """Round half to even and saturate to the integer ``dtype``."""
    info = np.iinfo(dtype)
    return np.clip(np.rint(values), info.min, info.max).astype(dtype)


def quantize(x, scale, zero_point, dtype):
    """saturate(round_half_even(x / scale) + zero_point) in the scale's float type.

    NaN becomes the type's minimum, as in onnxruntime's MLAS kernel (its max(x, min) returns
    the second operand when x is NaN); ``fmax`` behaves the same.
    """
    info = np.iinfo(dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        # A fresh array the steps below reuse (asarray: numpy gives a scalar for 0-d operands).
        q = np.asarray(np.divide(x, scale, dtype=scale.dtype))
    np.rint(q, out=q)
    if zero_point is not None:
        q += zero_point.astype(scale.dtype)
    np.fmax(q, info.min, out=q)
    np.fmin(q, info.max, out=q)
    return q.astype(dtype)


def QuantizeLinear(
    x,
    y_scale,
    y_zero_point=None,
    *,
    axis=1,
    block_size=0,
    output_dtype=0,
    saturate=1,
    precision=0,
):
    if y_zero_point is not None:
        dtype = y_zero_point.dtype
        if output_dtype and output_dtype != elem_type_of_dtype(dtype):
            raise InvalidModelError(
                f"QuantizeLinear: output_dtype {elem_type_name(output_dtype)} differs from "
                f"y_zero_point's type {dtype_type_name(dtype)}"
            )
    elif output_dtype:
        if not is_supported_elem_type(output_dtype):
            raise UnsupportedOpError(
                f"QuantizeLinear: output_dtype {output_dtype} is not supported"
            )
        dtype = numpy_dtype(output_dtype)
    else:
        dtype = np.dtype(np.uint8)
    if dtype.kind not in "iu" and dtype not in _exotic_types.QUANTIZED:
        raise UnsupportedOpError(f"QuantizeLinear: output type {dtype} is not supported")
    if precision:
        raise UnsupportedOpError("QuantizeLinear: the precision attribute is not supported")
    scale = per_axis(y_scale, x, axis, block_size, "QuantizeLinear", "y_scale")
    zp = (
        None
        if y_zero_point is None
        else per_axis(y_zero_point, x, axis, block_size, "QuantizeLinear", "y_zero_point")
    )
    if _exotic_types.involved(dtype, x.dtype, scale.dtype):  # bfloat16, float8, int4, ...
        return _exotic_types.quantize(x, scale, zp, dtype, saturate)
    return quantize(x, scale, zp, dtype)


def DequantizeLinear(x, x_scale, x_zero_point=None, *, axis=1, block_size=0, output_dtype=0):
    if x.dtype.kind not in "iu" and x.dtype not in _exotic_types.QUANTIZED:
        raise UnsupportedOpError(f"DequantizeLinear: input type {x.dtype} is not supported")
    scale = per_axis(x_scale, x, axis, block_size, "DequantizeLinear", "x_scale")
    zp = None
    if x_zero_point is not None:
        zp = per_axis(x_zero_point, x, axis, block_size, "DequantizeLinear", "x_zero_point")
    if output_dtype and not is_supported_elem_type(output_dtype):
        raise UnsupportedOpError(
            f"DequantizeLinear: output_dtype {elem_type_name(output_dtype)} is not supported"
        )
    out_dtype = numpy_dtype(output_dtype) if output_dtype else None
    if _exotic_types.involved(x.dtype, scale.dtype, out_dtype):  # bfloat16, float8, int4, ...
        return _exotic_types.dequantize(x, scale, zp, out_dtype)
    if x.dtype.itemsize <= 2 and scale.dtype.itemsize >= 4:
        # x - zero_point is a small integer, exact in float32: subtracting after the cast
        # gives the same value as casting the difference, in one pass fewer.
        out = x.astype(scale.dtype)
        if zp is not None:
            out -= zp.astype(scale.dtype)
        out *= scale
    else:
        wide = x.astype(np.int64) - (0 if zp is None else zp.astype(np.int64))
        out = wide.astype(scale.dtype) * scale
    if output_dtype:
        out = out.astype(numpy_dtype(output_dtype))
    return out


def DynamicQuantizeLinear(x):
    x = x.astype(np.float32, copy=False)
    low = np.float32(min(0.0, float(x.min()))) if x.size else np.float32(0)
    high = np.float32(max(0.0, float(x.max()))) if x.size else np.float32(0)
    # onnxruntime's GetQuantizationParameter: scale 1 for an empty range (all zeros), and
    # zp = round(max(0, min(255, -low / scale))) with std::min / std::max, which give 255 for
    # a NaN -low / scale (-inf / inf: an input with -inf; fmin / fmax keep the number too).
    scale = np.float32(1) if high == low else np.float32((high - low) / np.float32(255))
    with np.errstate(divide="ignore", invalid="ignore"):
        start = np.float32(0) - low / scale
    zp = np.uint8(np.rint(np.fmax(np.float32(0), np.fmin(np.float32(255), start))))
    y = quantize(x, np.asarray(scale), np.asarray(zp), np.dtype(np.uint8))
    return y, np.asarray(scale), np.asarray(zp)


def _shifted(x, zero_point, axis_for_vector):
    """x - zero_point as float64 (exact for 8- and 16-bit ints)."""
    xs = x.astype(np.float64)
    if zero_point is None:
        return xs
    zp = np.asarray(zero_point, dtype=np.float64)
    if zp.size == 1:
        return xs - zp.reshape(())
    shape = [1] * x.ndim
    shape[axis_for_vector] = zp.size
    return xs - zp.reshape(shape)


def _int_matmul(a, b, a_zp, b_zp):
    # float64 BLAS is exact here: |sum| < K * 2**16 << 2**53.
    check_size(matmul_shape(a.shape, b.shape), "integer MatMul", 8)
    acc = np.matmul(_shifted(a, a_zp, -2 if a.ndim > 1 else 0), _shifted(b, b_zp, -1))
    return acc.astype(np.int64)


def MatMulInteger(A, B, a_zero_point=None, b_zero_point=None):
    return _int_matmul(A, B, a_zero_point, b_zero_point).astype(np.int32)


def requantize(acc, x_scale, w_scale, y_scale, y_zero_point, channel_axis):
    """float32(acc) * ((x_scale * w_scale) / y_scale) + zero point, half to even, saturated."""
    multiplier = np.float32(np.asarray(x_scale).reshape(-1)[0]) * np.asarray(
        w_scale, dtype=np.float32
    ).reshape(-1)
    multiplier = multiplier / np.float32(np.asarray(y_scale).reshape(-1)[0])
    if multiplier.size > 1:
        shape = [1] * acc.ndim
        shape[channel_axis] = multiplier.size
        multiplier = multiplier.reshape(shape)
    else:
        multiplier = multiplier.reshape(())
    zp = np.asarray(y_zero_point).reshape(-1)[0] if y_zero_point is not None else 0
    dtype = np.asarray(y_zero_point).dtype if y_zero_point is not None else np.dtype(np.uint8)
    info = np.iinfo(dtype)
    scaled = np.rint(acc.astype(np.float32) * multiplier)
    return np.clip(scaled + np.float32(zp), info.min, info.max).astype(dtype)


def QLinearMatMul(a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point):
    acc = _int_matmul(a, b, a_zero_point, b_zero_point)
    return requantize(acc, a_scale, b_scale, y_scale, y_zero_point, acc.ndim - 1)


def QLinearConv(
    x,
    x_scale,
    x_zero_point,
    w,
    w_scale,
    w_zero_point,
    y_scale,
    y_zero_point,
    B=None,
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
    acc = integer_conv(x, w, x_zero_point, w_zero_point, attrs, "QLinearConv")
    if B is not None:
        acc = acc + B.astype(np.int64).reshape((1, -1) + (1,) * (acc.ndim - 2))
    return requantize(acc, x_scale, w_scale, y_scale, y_zero_point, 1)
