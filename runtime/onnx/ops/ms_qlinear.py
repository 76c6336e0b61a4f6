"""com.microsoft quantized ops that onnxruntime's QOperator quantizer writes: QLinearAdd,
QLinearMul, QLinearAveragePool, QLinearGlobalAveragePool, QLinearConcat, QLinearSigmoid,
QLinearLeakyRelu, QLinearSoftmax (onnxruntime docs/ContribOperators.md).

Each is computed as its definition reads: dequantize in float32, the float op, quantize
(divide by the output scale, round half to even, saturate). onnxruntime's kernels compute the
same thing with lookup tables and SIMD fixed-point shortcuts that can differ by one step of the
output scale, depending on the machine.
"""

import numpy as np

from runtime.errors import InvalidModelError
from runtime.onnx.ops._common import broadcast_size
from runtime.onnx.ops.activation import LeakyRelu, Sigmoid, Softmax, Softmax_1
from runtime.onnx.ops.pool import AveragePool
from runtime.onnx.ops.quant import quantize


def _scalar(v, name, op):
    v = np.asarray(v)
    if v.size != 1:
        raise InvalidModelError(f"{op}: {name} must be a scalar; has shape {list(v.shape)}")
    return v.reshape(())


def _dequantize(x, scale, zero_point, op):
    scale = _scalar(scale, "scale", op).astype(np.float32)
    zp = 0 if zero_point is None else _scalar(zero_point, "zero point", op).astype(np.int32)
    return (x.astype(np.int32) - zp).astype(np.float32) * scale


def _quantize(y, scale, zero_point, like, op):
    scale = _scalar(scale, "output scale", op).astype(np.float32)
    dtype = like.dtype if zero_point is None else np.asarray(zero_point).dtype
    zp = None if zero_point is None else _scalar(zero_point, "output zero point", op)
    return quantize(y.astype(np.float32), scale, zp, dtype)


def QLinearAdd(A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point=None):
    broadcast_size("QLinearAdd", A, B, itemsize=4)  # computed in float32
    a = _dequantize(A, A_scale, A_zero_point, "QLinearAdd")
    b = _dequantize(B, B_scale, B_zero_point, "QLinearAdd")
    return _quantize(a + b, C_scale, C_zero_point, A, "QLinearAdd")


def QLinearMul(A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point=None):
    broadcast_size("QLinearMul", A, B, itemsize=4)  # computed in float32
    a = _dequantize(A, A_scale, A_zero_point, "QLinearMul")
    b = _dequantize(B, B_scale, B_zero_point, "QLinearMul")
    return _quantize(a * b, C_scale, C_zero_point, A, "QLinearMul")


def _nchw(x, channels_last):
    return np.moveaxis(x, -1, 1) if channels_last else x


def _back(y, channels_last):
    return np.moveaxis(y, 1, -1) if channels_last else y


def QLinearAveragePool(
    X,
    x_scale,
    x_zero_point,
    y_scale,
    y_zero_point=None,
    *,
    auto_pad="NOTSET",
    ceil_mode=0,
    channels_last=0,
    count_include_pad=0,
    kernel_shape=None,
    pads=None,
    strides=None,
):
    x = _nchw(_dequantize(X, x_scale, x_zero_point, "QLinearAveragePool"), channels_last)
    y = AveragePool(
        x,
        auto_pad=auto_pad,
        ceil_mode=ceil_mode,
        count_include_pad=count_include_pad,
        kernel_shape=kernel_shape,
        pads=pads,
        strides=strides,
    )
    return _quantize(_back(y, channels_last), y_scale, y_zero_point, X, "QLinearAveragePool")


def QLinearGlobalAveragePool(
    X, x_scale, x_zero_point, y_scale, y_zero_point=None, *, channels_last=0
):
    x = _nchw(_dequantize(X, x_scale, x_zero_point, "QLinearGlobalAveragePool"), channels_last)
    y = x.mean(axis=tuple(range(2, x.ndim)), keepdims=True, dtype=np.float32)
    return _quantize(_back(y, channels_last), y_scale, y_zero_point, X, "QLinearGlobalAveragePool")


def QLinearConcat(Y_scale, Y_zero_point, *inputs, axis):
    if not inputs or len(inputs) % 3:
        raise InvalidModelError(
            f"QLinearConcat: inputs after Y_scale, Y_zero_point must be (X, scale, zero point) "
            f"triples; received {len(inputs)}"
        )
    parts = []
    for i in range(0, len(inputs), 3):
        x, scale, zp = inputs[i : i + 3]
        same = np.array_equal(np.asarray(scale), np.asarray(Y_scale)) and np.array_equal(
            np.asarray(zp), np.asarray(Y_zero_point)
        )
        if same:
            parts.append(x)  # identical parameters: the values pass through untouched
        else:
            f = _dequantize(x, scale, zp, "QLinearConcat")
            parts.append(_quantize(f, Y_scale, Y_zero_point, x, "QLinearConcat"))
    if axis < -parts[0].ndim or axis >= parts[0].ndim:
        raise InvalidModelError(f"QLinearConcat: axis {axis} is out of range")
    return np.concatenate(parts, axis=axis)


def QLinearSigmoid(X, X_scale, X_zero_point, Y_scale, Y_zero_point=None):
    x = _dequantize(X, X_scale, X_zero_point, "QLinearSigmoid")
    return _quantize(Sigmoid(x), Y_scale, Y_zero_point, X, "QLinearSigmoid")


def QLinearLeakyRelu(X, X_scale, X_zero_point, Y_scale, Y_zero_point=None, *, alpha=0.01):
    x = _dequantize(X, X_scale, X_zero_point, "QLinearLeakyRelu")
    return _quantize(LeakyRelu(x, alpha=alpha), Y_scale, Y_zero_point, X, "QLinearLeakyRelu")


def QLinearSoftmax(X, X_scale, x_zero_point, y_scale, y_zero_point, *, axis=-1, opset):
    x = _dequantize(X, X_scale, x_zero_point, "QLinearSoftmax")
    # The opset attribute picks the Softmax semantics: before 13 the input is flattened to 2-D.
    y = Softmax(x, axis=axis) if opset >= 13 else Softmax_1(x, axis=axis)
    return _quantize(y, y_scale, y_zero_point, X, "QLinearSoftmax")
