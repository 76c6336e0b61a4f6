"""The cheaper paths that TFLite Micro-sized models take (numpy's per-call costs exceed their
arithmetic there) give what the general ones give: the float error state, QUANTIZE's prepared
constants, the binary operators' operand shapes, set_tensor / get_tensor's shortcuts."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from runtime import Interpreter
from runtime._fperrors import quiet
from runtime.errors import InvalidInputError
from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels import arithmetic
from runtime.tflite.kernels.activations import _sigmoid32
from runtime.tflite.kernels.quantize import _affine_quantize, _quantizer
from runtime.tflite.schema import BuiltinOperator as Op
from tests.runtime.tflite.test_kernels import check, inp, one_op_model, out


def test_quiet_silences_float_errors_and_restores_the_callers_state():
    before = np.geterr()
    bufsize = np.getbufsize()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            np.setbufsize(16384)
            try:
                with quiet():
                    assert np.exp(np.float64(1000)) == np.inf
                    assert np.isnan(np.sqrt(np.float32(-1)))
                    assert np.getbufsize() == 16384  # the caller's other settings stay
                with pytest.raises(FloatingPointError):
                    np.exp(np.float64(1000))  # the enclosing state is back
            finally:
                np.setbufsize(bufsize)
    assert np.geterr() == before


def test_logistic_on_few_values_is_silent_and_an_array():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for x in (np.array(-1000.0, np.float32), np.array([[3.0]], np.float32)):
            y = _sigmoid32(x)
            assert type(y) is np.ndarray and y.dtype == np.float32 and y.shape == x.shape
    with np.errstate(all="ignore"):
        for x in (np.array(-1000.0, np.float32), np.array([[3.0]], np.float32)):
            e = np.float32(np.exp(-x.astype(np.float64)))
            np.testing.assert_array_equal(_sigmoid32(x), np.float32(1) / (np.float32(1) + e))


@pytest.mark.parametrize("dtype", [np.int8, np.int16])
def test_prepared_quantize_equals_affine_quantize(dtype):
    rng = np.random.default_rng(1)
    info = np.iinfo(dtype)
    for _ in range(40):
        scale = np.float32(10 ** rng.uniform(-4, 1))
        zp = int(rng.integers(-128, 128)) if dtype == np.int8 else 0
        k = rng.integers(-40000, 40000, 200)
        ties = ((k + 0.5) * np.float64(scale)).astype(np.float32)
        x = np.concatenate(
            [
                (rng.standard_normal(300) * scale * rng.choice([1, 100, 1e4])),
                ties,
                np.nextafter(ties, np.float32(np.inf)),
                np.nextafter(ties, np.float32(-np.inf)),
                [0.0, -0.0],
            ]
        ).astype(np.float32)
        quantize = _quantizer(scale, zp, info)
        np.testing.assert_array_equal(quantize(x), _affine_quantize(x, scale, zp, info))
        with np.errstate(over="ignore"):  # (the range test's sum of squares overflows)
            for special in (np.nan, np.inf, -np.inf, 1e30):
                xs = np.array([special, 1.0], np.float32)
                np.testing.assert_array_equal(quantize(xs), _affine_quantize(xs, scale, zp, info))


_SHAPES = [(), (1,), (1, 1), (64,), (1, 64), (4, 64), (1, 1, 64), (4, 1), (3, 4, 64)]


@pytest.mark.parametrize("fn", [np.subtract, np.divide])
def test_binary_operand_plans_equal_broadcasting(fn):
    run = arithmetic._float_or_int(None, c.F32, 0, fn)
    rng = np.random.default_rng(2)
    for sa, sb in itertools.product(_SHAPES, repeat=2):
        try:
            want_shape = np.broadcast_shapes(sa, sb)
        except ValueError:
            continue
        a = rng.standard_normal(sa).astype(np.float32) + 3
        b = rng.standard_normal(sb).astype(np.float32) + 3
        for _ in range(2):  # planned, then from the plan
            (y,) = run(a, b)
            assert type(y) is np.ndarray and y.shape == want_shape, (sa, sb)
            np.testing.assert_array_equal(y, fn(a, b))


def test_small_mul_with_a_one_value_operand_matches_litert():
    data = one_op_model(Op.MUL, [inp((1, 64)), inp((1, 1))], [out((1, 64))])
    check(data)
    data = one_op_model(Op.SUB, [inp((1, 1)), inp((64,))], [out((1, 64))])
    check(data)


def test_set_and_get_tensor_shortcuts_copy_and_check():
    data = one_op_model(Op.RELU, [inp((1, 4))], [out((1, 4))])
    it = Interpreter(model_content=data)
    it.allocate_tensors()
    i = it.get_input_details()[0]["index"]
    o = it.get_output_details()[0]["index"]
    x = np.array([[-1.0, 2.0, -3.0, 4.0]], np.float32)
    it.set_tensor(i, x)
    x[0, 1] = 100.0  # the interpreter holds its own copy
    it.invoke()
    y = it.get_tensor(o)
    np.testing.assert_array_equal(y, [[0.0, 2.0, 0.0, 4.0]])
    y[...] = 7.0  # and hands out copies
    np.testing.assert_array_equal(it.get_tensor(o), [[0.0, 2.0, 0.0, 4.0]])
    np.testing.assert_array_equal(it.get_tensor(i), [[-1.0, 2.0, -3.0, 4.0]])
    with pytest.raises(InvalidInputError, match="Got value of type FLOAT64"):
        it.set_tensor(i, x.astype(np.float64))
    with pytest.raises(InvalidInputError, match="Dimension mismatch"):
        it.set_tensor(i, np.zeros((1, 5), np.float32))
    with pytest.raises(InvalidInputError, match="exceeds max tensor index"):
        it.get_tensor(99)


def test_invoke_computes_like_c_whatever_numpys_float_error_setting():
    """LiteRT's arithmetic overflows (then clamped to +-FLT_MAX by its activation range) and
    divides by zero silently; an invoke does the same under ``np.errstate(all="raise")`` and
    warnings as errors, and leaves them set."""
    data = one_op_model(Op.MUL, [inp((1, 3)), inp((1, 3))], [out((1, 3))])
    it = Interpreter(model_content=data)
    it.allocate_tensors()
    a, b = (d["index"] for d in it.get_input_details())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            it.set_tensor(a, np.array([[3e38, -3e38, 1.0]], np.float32))
            it.set_tensor(b, np.array([[10.0, 10.0, np.nan]], np.float32))
            it.invoke()
            y = it.get_tensor(it.get_output_details()[0]["index"])
            assert np.geterr() == {k: "raise" for k in ("divide", "over", "under", "invalid")}
    flt_max = np.finfo(np.float32).max
    np.testing.assert_array_equal(y, [[flt_max, -flt_max, np.nan]])
