"""Random geometries and quantization parameters, int8 kernels against LiteRT BUILTIN_REF.

Hypothesis draws shapes, strides, dilations, padding, activations and scales (including
multipliers near powers of two and scale ratios that stress the ADD/MUL/MEAN rescaling); every
output must be bit-identical. Bounded and deterministic.
"""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite.test_kernels import _conv_out, check, const, inp, one_op_model, out

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
scales = st.floats(1e-3, 0.5).map(lambda v: float(np.float32(v)))
zero_points = st.integers(-128, 127)


@SETTINGS
@given(
    n=st.integers(1, 2),
    h=st.integers(3, 9),
    w=st.integers(3, 9),
    cin=st.integers(1, 4),
    cout=st.integers(1, 6),
    k=st.integers(1, 3),
    stride=st.integers(1, 3),
    dilation=st.integers(1, 2),
    padding=st.integers(0, 1),
    act=st.sampled_from([0, 1, 2, 3]),
    s_in=scales,
    zp_in=zero_points,
    s_out=scales,
    zp_out=zero_points,
    seed=st.integers(0, 2**16),
)
def test_conv2d_int8_random(
    n, h, w, cin, cout, k, stride, dilation, padding, act, s_in, zp_in, s_out, zp_out, seed
):
    eff = (k - 1) * dilation + 1
    if padding == 1 and (h < eff or w < eff):
        return
    rng = np.random.default_rng(seed)
    q = rng.integers(-127, 128, (cout, k, k, cin)).astype(np.int8)
    w_scale = rng.uniform(1e-3, 2e-2, cout).astype(np.float32)
    bias = rng.integers(-5000, 5000, cout).astype(np.int32)
    b_scale = (np.float32(s_in) * w_scale).astype(np.float32)
    shape = (n, h, w, cin)
    data = one_op_model(
        Op.CONV_2D,
        [
            inp(shape, T.INT8, s_in, zp_in),
            const(q, T.INT8, w_scale, np.zeros(cout, int)),
            const(bias, T.INT32, b_scale, np.zeros(cout, int)),
        ],
        [out(_conv_out(shape, cout, k, stride, dilation, padding), T.INT8, s_out, zp_out)],
        {
            "padding": padding,
            "stride_w": stride,
            "stride_h": stride,
            "dilation_w_factor": dilation,
            "dilation_h_factor": dilation,
            "fused_activation_function": act,
        },
        version=3,
    )
    check(data, seed, runs=2)


@SETTINGS
@given(
    op=st.sampled_from([Op.ADD, Op.SUB, Op.MUL]),
    s1=scales,
    zp1=zero_points,
    s2=scales,
    zp2=zero_points,
    s_out=scales,
    zp_out=zero_points,
    act=st.sampled_from([0, 1, 3]),
    seed=st.integers(0, 2**16),
)
def test_binary_int8_random_scales(op, s1, zp1, s2, zp2, s_out, zp_out, act, seed):
    if op != Op.MUL and 2 * max(s1, s2) / ((1 << 20) * s_out) >= 1:
        return  # TFLite requires this multiplier below 1 (QuantizeMultiplierSmallerThanOneExp)
    data = one_op_model(
        op,
        [inp((3, 5), T.INT8, s1, zp1), inp((5,), T.INT8, s2, zp2)],
        [out((3, 5), T.INT8, s_out, zp_out)],
        {"fused_activation_function": act},
        version=2,
    )
    check(data, seed, runs=3)


@SETTINGS
@given(
    units=st.integers(1, 8),
    depth=st.integers(1, 40),
    batch=st.integers(1, 3),
    per_channel=st.booleans(),
    s_in=scales,
    zp_in=zero_points,
    s_out=scales,
    zp_out=zero_points,
    seed=st.integers(0, 2**16),
)
def test_fully_connected_int8_random(
    units, depth, batch, per_channel, s_in, zp_in, s_out, zp_out, seed
):
    rng = np.random.default_rng(seed)
    q = rng.integers(-127, 128, (units, depth)).astype(np.int8)
    w_scale = rng.uniform(1e-3, 2e-2, units if per_channel else 1).astype(np.float32)
    bias = rng.integers(-5000, 5000, units).astype(np.int32)
    data = one_op_model(
        Op.FULLY_CONNECTED,
        [
            inp((batch, depth), T.INT8, s_in, zp_in),
            const(q, T.INT8, w_scale, np.zeros(len(w_scale), int)),
            const(
                bias,
                T.INT32,
                (np.float32(s_in) * w_scale).astype(np.float32),
                np.zeros(len(w_scale), int),
            ),
        ],
        [out((batch, units), T.INT8, s_out, zp_out)],
        {},
        version=4,
    )
    check(data, seed, runs=2)


@SETTINGS
@given(
    s_in=st.floats(1e-3, 2.0),
    zp_in=zero_points,
    depth=st.integers(1, 30),
    beta=st.sampled_from([1.0, 0.5, 2.0]),
    seed=st.integers(0, 2**16),
)
def test_softmax_int8_random(s_in, zp_in, depth, beta, seed):
    s_in = float(np.float32(s_in))
    data = one_op_model(
        Op.SOFTMAX,
        [inp((3, depth), T.INT8, s_in, zp_in)],
        [out((3, depth), T.INT8, 1 / 256, -128)],
        {"beta": beta},
        version=2,
    )
    check(data, seed, runs=3)


@SETTINGS
@given(
    h=st.integers(1, 7),
    w=st.integers(1, 7),
    c=st.integers(1, 3),
    s_in=scales,
    zp_in=zero_points,
    s_out=scales,
    zp_out=zero_points,
    seed=st.integers(0, 2**16),
)
def test_mean_int8_random(h, w, c, s_in, zp_in, s_out, zp_out, seed):
    data = one_op_model(
        Op.MEAN,
        [inp((2, h, w, c), T.INT8, s_in, zp_in), const(np.array([1, 2], np.int32), T.INT32)],
        [out((2, 1, 1, c), T.INT8, s_out, zp_out)],
        {"keep_dims": True},
        version=2,
    )
    check(data, seed, runs=2)


@settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(op=st.sampled_from([Op.LOGISTIC, Op.TANH]), s_in=st.floats(1e-3, 1.0), zp_in=zero_points)
def test_lut_int8_random_input_scales(op, s_in, zp_in):
    # Pins our float32 table (exp/tanh through float64) to glibc's expf/tanhf entry by entry.
    s_in = float(np.float32(s_in))
    q_out = (1 / 256, -128) if op == Op.LOGISTIC else (1 / 128, 0)
    data = one_op_model(
        op, [inp((256,), T.INT8, s_in, zp_in)], [out((256,), T.INT8, *q_out)], version=2
    )
    check(data, feeds={0: np.arange(-128, 128, dtype=np.int8)}, runs=1)


@SETTINGS
@given(
    h=st.integers(2, 8),
    w=st.integers(2, 8),
    cin=st.integers(1, 3),
    mult=st.integers(1, 3),
    k=st.integers(1, 3),
    stride=st.integers(1, 2),
    padding=st.integers(0, 1),
    act=st.sampled_from([0, 1, 3]),
    s_in=scales,
    zp_in=zero_points,
    s_out=scales,
    zp_out=zero_points,
    seed=st.integers(0, 2**16),
)
def test_depthwise_int8_random(
    h, w, cin, mult, k, stride, padding, act, s_in, zp_in, s_out, zp_out, seed
):
    if padding == 1 and (h < k or w < k):
        return
    rng = np.random.default_rng(seed)
    oc = cin * mult
    q = rng.integers(-127, 128, (1, k, k, oc)).astype(np.int8)
    w_scale = rng.uniform(1e-3, 2e-2, oc).astype(np.float32)
    bias = rng.integers(-3000, 3000, oc).astype(np.int32)
    shape = (2, h, w, cin)
    data = one_op_model(
        Op.DEPTHWISE_CONV_2D,
        [
            inp(shape, T.INT8, s_in, zp_in),
            const(q, T.INT8, w_scale, np.zeros(oc, int), qdim=3),
            const(
                bias, T.INT32, (np.float32(s_in) * w_scale).astype(np.float32), np.zeros(oc, int)
            ),
        ],
        [out(_conv_out(shape, oc, k, stride, 1, padding), T.INT8, s_out, zp_out)],
        {
            "padding": padding,
            "stride_w": stride,
            "stride_h": stride,
            "depth_multiplier": mult,
            "fused_activation_function": act,
        },
        version=3,
    )
    check(data, seed, runs=2)


@SETTINGS
@given(
    op=st.sampled_from([Op.AVERAGE_POOL_2D, Op.MAX_POOL_2D]),
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    k=st.integers(1, 3),
    stride=st.integers(1, 3),
    padding=st.integers(0, 1),
    s=scales,
    zp=zero_points,
    seed=st.integers(0, 2**16),
)
def test_pooling_int8_random(op, h, w, k, stride, padding, s, zp, seed):
    if padding == 1 and (h < k or w < k):
        return
    shape = (2, h, w, 3)
    data = one_op_model(
        op,
        [inp(shape, T.INT8, s, zp)],
        [out(_conv_out(shape, 3, k, stride, 1, padding), T.INT8, s, zp)],
        {
            "padding": padding,
            "stride_w": stride,
            "stride_h": stride,
            "filter_width": k,
            "filter_height": k,
        },
        version=2,
    )
    check(data, seed, runs=2)
