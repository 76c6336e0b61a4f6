"""CONV_3D and CONV_3D_TRANSPOSE (float32) against LiteRT's reference kernels."""

from __future__ import annotations

import numpy as np
import pytest

from runtime.tflite.kernels._common import out_size
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite.test_kernels import const, inp, one_op_model, out
from tests.runtime.tflite.test_layout_kernels import compare

CASES = [
    # input NDHWC, kernel (kd, kh, kw), out channels, padding, strides, dilations, act, bias
    ((1, 4, 5, 6, 2), (2, 3, 3), 3, 0, (1, 1, 1), (1, 1, 1), 0, True),
    ((2, 5, 4, 4, 1), (3, 2, 2), 2, 1, (2, 1, 2), (1, 1, 1), 1, False),
    ((1, 6, 6, 5, 3), (2, 2, 3), 4, 0, (2, 2, 1), (1, 2, 1), 3, True),
    ((1, 3, 7, 5, 2), (1, 3, 2), 2, 1, (1, 2, 2), (1, 1, 2), 0, True),
]


def _options(padding, strides, dilations, act):
    return {
        "padding": padding,
        "stride_d": strides[0],
        "stride_h": strides[1],
        "stride_w": strides[2],
        "dilation_d_factor": dilations[0],
        "dilation_h_factor": dilations[1],
        "dilation_w_factor": dilations[2],
        "fused_activation_function": act,
    }


@pytest.mark.parametrize("case", CASES)
def test_conv3d(case):
    shape, kernel, oc, padding, strides, dilations, act, with_bias = case
    rng = np.random.default_rng(sum(shape))
    w = rng.normal(0, 0.5, (*kernel, shape[4], oc)).astype(np.float32)
    outs = [
        out_size(padding, n, k, s, d) for n, k, s, d in zip(shape[1:4], kernel, strides, dilations)
    ]
    inputs = [inp(shape), const(w)]
    if with_bias:
        inputs.append(const(rng.normal(size=oc).astype(np.float32)))
    data = one_op_model(
        Op.CONV_3D, inputs, [out((shape[0], *outs, oc))], _options(padding, strides, dilations, act)
    )
    compare(data)


@pytest.mark.parametrize("case", CASES)
def test_conv3d_transpose(case):
    shape, kernel, oc, padding, strides, dilations, act, with_bias = case
    rng = np.random.default_rng(sum(shape) + 1)
    ic = shape[4]
    # the transposed op's input is the convolution's output: pick an output size whose
    # convolution gives this input's spatial size
    out_shape = [shape[0]]
    for n, k, s, d in zip(shape[1:4], kernel, strides, dilations):
        size = n * s if padding == 0 else (n - 1) * s + (k - 1) * d + 1
        out_shape.append(size)
    out_shape.append(oc)
    w = rng.normal(0, 0.5, (*kernel, oc, ic)).astype(np.float32)
    inputs = [const(np.array(out_shape, np.int32), T.INT32), const(w), inp(shape)]
    if with_bias:
        inputs.append(const(rng.normal(size=oc).astype(np.float32)))
    data = one_op_model(
        Op.CONV_3D_TRANSPOSE, inputs, [out(out_shape)], _options(padding, strides, dilations, act)
    )
    compare(data)
