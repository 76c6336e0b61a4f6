"""uint8 (legacy asymmetric quantization) against LiteRT's uint8 reference kernels, bit for bit:
the ops run through their int8 kernels on shifted values (kernels/uint8_legacy.py), the pools,
uint8 convolutions and fully connected layers with nonzero filter zero points, rescaling uint8
concatenation; and quantized forms beyond the int8 kernels: rescaled int8/uint8 comparisons,
int8 ABS and NEG, int8/uint8 DIV and LOG_SOFTMAX."""

from __future__ import annotations

import numpy as np
import pytest

from runtime import Interpreter
from runtime.errors import InvalidModelError
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._litert import litert_interpreter
from tests.runtime.tflite.test_kernels import const, inp, one_op_model, out
from tests.runtime.tflite.test_layout_kernels import compare

U = T.UINT8
NP_TYPES = {T.INT8: np.int8, T.UINT8: np.uint8}
RNG = np.random.default_rng(0)


def q(shape, s=0.05, z=120):
    return inp(shape, U, s, z)


def o(shape, s=0.06, z=110):
    return out(shape, U, s, z)


def _i32(v):
    return const(np.asarray(v, np.int32), T.INT32)


def _u8(shape):
    return RNG.integers(0, 256, shape).astype(np.uint8)


def _bias(n, scale):
    """An int32 bias with the scale LiteRT requires: input scale * filter scale."""
    return const(RNG.integers(-99, 99, n).astype(np.int32), T.INT32, scale, 0)


ACT = {"fused_activation_function": 1}  # RELU
CASES = {
    "add": (Op.ADD, [q((2, 3)), q((2, 3), 0.07, 100)], [o((2, 3))], {}),
    "add_relu_broadcast": (Op.ADD, [q((2, 3)), q((1, 3), 0.07, 100)], [o((2, 3))], ACT),
    "sub": (Op.SUB, [q((2, 3)), q((2, 3), 0.07, 100)], [o((2, 3))], {}),
    "mul": (Op.MUL, [q((2, 3)), q((2, 3), 0.07, 100)], [o((2, 3), 0.2, 30)], {}),
    "avg_pool_same": (
        Op.AVERAGE_POOL_2D,
        [q((1, 5, 5, 2))],
        [q((1, 3, 3, 2))],
        {"padding": 0, "stride_w": 2, "stride_h": 2, "filter_width": 3, "filter_height": 3},
    ),
    "max_pool_relu6": (
        Op.MAX_POOL_2D,
        [q((1, 4, 4, 2))],
        [q((1, 2, 2, 2))],
        {"padding": 1, "stride_w": 2, "stride_h": 2, "filter_width": 2, "filter_height": 2}
        | {"fused_activation_function": 3},
    ),
    "softmax": (Op.SOFTMAX, [q((2, 5))], [out((2, 5), U, 1 / 256, 0)], {"beta": 1.0}),
    "logistic": (Op.LOGISTIC, [q((2, 5))], [out((2, 5), U, 1 / 256, 0)], None),
    "tanh": (Op.TANH, [q((2, 5))], [out((2, 5), U, 1 / 128, 128)], None),
    "relu": (Op.RELU, [q((2, 5))], [o((2, 5))], None),
    "relu6": (Op.RELU6, [q((2, 5))], [o((2, 5))], None),
    "leaky_relu": (Op.LEAKY_RELU, [q((2, 5))], [o((2, 5))], {"alpha": 0.2}),
    "hard_swish": (Op.HARD_SWISH, [q((2, 5))], [o((2, 5))], None),
    "gelu": (Op.GELU, [q((2, 5))], [o((2, 5))], {}),
    "prelu": (Op.PRELU, [q((1, 2, 3)), const(_u8((3,)), U, 0.01, 128)], [o((1, 2, 3))], None),
    "concat_same_params": (
        Op.CONCATENATION,
        [q((2, 3)), q((2, 2))],
        [q((2, 5))],
        {"axis": 1},
    ),
    "quantize_float": (Op.QUANTIZE, [inp((2, 3))], [o((2, 3))], None),
    "quantize_to_int8": (Op.QUANTIZE, [q((2, 3))], [out((2, 3), T.INT8, 0.05, -8)], None),
    "quantize_from_int8": (Op.QUANTIZE, [inp((2, 3), T.INT8, 0.05, -8)], [o((2, 3))], None),
    "requantize": (Op.QUANTIZE, [q((2, 3))], [o((2, 3))], None),
    "mean": (Op.MEAN, [q((2, 3, 4)), _i32([1])], [o((2, 4))], {"keep_dims": False}),
    "mean_hw": (Op.MEAN, [q((1, 3, 4, 2)), _i32([1, 2])], [o((1, 1, 1, 2))], {"keep_dims": True}),
    "pad": (Op.PAD, [q((2, 3)), _i32([[1, 0], [0, 2]])], [q((3, 5))], None),
    "padv2": (
        Op.PADV2,
        [q((2, 3)), _i32([[1, 1], [0, 2]]), const(np.array([7], np.uint8), U, 0.05, 120)],
        [q((4, 5))],
        None,
    ),
    "maximum": (Op.MAXIMUM, [q((2, 3)), q((2, 3))], [q((2, 3))], None),
    "minimum": (Op.MINIMUM, [q((2, 3)), q((1, 3))], [q((2, 3))], None),
    "reduce_max": (Op.REDUCE_MAX, [q((2, 3, 4)), _i32([1])], [q((2, 4))], {"keep_dims": False}),
    "reduce_min": (Op.REDUCE_MIN, [q((2, 3, 4)), _i32([2])], [q((2, 3))], {"keep_dims": False}),
    "equal": (Op.EQUAL, [q((2, 3)), q((2, 3))], [out((2, 3), T.BOOL)], None),
    "greater": (Op.GREATER, [q((2, 3)), q((2, 3))], [out((2, 3), T.BOOL)], None),
    "less_equal": (Op.LESS_EQUAL, [q((2, 3)), q((1, 3))], [out((2, 3), T.BOOL)], None),
    "conv_same": (
        Op.CONV_2D,
        [q((2, 5, 5, 3)), const(_u8((4, 3, 3, 3)), U, 0.02, 131), _bias(4, 0.05 * 0.02)],
        [o((2, 5, 5, 4), 0.1, 100)],
        {"padding": 0, "stride_w": 1, "stride_h": 1},
    ),
    "conv_valid_stride_relu6": (
        Op.CONV_2D,
        [q((1, 7, 6, 2)), const(_u8((3, 2, 3, 2)), U, 0.03, 99), _bias(3, 0.05 * 0.03)],
        [o((1, 3, 2, 3), 0.08, 0)],
        {"padding": 1, "stride_w": 2, "stride_h": 2, "fused_activation_function": 3},
    ),
    "conv_dilated": (
        Op.CONV_2D,
        [q((1, 6, 6, 1)), const(_u8((2, 2, 2, 1)), U, 0.02, 128), _bias(2, 0.001)],
        [o((1, 6, 6, 2), 0.05, 128)],
        {"padding": 0, "stride_w": 1, "stride_h": 1, "dilation_w_factor": 2},
    ),
    "depthwise": (
        Op.DEPTHWISE_CONV_2D,
        [q((2, 5, 5, 2)), const(_u8((1, 3, 3, 2)), U, 0.02, 128), _bias(2, 0.001)],
        [o((2, 5, 5, 2), 0.1, 100)],
        {"padding": 0, "stride_w": 1, "stride_h": 1, "depth_multiplier": 1},
    ),
    "depthwise_multiplier_stride": (
        Op.DEPTHWISE_CONV_2D,
        [q((1, 6, 5, 2)), const(_u8((1, 3, 2, 6)), U, 0.03, 120), _bias(6, 0.0015)],
        [o((1, 2, 2, 6), 0.07, 90)],
        {"padding": 1, "stride_w": 2, "stride_h": 2, "depth_multiplier": 3}
        | {"fused_activation_function": 1},
    ),
    "fully_connected": (
        Op.FULLY_CONNECTED,
        [q((3, 6)), const(_u8((4, 6)), U, 0.02, 140), _bias(4, 0.001)],
        [o((3, 4), 0.1, 100)],
        {},
    ),
    "fully_connected_relu_no_bias": (
        Op.FULLY_CONNECTED,
        [q((2, 3, 8)), const(_u8((5, 8)), U, 0.015, 110)],
        [o((6, 5), 0.05, 20)],
        ACT,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_uint8_matches_litert_reference(name):
    op, inputs, outputs, options = CASES[name]
    compare(one_op_model(op, inputs, outputs, options), seed=len(name), runs=2)


@pytest.mark.parametrize(
    "bias, message",
    [(None, "needs a bias"), (const(np.zeros(2, np.int32), T.INT32, 0.5, 0), "bias scale")],
)
def test_uint8_conv_refuses_what_litert_refuses(bias, message):
    inputs = [q((1, 4, 4, 1)), const(_u8((2, 2, 2, 1)), U, 0.02, 128)]
    data = one_op_model(
        Op.CONV_2D,
        inputs + ([bias] if bias is not None else []),
        [o((1, 4, 4, 2))],
        {"padding": 0, "stride_w": 1, "stride_h": 1},
    )
    with pytest.raises(InvalidModelError, match=message):
        Interpreter(model_content=data).allocate_tensors()
    with pytest.raises(RuntimeError):
        litert_interpreter(model_content=data).allocate_tensors()


@pytest.mark.parametrize("op", [Op.LESS, Op.GREATER_EQUAL, Op.EQUAL, Op.NOT_EQUAL])
@pytest.mark.parametrize(
    "ttype, params",
    [
        (T.INT8, ((0.05, -8), (0.07, -28))),
        (T.UINT8, ((0.05, 120), (0.07, 100))),
        # tiny shared scale: neighbouring values rescale to the same number in LiteRT
        (T.INT8, ((0.0007, 3), (0.0007, 3))),
        (T.UINT8, ((0.0009, 128), (0.0009, 128))),
    ],
)
def test_quantized_comparisons_rescale_like_litert(op, ttype, params):
    (s1, z1), (s2, z2) = params
    data = one_op_model(
        op, [inp((4, 8), ttype, s1, z1), inp((1, 8), ttype, s2, z2)], [out((4, 8), T.BOOL)]
    )
    compare(data, seed=int(ttype), runs=3)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_uint8_concatenation_rescales_inputs_like_litert(axis):
    shapes = [(2, 3), (2, 2), (2, 1)] if axis else [(1, 3), (2, 3), (3, 3)]
    params = [(0.05, 120), (0.06, 110), (0.11, 3)]  # the second equals the output's: copied
    out_shape = list(shapes[0])
    out_shape[axis] = sum(s[axis] for s in shapes)
    data = one_op_model(
        Op.CONCATENATION,
        [q(s, *p) for s, p in zip(shapes, params)],
        [o(out_shape, 0.06, 110)],
        {"axis": axis},
    )
    compare(data, runs=2)


@pytest.mark.parametrize("out_params", [(0.05, -8), (0.03, -128), (0.11, 20)])
def test_int8_abs(out_params):
    data = one_op_model(Op.ABS, [inp((3, 7), T.INT8, 0.05, -8)], [out((3, 7), T.INT8, *out_params)])
    compare(data, runs=3)


@pytest.mark.parametrize("ttype", [T.INT8, T.INT64])
def test_integer_neg(ttype):
    quant = (0.05, -8) if ttype == T.INT8 else (None, None)
    data = one_op_model(Op.NEG, [inp((3, 7), ttype, *quant)], [out((3, 7), ttype, *quant)])
    compare(data, runs=3)
    if ttype == T.INT8:  # -(-128) wraps to -128
        compare(data, feeds=[np.full((3, 7), -128, np.int8)], runs=1)


@pytest.mark.parametrize("ttype, zp", [(T.INT8, -8), (T.UINT8, 120)])
@pytest.mark.parametrize("out_scale", [0.1, 0.01, 1.5])
@pytest.mark.parametrize("b_shape", [(4, 16), (1, 16)])
def test_quantized_div(ttype, zp, out_scale, b_shape):
    """With output scale 1.5 many of LiteRT's results come from its shift by more than 31
    (see kernels/quantized_div.py): reproduced bit for bit."""
    data = one_op_model(
        Op.DIV,
        [inp((4, 16), ttype, 0.05, zp), inp(b_shape, ttype, 0.07, zp + 3)],
        [out((4, 16), ttype, out_scale, zp - 5)],
    )
    rng = np.random.default_rng(int(out_scale * 10))
    info = np.iinfo(NP_TYPES[ttype])
    a = rng.integers(info.min, info.max + 1, (4, 16)).astype(info.dtype)
    b = rng.integers(info.min, info.max + 1, b_shape).astype(info.dtype)
    b[b == zp + 3] = zp + 4  # no zero divisor
    compare(data, feeds=[a, b], runs=1)


def test_quantized_div_by_the_zero_point_is_an_error():
    data = one_op_model(
        Op.DIV,
        [inp((2,), T.INT8, 0.05, 0), inp((2,), T.INT8, 0.05, 3)],
        [out((2,), T.INT8, 0.1, 0)],
    )
    it = Interpreter(model_content=data)
    it.allocate_tensors()
    it.set_tensor(0, np.array([5, 6], np.int8))
    it.set_tensor(1, np.array([4, 3], np.int8))
    with pytest.raises(InvalidModelError, match="division by zero"):
        it.invoke()


def test_quantized_div_of_scalars():
    data = one_op_model(
        Op.DIV,
        [inp((), T.INT8, 0.05, -8), const(np.int8(20), T.INT8, 0.07, -5)],
        [out((), T.INT8, 0.1, 0)],
    )
    compare(data, feeds=[np.int8(37)], runs=1)


@pytest.mark.parametrize(
    "axes, keep, out_params",
    [([1], False, (0.2, 10)), ([0, 2], True, (0.3, 128)), ([-1], False, (0.05, 120))],
)
def test_uint8_sum(axes, keep, out_params):
    """The last case shares the input's parameters (still requantized, and clamped)."""
    shape = (2, 3, 4)
    picked = {a % 3 for a in axes}
    kept = [1 if i in picked else d for i, d in enumerate(shape)]
    o_shape = kept if keep else [d for i, d in enumerate(shape) if i not in picked]
    data = one_op_model(
        Op.SUM, [q(shape), _i32(axes)], [o(o_shape, *out_params)], {"keep_dims": keep}
    )
    compare(data, runs=2)


@pytest.mark.parametrize(
    "in_shape, out_shape, stride, padding, with_bias",
    [((1, 3, 3, 2), (1, 6, 6, 3), 2, 0, True), ((2, 4, 3, 1), (2, 9, 7, 2), 2, 1, False)],
)
def test_uint8_transpose_conv(in_shape, out_shape, stride, padding, with_bias):
    oc, ic = out_shape[3], in_shape[3]
    inputs = [
        _i32(list(out_shape)),
        const(_u8((oc, 3, 3, ic)), U, 0.02, 131),
        q(in_shape),
    ]
    if with_bias:
        inputs.append(_bias(oc, 0.05 * 0.02))
    data = one_op_model(
        Op.TRANSPOSE_CONV,
        inputs,
        [o(out_shape, 0.1, 100)],
        {"padding": padding, "stride_w": stride, "stride_h": stride},
    )
    compare(data, runs=2)


@pytest.mark.parametrize("ttype, zp_in, zp_out", [(T.INT8, 3, 127), (T.UINT8, 128, 255)])
@pytest.mark.parametrize("scale", [0.003, 0.05, 0.2, 1.0])
@pytest.mark.parametrize("shape", [(4, 10), (2, 3, 40), (7,)])
def test_quantized_log_softmax(ttype, zp_in, zp_out, scale, shape):
    """gemmlowp's fixed-point exp and log (int8; uint8 through the shift), bit for bit."""
    data = one_op_model(
        Op.LOG_SOFTMAX,
        [inp(shape, ttype, scale, zp_in)],
        [out(shape, ttype, 16 / 256, zp_out)],
    )
    compare(data, seed=int(scale * 1000), runs=3)


def test_int8_log_softmax_output_parameters_are_fixed():
    data = one_op_model(
        Op.LOG_SOFTMAX, [inp((2, 5), T.INT8, 0.05, 0)], [out((2, 5), T.INT8, 0.1, 127)]
    )
    with pytest.raises(InvalidModelError, match="16/256"):
        Interpreter(model_content=data)


@pytest.mark.parametrize("seed", range(4))
def test_uint8_fully_connected_random_parameters(seed):
    """Random scales and zero points: LiteRT's uint8 fully connected rounds the double product
    (a MultiplyByQuantizedMultiplier version differed by one in about 1 of 60 such draws)."""
    rng = np.random.default_rng(100 + seed)
    for _ in range(5):
        si, sw, so = (float(np.exp(rng.uniform(np.log(0.002), np.log(0.5)))) for _ in range(3))
        zi, zw, zo = (int(v) for v in rng.integers(0, 256, 3))
        data = one_op_model(
            Op.FULLY_CONNECTED,
            [
                inp((3, 7), U, si, zi),
                const(_u8((4, 7)), U, sw, zw),
                const(rng.integers(-500, 500, 4).astype(np.int32), T.INT32, si * sw, 0),
            ],
            [out((3, 4), U, so, zo)],
            {"fused_activation_function": int(rng.choice([0, 1, 3]))},
        )
        compare(data, seed=seed, runs=2)
