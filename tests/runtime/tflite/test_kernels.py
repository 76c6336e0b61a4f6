"""Each kernel on random inputs against LiteRT's reference kernels, through one-op models.

int8 outputs are compared bit for bit, float outputs within 1e-5.
"""

from __future__ import annotations

import numpy as np
import pytest

from runtime import Interpreter
from runtime.errors import UnsupportedOpError
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._builder import GraphBuilder
from tests.runtime.tflite._litert import litert_interpreter

NP = {
    T.FLOAT32: np.float32,
    T.INT8: np.int8,
    T.INT32: np.int32,
    T.BOOL: np.bool_,
    T.INT64: np.int64,
}


def inp(shape, ttype=T.FLOAT32, scale=None, zp=None):
    return {"shape": list(shape), "type": ttype, "scale": scale, "zp": zp}


def const(value, ttype=T.FLOAT32, scale=None, zp=None, qdim=0):
    value = np.asarray(value)
    return {
        "shape": list(value.shape),
        "type": ttype,
        "data": value,
        "scale": scale,
        "zp": zp,
        "qdim": qdim,
    }


def out(shape, ttype=T.FLOAT32, scale=None, zp=None):
    return {"shape": list(shape), "type": ttype, "scale": scale, "zp": zp}


def one_op_model(op, inputs, outputs, options=None, version=1) -> bytes:
    g = GraphBuilder()
    ids, feeds = [], []
    for k, spec in enumerate(inputs):
        if spec is None:
            ids.append(-1)
            continue
        quant = {}
        if spec.get("scale") is not None:
            zp = 0 if spec["zp"] is None else spec["zp"]
            quant = {
                "scale": spec["scale"],
                "zero_point": zp,
                "quantized_dimension": spec.get("qdim", 0),
            }
        tid = g.add(spec["shape"], spec["type"], f"in{k}", data=spec.get("data"), **quant)
        ids.append(tid)
        if spec.get("data") is None:
            feeds.append(tid)
    outs = []
    for k, spec in enumerate(outputs):
        quant = {}
        if spec.get("scale") is not None:
            quant = {"scale": spec["scale"], "zero_point": spec["zp"] or 0}
        outs.append(g.add(spec["shape"], spec["type"], f"out{k}", **quant))
    g.op(op, ids, outs, options, version)
    return g.finish(feeds, outs)


def random_value(rng, shape, ttype):
    if ttype == T.INT8:
        return rng.integers(-128, 128, shape).astype(np.int8)
    if ttype == T.INT32:
        return rng.integers(-50, 50, shape).astype(np.int32)
    if ttype == T.BOOL:
        return rng.random(shape) < 0.5
    return rng.normal(0, 2, shape).astype(np.float32)


def check(data: bytes, seed=0, feeds=None, runs=3, reference=True):
    """Run ours and LiteRT (BUILTIN_REF, or its default kernels for ops the reference
    resolver lacks) on the same random feeds; compare all outputs."""
    rng = np.random.default_rng(seed)
    ref = litert_interpreter(model_content=data, reference=reference)
    ours = Interpreter(model_content=data)
    ref.allocate_tensors()
    ours.allocate_tensors()
    for _ in range(runs):
        for d in ref.get_input_details():
            x = feeds[d["index"]] if feeds else random_value(rng, d["shape"], _ttype(d["dtype"]))
            ref.set_tensor(d["index"], x)
            ours.set_tensor(d["index"], x)
        ref.invoke()
        ours.invoke()
        for d in ref.get_output_details():
            a, b = ref.get_tensor(d["index"]), ours.get_tensor(d["index"])
            assert a.dtype == b.dtype and a.shape == b.shape
            if a.dtype.kind == "f":
                np.testing.assert_allclose(b, a, rtol=0, atol=1e-5)
            else:
                np.testing.assert_array_equal(b, a)


def _ttype(dtype):
    return {
        np.float32: T.FLOAT32,
        np.int8: T.INT8,
        np.int32: T.INT32,
        np.bool_: T.BOOL,
        np.int64: T.INT64,
    }[dtype]


def _q_weights(rng, shape, axis):
    w = rng.normal(0, 0.3, shape).astype(np.float32)
    red = tuple(i for i in range(len(shape)) if i != axis)
    scale = (np.abs(w).max(axis=red) / 127).astype(np.float32)
    bshape = [1] * len(shape)
    bshape[axis] = -1
    q = np.clip(np.round(w / scale.reshape(bshape)), -127, 127).astype(np.int8)
    return q, scale


CONV_CASES = [
    # (input shape, out channels, kernel, stride, dilation, padding, activation)
    ((2, 9, 9, 3), 4, 3, 1, 1, 0, 0),
    ((1, 10, 7, 2), 5, 3, 2, 1, 0, 3),
    ((1, 8, 8, 4), 3, 2, 1, 2, 1, 1),
    ((3, 6, 6, 1), 8, 3, 2, 1, 1, 2),
]


@pytest.mark.parametrize("case", range(len(CONV_CASES)))
@pytest.mark.parametrize("per_channel", [True, False])
def test_conv2d_int8(case, per_channel):
    shape, oc, k, stride, dil, padding, act = CONV_CASES[case]
    rng = np.random.default_rng(case)
    q, scale = _q_weights(rng, (oc, k, k, shape[3]), 0)
    if not per_channel:
        scale = np.float32(scale.max())
        q = np.clip(np.round(q * 0 + rng.normal(0, 40, q.shape)), -127, 127).astype(np.int8)
    s_in = 0.05
    bias = rng.integers(-2000, 2000, oc).astype(np.int32)
    b_scale = (np.float32(s_in) * np.atleast_1d(scale)).astype(np.float32)
    g_out = _conv_out(shape, oc, k, stride, dil, padding)
    data = one_op_model(
        Op.CONV_2D,
        [
            inp(shape, T.INT8, s_in, 3),
            const(q, T.INT8, scale, np.zeros(np.size(scale), int)),
            const(bias, T.INT32, b_scale, np.zeros(np.size(b_scale), int)),
        ],
        [out(g_out, T.INT8, 0.07, -5)],
        {
            "padding": padding,
            "stride_w": stride,
            "stride_h": stride,
            "dilation_w_factor": dil,
            "dilation_h_factor": dil,
            "fused_activation_function": act,
        },
        version=3,
    )
    check(data, case)


def _conv_out(shape, oc, k, stride, dil, padding):
    eff = (k - 1) * dil + 1
    if padding == 0:
        return [shape[0], -(-shape[1] // stride), -(-shape[2] // stride), oc]
    return [shape[0], (shape[1] - eff) // stride + 1, (shape[2] - eff) // stride + 1, oc]


@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_conv2d_float(case):
    shape, oc, k, stride, dil, padding, act = CONV_CASES[case]
    rng = np.random.default_rng(case)
    w = rng.normal(0, 0.5, (oc, k, k, shape[3])).astype(np.float32)
    data = one_op_model(
        Op.CONV_2D,
        [inp(shape), const(w), const(rng.normal(0, 1, oc).astype(np.float32))],
        [out(_conv_out(shape, oc, k, stride, dil, padding))],
        {
            "padding": padding,
            "stride_w": stride,
            "stride_h": stride,
            "dilation_w_factor": dil,
            "dilation_h_factor": dil,
            "fused_activation_function": act,
        },
    )
    check(data, case)


@pytest.mark.parametrize("mult", [1, 2])
@pytest.mark.parametrize("padding", [0, 1])
def test_depthwise_int8_and_float(mult, padding):
    rng = np.random.default_rng(mult + 2 * padding)
    shape, k, stride = (2, 7, 6, 3), 3, 2 if padding else 1
    oc = shape[3] * mult
    q, scale = _q_weights(rng, (1, k, k, oc), 3)
    bias = rng.integers(-500, 500, oc).astype(np.int32)
    o_shape = _conv_out(shape, oc, k, stride, 1, padding)
    opts = {
        "padding": padding,
        "stride_w": stride,
        "stride_h": stride,
        "depth_multiplier": mult,
        "fused_activation_function": 1,
    }
    check(
        one_op_model(
            Op.DEPTHWISE_CONV_2D,
            [
                inp(shape, T.INT8, 0.04, -7),
                const(q, T.INT8, scale, np.zeros(oc, int), qdim=3),
                const(
                    bias, T.INT32, (np.float32(0.04) * scale).astype(np.float32), np.zeros(oc, int)
                ),
            ],
            [out(o_shape, T.INT8, 0.05, -20)],
            opts,
            version=3,
        )
    )
    w = rng.normal(0, 0.5, (1, k, k, oc)).astype(np.float32)
    b = const(rng.normal(0, 1, oc).astype(np.float32))
    check(one_op_model(Op.DEPTHWISE_CONV_2D, [inp(shape), const(w), b], [out(o_shape)], opts))


@pytest.mark.parametrize("per_channel", [True, False])
@pytest.mark.parametrize("keep_dims", [False, True])
def test_fully_connected_int8(per_channel, keep_dims):
    rng = np.random.default_rng(int(per_channel) + 2 * keep_dims)
    units, depth = 6, 10
    q, scale = _q_weights(rng, (units, depth), 0)
    if not per_channel:
        scale = np.float32(scale.max())
    bias = rng.integers(-3000, 3000, units).astype(np.int32)
    in_shape = (2, 3, depth)
    o_shape = [2, 3, units] if keep_dims else [6, units]
    check(
        one_op_model(
            Op.FULLY_CONNECTED,
            [
                inp(in_shape, T.INT8, 0.03, 4),
                const(q, T.INT8, scale, np.zeros(np.size(scale), int)),
                const(
                    bias,
                    T.INT32,
                    (np.float32(0.03) * np.atleast_1d(scale)).astype(np.float32),
                    np.zeros(np.size(scale), int),
                ),
            ],
            [out(o_shape, T.INT8, 0.1, 2)],
            {"keep_num_dims": keep_dims, "fused_activation_function": 3},
            version=5,
        )
    )


@pytest.mark.parametrize("asymmetric", [False, True])
def test_fully_connected_hybrid(asymmetric):
    rng = np.random.default_rng(7)
    q, scale = _q_weights(rng, (5, 12), 0)
    check(
        one_op_model(
            Op.FULLY_CONNECTED,
            [
                inp((4, 12)),
                const(q, T.INT8, scale, np.zeros(5, int)),
                const(rng.normal(0, 1, 5).astype(np.float32)),
            ],
            [out((4, 5))],
            {"asymmetric_quantize_inputs": asymmetric},
            version=9,
        )
    )


@pytest.mark.parametrize("op", [Op.MAX_POOL_2D, Op.AVERAGE_POOL_2D])
@pytest.mark.parametrize("ttype", [T.INT8, T.FLOAT32])
@pytest.mark.parametrize("padding", [0, 1])
def test_pooling(op, ttype, padding):
    q = (0.1, -3) if ttype == T.INT8 else (None, None)
    shape = (2, 7, 9, 3)
    o_shape = _conv_out(shape, 3, 3, 2, 1, padding)
    check(
        one_op_model(
            op,
            [inp(shape, ttype, *q)],
            [out(o_shape, ttype, *q)],
            {
                "padding": padding,
                "stride_w": 2,
                "stride_h": 2,
                "filter_width": 3,
                "filter_height": 3,
                "fused_activation_function": 1,
            },
            version=2 if ttype == T.INT8 else 1,
        ),
        seed=padding,
    )


@pytest.mark.parametrize("op", [Op.ADD, Op.SUB, Op.MUL])
@pytest.mark.parametrize(
    "shapes", [((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (4,)), ((1, 3, 1), (2, 1, 5))]
)
def test_binary_int8(op, shapes):
    a, b = shapes
    o_shape = np.broadcast_shapes(a, b)
    check(
        one_op_model(
            op,
            [inp(a, T.INT8, 0.02, 5), inp(b, T.INT8, 0.035, -9)],
            [out(o_shape, T.INT8, 0.05 if op != Op.MUL else 0.004, 1)],
            {"fused_activation_function": 0},
            version=2,
        ),
        seed=len(a),
    )


@pytest.mark.parametrize("op", [Op.ADD, Op.SUB, Op.MUL])
def test_binary_float_with_activation(op):
    check(
        one_op_model(
            op, [inp((2, 3, 4)), inp((3, 1))], [out((2, 3, 4))], {"fused_activation_function": 3}
        )
    )


@pytest.mark.parametrize(
    "axes,keep", [([1, 2], True), ([1, 2], False), ([3], False), ([0, 3], True), ([-1], True)]
)
@pytest.mark.parametrize("ttype", [T.INT8, T.FLOAT32])
def test_mean(axes, keep, ttype):
    shape = (2, 5, 3, 4)
    o_shape = [1 if (i in axes or i - 4 in axes) else d for i, d in enumerate(shape)]
    if not keep:
        o_shape = [d for i, d in enumerate(shape) if not (i in axes or i - 4 in axes)]
    q_in, q_out = ((0.1, 3), (0.03, -2)) if ttype == T.INT8 else ((None, None), (None, None))
    check(
        one_op_model(
            Op.MEAN,
            [inp(shape, ttype, *q_in), const(np.array(axes, np.int32), T.INT32)],
            [out(o_shape, ttype, *q_out)],
            {"keep_dims": keep},
            version=2 if ttype == T.INT8 else 1,
        )
    )


@pytest.mark.parametrize(
    "shape,axes", [((3, 16, 37), [2]), ((2, 7, 7, 6), [1, 2]), ((2, 36, 2, 4), [1, 3])]
)
def test_float_mean_is_bit_exact(shape, axes):
    # A float island (a LayerNormalization kept float in an int8 model) is quantized again
    # after its MEANs: one ulp there can move an int8 value, so float MEAN must match to the bit.
    rng = np.random.default_rng(7)
    x = (rng.uniform(-1, 1, shape) + 0.01 * rng.standard_normal(shape)).astype(np.float32)
    data = one_op_model(
        Op.MEAN,
        [inp(shape), const(np.array(axes, np.int32), T.INT32)],
        [out([1 if i in axes else d for i, d in enumerate(shape)])],
        {"keep_dims": True},
    )
    ref, ours = (
        litert_interpreter(model_content=data, reference=True),
        Interpreter(model_content=data),
    )
    results = []
    for it in (ref, ours):
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        results.append(it.get_tensor(it.get_output_details()[0]["index"]))
    np.testing.assert_array_equal(results[1], results[0])


@pytest.mark.parametrize("in_scale,beta", [(0.1, 1.0), (0.5, 1.0), (0.02, 2.0), (1.0, 0.5)])
def test_softmax_int8(in_scale, beta):
    check(
        one_op_model(
            Op.SOFTMAX,
            [inp((4, 10), T.INT8, in_scale, 3)],
            [out((4, 10), T.INT8, 1 / 256, -128)],
            {"beta": beta},
            version=2,
        ),
        seed=int(in_scale * 100),
        runs=5,
    )


def test_softmax_float():
    check(one_op_model(Op.SOFTMAX, [inp((3, 7))], [out((3, 7))], {"beta": 1.5}))


@pytest.mark.parametrize("op,q_out", [(Op.LOGISTIC, (1 / 256, -128)), (Op.TANH, (1 / 128, 0))])
@pytest.mark.parametrize("q_in", [(0.1, 0), (0.05, -30), (0.2, 17)])
def test_lut_activations_int8_all_256_values(op, q_out, q_in):
    data = one_op_model(op, [inp((256,), T.INT8, *q_in)], [out((256,), T.INT8, *q_out)], version=2)
    values = np.arange(-128, 128, dtype=np.int8)
    check(data, feeds={0: values}, runs=1)


@pytest.mark.parametrize("op", [Op.RELU, Op.RELU6, Op.RELU_N1_TO_1, Op.LOGISTIC, Op.TANH])
def test_activations_float(op):
    check(one_op_model(op, [inp((3, 17))], [out((3, 17))]))


@pytest.mark.parametrize("op", [Op.RELU, Op.RELU6, Op.RELU_N1_TO_1])
def test_relu_int8(op):
    check(
        one_op_model(
            op,
            [inp((4, 32), T.INT8, 0.05, -10)],
            [out((4, 32), T.INT8, 0.03, -128)],
            version=1 if op == Op.RELU_N1_TO_1 else 2,
        )
    )


def test_quantize_and_dequantize():
    check(one_op_model(Op.QUANTIZE, [inp((5, 7))], [out((5, 7), T.INT8, 0.013, -4)]))
    check(
        one_op_model(
            Op.QUANTIZE,
            [inp((5, 7), T.INT8, 0.05, 2)],
            [out((5, 7), T.INT8, 0.021, -11)],
            version=2,
        )
    )
    check(one_op_model(Op.DEQUANTIZE, [inp((5, 7), T.INT8, 0.05, 2)], [out((5, 7))], version=2))


def test_quantize_rounds_ties_away_from_zero():
    data = one_op_model(Op.QUANTIZE, [inp((6,))], [out((6,), T.INT8, 0.5, 0)])
    feeds = {0: np.array([0.25, -0.25, 0.75, -0.75, 63.75, -64.25], np.float32)}
    check(data, feeds=feeds, runs=1)


@pytest.mark.parametrize("ttype", [T.INT8, T.FLOAT32])
def test_pad_and_padv2(ttype):
    q = (0.1, -6) if ttype == T.INT8 else (None, None)
    pads = const(np.array([[0, 0], [1, 2], [2, 0], [0, 1]], np.int32), T.INT32)
    check(
        one_op_model(
            Op.PAD,
            [inp((2, 3, 3, 2), ttype, *q), pads],
            [out((2, 6, 5, 3), ttype, *q)],
            version=2 if ttype == T.INT8 else 1,
        )
    )
    value = const(np.array([7 if ttype == T.INT8 else 1.5], NP[ttype]).reshape(()), ttype, *q)
    check(
        one_op_model(
            Op.PADV2,
            [inp((2, 3, 3, 2), ttype, *q), pads, value],
            [out((2, 6, 5, 3), ttype, *q)],
            version=2 if ttype == T.INT8 else 1,
        )
    )


def test_pad_with_paddings_and_shapes_changing_between_invokes():
    # paddings given at run time and the input resized: each invoke pads by its own values
    data = one_op_model(Op.PAD, [inp((2, 3)), inp((2, 2), T.INT32)], [out((2, 3))])
    ref = litert_interpreter(model_content=data)
    ours = Interpreter(model_content=data)
    rng = np.random.default_rng(0)
    for shape, pads in [
        ((2, 3), [[0, 1], [2, 0]]),
        ((2, 3), [[1, 1], [0, 3]]),
        ((4, 1), [[0, 1], [2, 0]]),
        ((2, 3), [[0, 1], [2, 0]]),
    ]:
        x = rng.normal(size=shape).astype(np.float32)
        for it in (ref, ours):
            it.resize_tensor_input(0, list(shape))
            it.allocate_tensors()
            it.set_tensor(0, x)
            it.set_tensor(1, np.array(pads, np.int32))
            it.invoke()
        index = ref.get_output_details()[0]["index"]
        np.testing.assert_array_equal(ours.get_tensor(index), ref.get_tensor(index))


def test_concatenation_int8_and_float():
    check(
        one_op_model(
            Op.CONCATENATION,
            [inp((2, 3, 1), T.INT8, 0.1, 1), inp((2, 3, 4), T.INT8, 0.1, 1)],
            [out((2, 3, 5), T.INT8, 0.1, 1)],
            {"axis": -1},
            version=2,
        )
    )
    check(
        one_op_model(
            Op.CONCATENATION, [inp((1, 3)), inp((2, 3)), inp((4, 3))], [out((7, 3))], {"axis": 0}
        )
    )


def test_shape_ops():
    check(
        one_op_model(
            Op.RESHAPE, [inp((2, 3, 4)), const(np.array([4, -1], np.int32), T.INT32)], [out((4, 6))]
        )
    )
    check(one_op_model(Op.RESHAPE, [inp((2, 3, 4))], [out((6, 4))], {"new_shape": [6, 4]}))
    check(
        one_op_model(
            Op.TRANSPOSE,
            [inp((2, 3, 4)), const(np.array([2, 0, 1], np.int32), T.INT32)],
            [out((4, 2, 3))],
        )
    )
    check(one_op_model(Op.SQUEEZE, [inp((1, 3, 1, 4))], [out((3, 4))], {"squeeze_dims": [0, 2]}))
    check(
        one_op_model(
            Op.EXPAND_DIMS, [inp((3, 4)), const(np.array(1, np.int32), T.INT32)], [out((3, 1, 4))]
        )
    )
    check(one_op_model(Op.SHAPE, [inp((3, 4, 5))], [out((3,), T.INT32)], {"out_type": 2}))


@pytest.mark.parametrize(
    "opts,begin,end,strides,o_shape",
    [
        ({}, [0, 1, 0], [2, 3, 4], [1, 1, 2], (2, 2, 2)),
        ({"shrink_axis_mask": 1}, [1, 0, 0], [2, 3, 4], [1, 1, 1], (3, 4)),
        ({"begin_mask": 2, "end_mask": 4}, [0, 2, 1], [1, 0, 3], [1, 1, 1], (1, 3, 4)),
        ({}, [-1, -1, -1], [-3, -4, -5], [-1, -1, -2], (2, 3, 2)),
    ],
)
def test_strided_slice(opts, begin, end, strides, o_shape):
    arrs = [const(np.array(v, np.int32), T.INT32) for v in (begin, end, strides)]
    check(one_op_model(Op.STRIDED_SLICE, [inp((3, 3, 4)), *arrs], [out(o_shape)], opts))


def test_slice_gather_split_pack():
    check(
        one_op_model(
            Op.SLICE,
            [
                inp((3, 4, 5)),
                const(np.array([1, 0, 2], np.int32), T.INT32),
                const(np.array([2, -1, 2], np.int32), T.INT32),
            ],
            [out((2, 4, 2))],
        )
    )
    check(
        one_op_model(
            Op.GATHER,
            [inp((5, 3)), const(np.array([[4, 0], [2, 2]], np.int32), T.INT32)],
            [out((2, 2, 3))],
            {"axis": 0},
        )
    )
    check(
        one_op_model(
            Op.GATHER,
            [inp((2, 5), T.INT8, 0.1, 0), const(np.array([1, 3], np.int32), T.INT32)],
            [out((2, 2), T.INT8, 0.1, 0)],
            {"axis": 1},
            version=2,
        )
    )
    check(
        one_op_model(
            Op.SPLIT,
            [const(np.array(1, np.int32), T.INT32), inp((2, 6))],
            [out((2, 2)), out((2, 2)), out((2, 2))],
            {"num_splits": 3},
        )
    )
    check(
        one_op_model(
            Op.PACK, [inp((3, 2)), inp((3, 2))], [out((3, 2, 2))], {"values_count": 2, "axis": 2}
        )
    )


def test_logic_ops():
    check(one_op_model(Op.LESS, [inp((3, 4)), inp((4,))], [out((3, 4), T.BOOL)]))
    check(
        one_op_model(Op.LESS, [inp((3, 4), T.INT32), inp((3, 4), T.INT32)], [out((3, 4), T.BOOL)])
    )
    check(
        one_op_model(
            Op.LOGICAL_AND, [inp((3, 4), T.BOOL), inp((3, 4), T.BOOL)], [out((3, 4), T.BOOL)]
        )
    )
    check(one_op_model(Op.SELECT, [inp((3, 4), T.BOOL), inp((3, 4)), inp((3, 4))], [out((3, 4))]))
    check(
        one_op_model(Op.SELECT_V2, [inp((3, 1), T.BOOL), inp((1, 4)), inp((3, 4))], [out((3, 4))])
    )


def test_batch_matmul_fill_cast():
    check(
        one_op_model(
            Op.BATCH_MATMUL, [inp((2, 3, 4)), inp((2, 5, 4))], [out((2, 3, 5))], {"adj_y": True}
        )
    )
    check(
        one_op_model(Op.FILL, [const(np.array([2, 3], np.int32), T.INT32), inp(())], [out((2, 3))])
    )
    check(
        one_op_model(
            Op.CAST, [inp((3, 4))], [out((3, 4), T.INT32)], {"in_data_type": 0, "out_data_type": 2}
        )
    )


@pytest.mark.parametrize(
    "op,options",
    [
        (Op.ELU, None),
        (Op.GELU, {"approximate": False}),
        (Op.GELU, {"approximate": True}),
        (Op.HARD_SWISH, None),
        (Op.LEAKY_RELU, {"alpha": 0.2}),
    ],
)
def test_more_activations_float(op, options):
    # LiteRT's reference resolver has no ELU; its default ELU kernel is plain C++ too.
    check(one_op_model(op, [inp((4, 33))], [out((4, 33))], options), reference=op != Op.ELU)


@pytest.mark.parametrize(
    "op,options",
    [
        (Op.ELU, None),
        (Op.GELU, {"approximate": False}),
        (Op.GELU, {"approximate": True}),
        (Op.LEAKY_RELU, {"alpha": 0.3}),
    ],
)
def test_more_activations_int8_all_256_values(op, options):
    data = one_op_model(
        op,
        [inp((256,), T.INT8, 0.04, 10)],
        [out((256,), T.INT8, 0.03, -60)],
        options,
        version=1 if op == Op.ELU else 2,
    )
    check(data, feeds={0: np.arange(-128, 128, dtype=np.int8)}, runs=1, reference=op != Op.ELU)


@pytest.mark.parametrize("op", [Op.MAXIMUM, Op.MINIMUM])
def test_maximum_minimum(op):
    check(one_op_model(op, [inp((2, 3, 4)), inp((4,))], [out((2, 3, 4))]))
    check(
        one_op_model(
            op,
            [inp((2, 3, 4), T.INT8, 0.1, 2), inp((3, 1), T.INT8, 0.1, 2)],
            [out((2, 3, 4), T.INT8, 0.1, 2)],
            version=2,
        )
    )


def test_div_and_sum():
    check(
        one_op_model(
            Op.DIV,
            [inp((2, 3)), const(np.array([1.5, -2.0, 4.0], np.float32))],
            [out((2, 3))],
            {"fused_activation_function": 0},
        )
    )
    check(
        one_op_model(
            Op.SUM,
            [inp((2, 3, 4)), const(np.array([1], np.int32), T.INT32)],
            [out((2, 4))],
            {"keep_dims": False},
        )
    )
    # LiteRT's reference int8 SUM returns garbage, so there is nothing to be exact with.
    int8_sum = one_op_model(
        Op.SUM,
        [inp((2, 3, 4), T.INT8, 0.1, 3), const(np.array([1, 2], np.int32), T.INT32)],
        [out((2, 1, 1), T.INT8, 0.5, -1)],
        {"keep_dims": True},
        version=2,
    )
    with pytest.raises(UnsupportedOpError, match="int8 SUM"):
        Interpreter(model_content=int8_sum)


@pytest.mark.parametrize(
    "op", [Op.ABS, Op.NEG, Op.EXP, Op.SQUARE, Op.SIN, Op.COS, Op.FLOOR, Op.CEIL, Op.ROUND]
)
def test_unary_float(op):
    # LiteRT's reference resolver lacks CEIL and ROUND; their default kernels are plain C++.
    check(one_op_model(op, [inp((3, 8))], [out((3, 8))]), reference=op not in (Op.CEIL, Op.ROUND))


@pytest.mark.parametrize("op", [Op.LOG, Op.SQRT, Op.RSQRT])
def test_unary_float_positive(op):
    rng = np.random.default_rng(3)
    x = rng.uniform(0.1, 5, (3, 8)).astype(np.float32)
    check(one_op_model(op, [inp((3, 8))], [out((3, 8))]), feeds={0: x}, runs=1)


def test_round_is_half_to_even():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 2.4999998], np.float32)
    check(one_op_model(Op.ROUND, [inp((6,))], [out((6,))]), feeds={0: x}, runs=1, reference=False)


def test_indexing_ops():
    check(
        one_op_model(
            Op.REVERSE_V2,
            [inp((2, 3, 4)), const(np.array([0, 1], np.int32), T.INT32)],
            [out((2, 3, 4))],
        )
    )
    check(
        one_op_model(
            Op.TILE, [inp((2, 3)), const(np.array([2, 1], np.int32), T.INT32)], [out((4, 3))]
        )
    )
    for op in (Op.ARG_MAX, Op.ARG_MIN):
        check(
            one_op_model(
                op,
                [inp((3, 5)), const(np.array([1], np.int32), T.INT32)],
                [out((3,), T.INT32)],
                {"output_type": 2},
            )
        )
        check(
            one_op_model(
                op,
                [inp((3, 5), T.INT8, 0.1, 0), const(np.array([0], np.int32), T.INT32)],
                [out((5,), T.INT32)],
                {"output_type": 2},
                version=2,
            )
        )
    for op in (Op.REDUCE_MAX, Op.REDUCE_MIN):
        check(
            one_op_model(
                op,
                [inp((2, 3, 4)), const(np.array([1, 2], np.int32), T.INT32)],
                [out((2,))],
                {"keep_dims": False},
            )
        )
        check(
            one_op_model(
                op,
                [inp((2, 3, 4), T.INT8, 0.1, 1), const(np.array([-1], np.int32), T.INT32)],
                [out((2, 3, 1), T.INT8, 0.1, 1)],
                {"keep_dims": True},
                version=2,
            )
        )
    check(
        one_op_model(
            Op.SPLIT_V,
            [
                inp((2, 7)),
                const(np.array([2, -1, 1], np.int32), T.INT32),
                const(np.array(1, np.int32), T.INT32),
            ],
            [out((2, 2)), out((2, 4)), out((2, 1))],
            {"num_splits": 3},
        )
    )
    check(one_op_model(Op.UNPACK, [inp((3, 2))], [out((3,)), out((3,))], {"num": 2, "axis": 1}))
    check(one_op_model(Op.SQUARED_DIFFERENCE, [inp((2, 3)), inp((3,))], [out((2, 3))]))
    check(one_op_model(Op.ZEROS_LIKE, [inp((2, 3))], [out((2, 3))]))
    check(
        one_op_model(
            Op.RANGE,
            [
                const(np.array(1, np.int32), T.INT32),
                const(np.array(11, np.int32), T.INT32),
                const(np.array(3, np.int32), T.INT32),
                None,
            ][:3],
            [out((4,), T.INT32)],
        ),
        feeds={},
        runs=1,
    )


def test_dequantize_float16_and_per_channel_int8():
    # float16 models store weights as FLOAT16 constants feeding DEQUANTIZE.
    g = GraphBuilder()
    w = g.add([2, 3], T.FLOAT16, "w", data=np.array([[0.1, -2.5, 3.0], [65504, -1e-4, 0]]))
    x = g.add([2, 3], name="x")
    wf = g.add([2, 3], name="wf")
    y = g.add([2, 3], name="y")
    g.op(Op.DEQUANTIZE, [w], [wf], version=3)
    g.op(Op.ADD, [x, wf], [y], {"fused_activation_function": 0})
    check(g.finish([x], [y]))
    q = np.array([[-127, 5, 99], [3, -8, 127]], np.int8)
    data = one_op_model(
        Op.DEQUANTIZE,
        [inp((2, 3), T.INT8, np.array([0.5, 0.125], np.float32), np.array([0, 3]))],
        [out((2, 3))],
        version=5,
    )
    check(data, feeds={0: q}, runs=1)


@pytest.mark.parametrize("adj", [(False, False), (True, False), (False, True)])
def test_batch_matmul_int8(adj):
    a_shape = (2, 5, 3) if adj[0] else (2, 3, 5)
    b_shape = (4, 5) if adj[1] else (5, 4)
    check(
        one_op_model(
            Op.BATCH_MATMUL,
            [inp(a_shape, T.INT8, 0.05, 3), inp(b_shape, T.INT8, 0.02, -1)],
            [out((2, 3, 4), T.INT8, 0.3, -4)],
            {"adj_x": adj[0], "adj_y": adj[1]},
            version=2,
        ),
        runs=4,
    )


@pytest.mark.parametrize(
    "op", [Op.LESS, Op.LESS_EQUAL, Op.GREATER, Op.GREATER_EQUAL, Op.EQUAL, Op.NOT_EQUAL]
)
@pytest.mark.parametrize("ttype", [T.FLOAT32, T.INT32, T.INT8])
def test_comparisons(op, ttype):
    q = (0.1, 2) if ttype == T.INT8 else (None, None)
    check(
        one_op_model(
            op,
            [inp((3, 4), ttype, *q), inp((4,), ttype, *q)],
            [out((3, 4), T.BOOL)],
            version=2 if ttype == T.INT8 else 1,
        )
    )


def test_logical_or_not():
    check(
        one_op_model(
            Op.LOGICAL_OR, [inp((3, 4), T.BOOL), inp((1, 4), T.BOOL)], [out((3, 4), T.BOOL)]
        )
    )
    check(one_op_model(Op.LOGICAL_NOT, [inp((3, 4), T.BOOL)], [out((3, 4), T.BOOL)]))


def test_float16_weights_feed_conv_through_dequantize():
    # What TFLiteConverter's float16 mode writes: the filter is DEQUANTIZE(float16 constant),
    # evaluated once at prepare time, so the convolution still sees constant weights.
    rng = np.random.default_rng(11)
    g = GraphBuilder()
    x = g.add([1, 6, 6, 2], name="x")
    w16 = g.add([3, 3, 3, 2], T.FLOAT16, "w16", data=rng.normal(0, 0.5, (3, 3, 3, 2)))
    b16 = g.add([3], T.FLOAT16, "b16", data=rng.normal(0, 0.5, 3))
    w = g.add([3, 3, 3, 2], name="w")
    b = g.add([3], name="b")
    y = g.add([1, 4, 4, 3], name="y")
    g.op(Op.DEQUANTIZE, [w16], [w], version=3)
    g.op(Op.DEQUANTIZE, [b16], [b], version=3)
    g.op(Op.CONV_2D, [x, w, b], [y], {"padding": 1, "stride_w": 1, "stride_h": 1})
    data = g.finish([x], [y])
    check(data)
    assert len(Interpreter(model_content=data)._main.steps) == 1


@pytest.mark.parametrize("mult,padding", [(1, 0), (2, 1)])
def test_depthwise_hybrid(mult, padding):
    rng = np.random.default_rng(21 + mult)
    shape, k = (2, 7, 6, 3), 3
    oc = shape[3] * mult
    q, scale = _q_weights(rng, (1, k, k, oc), 3)
    o_shape = _conv_out(shape, oc, k, 1, 1, padding)
    check(
        one_op_model(
            Op.DEPTHWISE_CONV_2D,
            [
                inp(shape),
                const(q, T.INT8, scale, np.zeros(oc, int), qdim=3),
                const(rng.normal(0, 1, oc).astype(np.float32)),
            ],
            [out(o_shape)],
            {
                "padding": padding,
                "stride_w": 1,
                "stride_h": 1,
                "depth_multiplier": mult,
                "fused_activation_function": 1,
            },
            version=6,
        )
    )


@pytest.mark.parametrize("asymmetric", [False, True])
@pytest.mark.parametrize("adj_y", [False, True])
def test_batch_matmul_hybrid(asymmetric, adj_y):
    rng = np.random.default_rng(31)
    w = rng.normal(0, 0.4, (4, 6) if adj_y else (6, 4)).astype(np.float32)
    scale = np.float32(np.abs(w).max() / 127)
    q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
    check(
        one_op_model(
            Op.BATCH_MATMUL,
            [inp((2, 3, 6)), const(q, T.INT8, scale, 0)],
            [out((2, 3, 4))],
            {"adj_y": adj_y, "asymmetric_quantize_inputs": asymmetric},
            version=4,
        )
    )


@pytest.mark.parametrize("align,half", [(False, False), (True, False), (False, True)])
@pytest.mark.parametrize("size", [(6, 9), (2, 3), (5, 4)])
def test_resize_nearest_and_bilinear(align, half, size):
    opts = {"align_corners": align, "half_pixel_centers": half}
    target = const(np.array(size, np.int32), T.INT32)
    check(
        one_op_model(
            Op.RESIZE_NEAREST_NEIGHBOR, [inp((2, 3, 4, 2)), target], [out((2, *size, 2))], opts
        )
    )
    check(
        one_op_model(
            Op.RESIZE_NEAREST_NEIGHBOR,
            [inp((2, 3, 4, 2), T.INT8, 0.1, 3), target],
            [out((2, *size, 2), T.INT8, 0.1, 3)],
            opts,
            version=2,
        )
    )
    check(one_op_model(Op.RESIZE_BILINEAR, [inp((2, 3, 4, 2)), target], [out((2, *size, 2))], opts))
