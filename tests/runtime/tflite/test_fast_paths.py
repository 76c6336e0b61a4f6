"""Fast paths of the TFLite kernels give LiteRT's reference results: int8 exactly, float
within the kernels' tolerance (the shared ``check`` of test_kernels)."""

from __future__ import annotations

import numpy as np
import pytest

from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite.test_kernels import _q_weights, check, const, inp, one_op_model, out


@pytest.mark.parametrize("padding", [0, 1])
@pytest.mark.parametrize("mult", [1, 8])
def test_depthwise_with_one_input_channel(mult, padding):
    # Audio front ends: one spectrogram channel, depth multiplier 8, a 7x7 window: the
    # one-input-channel path (one im2col matmul) instead of the per-tap multiply-adds.
    rng = np.random.default_rng(10 * mult + padding)
    shape, k, stride, oc = (2, 19, 15, 1), 7, 2, mult
    q, scale = _q_weights(rng, (1, k, k, oc), 3)
    bias = rng.integers(-500, 500, oc).astype(np.int32)
    if padding == 0:
        o_shape = [2, -(-19 // stride), -(-15 // stride), oc]
    else:
        o_shape = [2, (19 - k) // stride + 1, (15 - k) // stride + 1, oc]
    opts = {
        "padding": padding,
        "stride_w": stride,
        "stride_h": stride,
        "depth_multiplier": mult,
        "fused_activation_function": 1,
    }
    bias_scale = (np.float32(0.04) * scale).astype(np.float32)
    check(
        one_op_model(
            Op.DEPTHWISE_CONV_2D,
            [
                inp(shape, T.INT8, 0.04, -7),
                const(q, T.INT8, scale, np.zeros(oc, int), qdim=3),
                const(bias, T.INT32, bias_scale, np.zeros(oc, int)),
            ],
            [out(o_shape, T.INT8, 0.05, -20)],
            opts,
            version=3,
        )
    )
    w = rng.normal(0, 0.5, (1, k, k, oc)).astype(np.float32)
    b = const(rng.normal(0, 1, oc).astype(np.float32))
    check(one_op_model(Op.DEPTHWISE_CONV_2D, [inp(shape), const(w), b], [out(o_shape)], opts))
