"""16x8 kernels (int16 activations, int8 weights, int64 biases) against LiteRT's reference
kernels, through one-op models: every output compared bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

from runtime import Interpreter
from runtime.errors import UnsupportedOpError
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._litert import litert_interpreter
from tests.runtime.tflite.test_kernels import _q_weights, const, inp, one_op_model, out

I16 = T.INT16


def run_both(data: bytes, feeds: list[np.ndarray]):
    """Our interpreter and LiteRT (BUILTIN_REF) on the same feeds; returns both outputs."""
    ref = litert_interpreter(model_content=data)
    ours = Interpreter(model_content=data)
    results = []
    for it in (ours, ref):
        it.allocate_tensors()
        for d, x in zip(it.get_input_details(), feeds):
            it.set_tensor(d["index"], x)
        it.invoke()
        results.append([it.get_tensor(d["index"]) for d in it.get_output_details()])
    return results


def check(data: bytes, feeds: list[np.ndarray]) -> None:
    ours, ref = run_both(data, feeds)
    for a, b in zip(ref, ours):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(b, a)


def int16_feed(rng, shape, spread=12000):
    x = rng.normal(0, spread, shape)
    x[..., 0] = 32767  # the extremes reach the saturating paths
    x.flat[1] = -32768
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def _bias(rng, n, dtype=np.int64):
    return rng.integers(-(2**20), 2**20, n).astype(dtype)


CONV_CASES = [
    # (input shape, out channels, kernel, stride, padding, activation)
    ((2, 7, 7, 3), 4, 3, 1, 0, 0),
    ((1, 8, 6, 2), 5, 3, 2, 1, 1),
    ((1, 6, 6, 4), 3, 2, 1, 1, 3),
]


@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_conv_2d_int16(case):
    shape, oc, k, stride, padding, act = CONV_CASES[case]
    rng = np.random.default_rng(case)
    w, w_scale = _q_weights(rng, (oc, k, k, shape[3]), 0)
    s_in, s_out = 1e-3, 4e-3
    options = {
        "padding": padding,
        "stride_w": stride,
        "stride_h": stride,
        "fused_activation_function": act,
        "dilation_w_factor": 1,
        "dilation_h_factor": 1,
    }
    oh = -(-shape[1] // stride) if padding == 0 else (shape[1] - k) // stride + 1
    ow = -(-shape[2] // stride) if padding == 0 else (shape[2] - k) // stride + 1
    data = one_op_model(
        Op.CONV_2D,
        [
            inp(shape, I16, s_in, 0),
            const(w, T.INT8, w_scale, np.zeros(oc, np.int64)),
            const(_bias(rng, oc), T.INT64, (s_in * w_scale).astype(np.float32), [0] * oc),
        ],
        [out((shape[0], oh, ow, oc), I16, s_out, 0)],
        options,
        version=4,
    )
    check(data, [int16_feed(rng, shape)])


def test_depthwise_conv_2d_int16():
    rng = np.random.default_rng(3)
    shape, mult = (1, 7, 7, 3), 2
    oc = shape[3] * mult
    w, w_scale = _q_weights(rng, (1, 3, 3, oc), 3)
    s_in, s_out = 2e-3, 3e-3
    data = one_op_model(
        Op.DEPTHWISE_CONV_2D,
        [
            inp(shape, I16, s_in, 0),
            const(w, T.INT8, w_scale, np.zeros(oc, np.int64), qdim=3),
            const(_bias(rng, oc), T.INT64, (s_in * w_scale).astype(np.float32), [0] * oc),
        ],
        [out((1, 7, 7, oc), I16, s_out, 0)],
        {
            "padding": 0,
            "stride_w": 1,
            "stride_h": 1,
            "depth_multiplier": mult,
            "fused_activation_function": 1,
            "dilation_w_factor": 1,
            "dilation_h_factor": 1,
        },
        version=5,
    )
    check(data, [int16_feed(rng, shape)])


@pytest.mark.parametrize("per_channel", [True, False])
def test_fully_connected_int16(per_channel):
    rng = np.random.default_rng(4)
    units, depth = 6, 20
    w, w_scale = _q_weights(rng, (units, depth), 0)
    if not per_channel:
        w_scale = np.float32(w_scale.max()).reshape(1)
        w = np.clip(np.round(w * 0.5), -127, 127).astype(np.int8)
    s_in, s_out = 1e-3, 2e-3
    data = one_op_model(
        Op.FULLY_CONNECTED,
        [
            inp((3, depth), I16, s_in, 0),
            const(w, T.INT8, w_scale, np.zeros(w_scale.size, np.int64)),
            const(_bias(rng, units), T.INT64, np.float32(s_in * w_scale.max()).reshape(1), [0]),
        ],
        [out((3, units), I16, s_out, 0)],
        {"fused_activation_function": 0, "keep_num_dims": False},
        version=7,
    )
    check(data, [int16_feed(rng, (3, depth))])


@pytest.mark.parametrize("op", [Op.ADD, Op.SUB])
@pytest.mark.parametrize("broadcast", [False, True])
def test_add_sub_int16(op, broadcast):
    rng = np.random.default_rng(5)
    b_shape = (1, 1, 5) if broadcast else (2, 3, 5)
    data = one_op_model(
        op,
        [inp((2, 3, 5), I16, 3e-4, 0), inp(b_shape, I16, 7e-4, 0)],
        [out((2, 3, 5), I16, 9e-4, 0)],
        {"fused_activation_function": 1, "pot_scale_int16": False},
        version=3 if op == Op.ADD else 3,
    )
    check(data, [int16_feed(rng, (2, 3, 5)), int16_feed(rng, b_shape)])


@pytest.mark.parametrize("broadcast", [False, True])
def test_mul_int16(broadcast):
    rng = np.random.default_rng(6)
    b_shape = (1, 5) if broadcast else (4, 5)
    data = one_op_model(
        Op.MUL,
        [inp((4, 5), I16, 2e-4, 0), inp(b_shape, I16, 3e-4, 0)],
        [out((4, 5), I16, 1e-4, 0)],
        {"fused_activation_function": 0},
        version=5,
    )
    check(data, [int16_feed(rng, (4, 5)), int16_feed(rng, b_shape)])


@pytest.mark.parametrize("op", [Op.AVERAGE_POOL_2D, Op.MAX_POOL_2D])
def test_pool_int16(op):
    rng = np.random.default_rng(7)
    data = one_op_model(
        op,
        [inp((2, 5, 5, 3), I16, 1e-3, 0)],
        [out((2, 3, 3, 3), I16, 1e-3, 0)],
        {
            "padding": 0,
            "stride_w": 2,
            "stride_h": 2,
            "filter_width": 3,
            "filter_height": 3,
            "fused_activation_function": 0,
        },
        version=3,
    )
    check(data, [int16_feed(rng, (2, 5, 5, 3))])


@pytest.mark.parametrize("s_in", [1e-3, 2**-12, 2**-11, 4e-4])
@pytest.mark.parametrize("op", [Op.LOGISTIC, Op.TANH])
def test_logistic_tanh_int16(op, s_in):
    # 2^-12 and 2^-11 take the power-of-two paths (input_left_shift 0 and 1).
    x = np.arange(-32768, 32768, dtype=np.int16).reshape(1, -1)
    data = one_op_model(op, [inp(x.shape, I16, s_in, 0)], [out(x.shape, I16, 2**-15, 0)])
    check(data, [x])


@pytest.mark.parametrize("s_in", [1e-3, 3e-4, 2e-2])
def test_softmax_int16(s_in):
    rng = np.random.default_rng(8)
    x = int16_feed(rng, (6, 10), spread=9000)
    data = one_op_model(
        Op.SOFTMAX, [inp(x.shape, I16, s_in, 0)], [out(x.shape, I16, 2**-15, 0)], {"beta": 1.0}
    )
    check(data, [x])


def test_mean_int16():
    rng = np.random.default_rng(9)
    data = one_op_model(
        Op.MEAN,
        [inp((2, 4, 4, 3), I16, 1e-3, 0), const(np.array([1, 2], np.int32), T.INT32)],
        [out((2, 3), I16, 7e-4, 0)],
        {"keep_dims": False},
        version=3,
    )
    check(data, [int16_feed(rng, (2, 4, 4, 3))])


@pytest.mark.parametrize(
    "src, dst",
    [
        ((T.FLOAT32, None), (I16, 1e-3)),
        ((I16, 1e-3), (I16, 3e-3)),
        ((I16, 1e-3), (T.INT8, 0.2)),
        ((T.INT8, 0.2), (I16, 1e-3)),
    ],
)
def test_quantize_int16(src, dst):
    rng = np.random.default_rng(10)
    shape = (3, 40)
    zp_out = 3 if dst[0] == T.INT8 else 0
    zp_in = -5 if src[0] == T.INT8 else 0
    data = one_op_model(
        Op.QUANTIZE,
        [inp(shape, src[0], src[1], zp_in if src[1] else None)],
        [out(shape, dst[0], dst[1], zp_out)],
        version=3,
    )
    if src[0] == T.FLOAT32:
        x = rng.normal(0, 20, shape).astype(np.float32)
    elif src[0] == T.INT8:
        x = rng.integers(-128, 128, shape).astype(np.int8)
    else:
        x = int16_feed(rng, shape)
    check(data, [x])


def test_dequantize_concat_pad_int16():
    rng = np.random.default_rng(11)
    for op, inputs, outputs, options in [
        (Op.DEQUANTIZE, [inp((2, 9), I16, 1e-3, 0)], [out((2, 9))], None),
        (
            Op.CONCATENATION,
            [inp((2, 3), I16, 1e-3, 0), inp((2, 4), I16, 1e-3, 0)],
            [out((2, 7), I16, 1e-3, 0)],
            {"axis": 1, "fused_activation_function": 0},
        ),
        (
            Op.PAD,
            [inp((1, 3, 3, 2), I16, 1e-3, 0), const(np.array([[0, 0], [1, 1], [2, 0], [0, 0]]))],
            [out((1, 5, 5, 2), I16, 1e-3, 0)],
            None,
        ),
    ]:
        if op == Op.PAD:
            inputs[1] = const(np.array([[0, 0], [1, 1], [2, 0], [0, 0]], np.int32), T.INT32)
        data = one_op_model(op, inputs, outputs, options, version=2)
        feeds = [int16_feed(rng, s["shape"]) for s in inputs if s.get("data") is None]
        check(data, feeds)


def test_int16_add_with_power_of_two_scales_is_refused():
    # pot_scale_int16 (the option's default) with power-of-two scales selects LiteRT's LSTM
    # kernel, which this runtime does not implement: it says so instead of computing.
    data = one_op_model(
        Op.ADD,
        [inp((2, 3), I16, 2**-10, 0), inp((2, 3), I16, 2**-10, 0)],
        [out((2, 3), I16, 2**-9, 0)],
        {"fused_activation_function": 0},
    )
    with pytest.raises(UnsupportedOpError, match="pot_scale_int16"):
        Interpreter(model_content=data).allocate_tensors()


def test_int32_bias_without_its_option_is_refused():
    rng = np.random.default_rng(12)
    w, w_scale = _q_weights(rng, (2, 4), 0)
    data = one_op_model(
        Op.FULLY_CONNECTED,
        [
            inp((1, 4), I16, 1e-3, 0),
            const(w, T.INT8, w_scale, [0, 0]),
            const(np.zeros(2, np.int32), T.INT32, (1e-3 * w_scale).astype(np.float32), [0, 0]),
        ],
        [out((1, 2), I16, 1e-3, 0)],
        {"fused_activation_function": 0, "keep_num_dims": False},
    )
    with pytest.raises(UnsupportedOpError, match="int64 bias"):
        Interpreter(model_content=data).allocate_tensors()


@pytest.mark.parametrize(
    "op, options",
    [(Op.RELU, None), (Op.RELU6, None), (Op.LEAKY_RELU, {"alpha": 0.2})],
)
def test_relus_int16(op, options):
    x = np.arange(-32768, 32768, 7, dtype=np.int16).reshape(1, -1)
    data = one_op_model(op, [inp(x.shape, I16, 4e-4, 0)], [out(x.shape, I16, 3e-4, 0)], options)
    check(data, [x])


@pytest.mark.parametrize("padding, stride", [(0, 2), (1, 1)])
def test_transpose_conv_int16(padding, stride):
    rng = np.random.default_rng(13)
    n, h, w, ic, oc, k = 2, 4, 3, 3, 5, 3
    oh = h * stride if padding == 0 else (h - 1) * stride + k
    ow = w * stride if padding == 0 else (w - 1) * stride + k
    weights, w_scale = _q_weights(rng, (oc, k, k, ic), 0)
    s_in, s_out = 1e-3, 3e-3
    data = one_op_model(
        Op.TRANSPOSE_CONV,
        [
            const(np.array([n, oh, ow, oc], np.int32), T.INT32),
            const(weights, T.INT8, w_scale, np.zeros(oc, np.int64)),
            inp((n, h, w, ic), I16, s_in, 0),
            const(_bias(rng, oc), T.INT64, (s_in * w_scale).astype(np.float32), [0] * oc),
        ],
        [out((n, oh, ow, oc), I16, s_out, 0)],
        {"padding": padding, "stride_w": stride, "stride_h": stride},
        version=3,
    )
    check(data, [int16_feed(rng, (n, h, w, ic))])


@pytest.mark.parametrize("adj_y", [False, True])
def test_batch_matmul_int16(adj_y):
    rng = np.random.default_rng(14)
    a_shape, b_shape = (2, 3, 4, 6), ((1, 5, 6) if adj_y else (1, 6, 5))
    data = one_op_model(
        Op.BATCH_MATMUL,
        [inp(a_shape, I16, 2e-4, 0), inp(b_shape, I16, 3e-4, 0)],
        [out((2, 3, 4, 5), I16, 1e-3, 0)],
        {"adj_x": False, "adj_y": adj_y, "asymmetric_quantize_inputs": False},
        version=3,
    )
    check(data, [int16_feed(rng, a_shape), int16_feed(rng, b_shape)])


@pytest.mark.parametrize("op", [Op.RESIZE_BILINEAR, Op.RESIZE_NEAREST_NEIGHBOR])
@pytest.mark.parametrize("align, half", [(False, False), (True, False), (False, True)])
def test_resize_int16(op, align, half):
    rng = np.random.default_rng(15)
    data = one_op_model(
        op,
        [inp((2, 3, 4, 2), I16, 1e-3, 0), const(np.array([5, 7], np.int32), T.INT32)],
        [out((2, 5, 7, 2), I16, 1e-3, 0)],
        {"align_corners": align, "half_pixel_centers": half},
        version=4,
    )
    check(data, [int16_feed(rng, (2, 3, 4, 2))])


@pytest.mark.parametrize("op", [Op.MAXIMUM, Op.MINIMUM])
def test_maximum_minimum_int16(op):
    rng = np.random.default_rng(16)
    data = one_op_model(
        op,
        [inp((3, 4), I16, 1e-3, 0), inp((1, 4), I16, 1e-3, 0)],
        [out((3, 4), I16, 1e-3, 0)],
        version=4,
    )
    check(data, [int16_feed(rng, (3, 4)), int16_feed(rng, (1, 4))])
