"""POW, FLOOR_DIV, FLOOR_MOD, ATAN2, SIGN, RELU_0_TO_1 and ADD_N against LiteRT's reference
kernels through one-op models (integers bit for bit, float within 1e-5), and their errors."""

from __future__ import annotations

import numpy as np
import pytest

from runtime import Interpreter
from runtime.errors import InvalidModelError
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite.test_kernels import const, inp, one_op_model, out
from tests.runtime.tflite.test_layout_kernels import NP, compare


def _values(rng, shape, ttype, nonzero=False, low=-20, high=20):
    if ttype == T.FLOAT32:
        x = rng.uniform(low, high, shape).astype(np.float32)
    else:
        info = np.iinfo(NP[ttype])
        x = rng.integers(max(low, info.min), min(high, info.max) + 1, shape).astype(NP[ttype])
    if nonzero:
        x[x == 0] = 3
    return x


BINARY_SHAPES = [((2, 3), (2, 3)), ((2, 1, 4), (3, 1)), ((), (5,))]


@pytest.mark.parametrize(
    "op, ttype",
    [
        (Op.FLOOR_DIV, T.FLOAT32),
        (Op.FLOOR_DIV, T.INT8),
        (Op.FLOOR_DIV, T.INT16),
        (Op.FLOOR_DIV, T.INT32),
        (Op.FLOOR_MOD, T.FLOAT32),
        (Op.FLOOR_MOD, T.INT8),
        (Op.FLOOR_MOD, T.INT16),
        (Op.FLOOR_MOD, T.INT32),
        (Op.FLOOR_MOD, T.INT64),
    ],
)
@pytest.mark.parametrize("shapes", BINARY_SHAPES)
def test_binary_ops(op, ttype, shapes):
    rng = np.random.default_rng(len(shapes[0]) + int(ttype))
    a_shape, b_shape = shapes
    o_shape = np.broadcast_shapes(a_shape, b_shape)
    data = one_op_model(op, [inp(a_shape, ttype), inp(b_shape, ttype)], [out(o_shape, ttype)])
    feeds = [_values(rng, a_shape, ttype), _values(rng, b_shape, ttype, nonzero=True, low=-7)]
    compare(data, feeds=feeds, runs=1)


def test_atan2_same_shapes_only():
    data = one_op_model(Op.ATAN2, [inp((3, 4)), inp((3, 4))], [out((3, 4))])
    x = np.random.default_rng(2).normal(size=(2, 3, 4)).astype(np.float32)
    x[:, 0, :2] = 0.0  # atan2(0, 0) and signed zeros
    x[1, 0, 0] = -0.0
    compare(data, feeds=[x[0], x[1]], runs=1)
    broadcast = one_op_model(Op.ATAN2, [inp((3, 4)), inp((1, 4))], [out((3, 4))])
    it = Interpreter(model_content=broadcast)
    it.allocate_tensors()
    with pytest.raises(InvalidModelError, match="differ"):
        it.invoke()


@pytest.mark.parametrize("ttype", [T.FLOAT32, T.INT32])
@pytest.mark.parametrize("shapes", BINARY_SHAPES)
def test_pow(ttype, shapes):
    rng = np.random.default_rng(7)
    a_shape, b_shape = shapes
    o_shape = np.broadcast_shapes(a_shape, b_shape)
    data = one_op_model(Op.POW, [inp(a_shape, ttype), inp(b_shape, ttype)], [out(o_shape, ttype)])
    base = _values(rng, a_shape, ttype, low=-9, high=9)
    if ttype == T.FLOAT32:
        base = np.abs(base) + np.float32(0.5)
    # int32 exponents up to 40: results beyond int32 become INT32_MIN as in LiteRT
    exponent = _values(rng, b_shape, ttype, low=0, high=40 if ttype == T.INT32 else 4)
    compare(data, feeds=[base, exponent], runs=1)


@pytest.mark.parametrize("op", [Op.FLOOR_DIV, Op.FLOOR_MOD])
def test_integer_division_by_zero_is_an_error(op):
    data = one_op_model(op, [inp((3,), T.INT32), inp((3,), T.INT32)], [out((3,), T.INT32)])
    it = Interpreter(model_content=data)
    it.allocate_tensors()
    it.set_tensor(0, np.array([1, 2, 3], np.int32))
    it.set_tensor(1, np.array([1, 0, 3], np.int32))
    with pytest.raises(InvalidModelError, match="division by zero"):
        it.invoke()


def test_pow_refuses_negative_integer_exponents():
    data = one_op_model(Op.POW, [inp((2,), T.INT32), inp((2,), T.INT32)], [out((2,), T.INT32)])
    it = Interpreter(model_content=data)
    it.allocate_tensors()
    it.set_tensor(0, np.array([2, 2], np.int32))
    it.set_tensor(1, np.array([3, -1], np.int32))
    with pytest.raises(InvalidModelError, match="negative exponents"):
        it.invoke()


@pytest.mark.parametrize("ttype", [T.FLOAT32, T.INT32])
def test_sign(ttype):
    rng = np.random.default_rng(3)
    x = _values(rng, (3, 4), ttype, low=-3, high=3)
    if ttype == T.FLOAT32:
        x[0, 0] = np.nan
        x[0, 1] = -0.0
    compare(one_op_model(Op.SIGN, [inp((3, 4), ttype)], [out((3, 4), ttype)]), feeds=[x], runs=1)


def test_relu_0_to_1():
    compare(one_op_model(Op.RELU_0_TO_1, [inp((3, 5))], [out((3, 5))]))


@pytest.mark.parametrize("ttype", [T.FLOAT32, T.INT32])
@pytest.mark.parametrize("n", [2, 4])
def test_add_n(ttype, n):
    data = one_op_model(Op.ADD_N, [inp((2, 3), ttype)] * n, [out((2, 3), ttype)])
    compare(data)


def test_add_n_of_one_input_is_refused_as_by_litert():
    data = one_op_model(Op.ADD_N, [inp((2, 3))], [out((2, 3))])
    with pytest.raises(InvalidModelError, match="at least two inputs"):
        Interpreter(model_content=data)


@pytest.mark.parametrize(
    "op, ttype, quant, options",
    [
        (Op.SIGN, T.FLOAT32, (None, None), None),
        (Op.RELU_0_TO_1, T.FLOAT32, (None, None), None),
        (Op.ABS, T.INT8, (0.05, -8), None),
        (Op.NEG, T.INT8, (0.05, -8), None),
        (Op.RELU, T.UINT8, (0.05, 120), None),
    ],
)
def test_zero_dimensional_tensors(op, ttype, quant, options):
    """0-d inputs: numpy ufuncs give scalars there, the kernels must still give arrays (the
    operators run on constants too, where their outputs are frozen)."""
    compare(one_op_model(op, [inp((), ttype, *quant)], [out((), ttype, *quant)], options))
    # the same operator on a constant: run once when the model is loaded (constant folding)
    x = np.asarray(_values(np.random.default_rng(0), (), ttype, low=-3, high=3), NP[ttype])
    folded = one_op_model(op, [const(x, ttype, *quant)], [out((), ttype, *quant)], options)
    it = Interpreter(model_content=folded)
    it.allocate_tensors()
    it.invoke()
    assert it.get_tensor(it.get_output_details()[0]["index"]).shape == ()


@pytest.mark.parametrize("op", [Op.ADD, Op.MUL, Op.ABS])
@pytest.mark.parametrize("ttype", [T.FLOAT32, T.INT32])
def test_constant_folding_of_zero_dimensional_results(op, ttype):
    """Constants folded at load may come back from numpy as scalars: they were frozen with
    ``flags.writeable``, an untyped ValueError for a scalar (found by a random one-op fuzz)."""
    n_in = 1 if op == Op.ABS else 2
    x = np.asarray(-3, NP[ttype])
    data = one_op_model(op, [const(x, ttype)] * n_in, [out((), ttype)], {})
    it = Interpreter(model_content=data)
    it.allocate_tensors()
    it.invoke()
    got = it.get_tensor(it.get_output_details()[0]["index"])
    want = {Op.ADD: x + x, Op.MUL: x * x, Op.ABS: abs(x)}[op]
    assert got.shape == () and got == want
