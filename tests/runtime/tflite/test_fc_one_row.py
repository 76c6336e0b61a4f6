"""int8 FULLY_CONNECTED on one row of a few units skips the kernel's own budget test: the
executor's charge of the output still refuses a run over ``max_memory_bytes``, naming the
operator; results stay LiteRT's reference kernel's, with keep_num_dims either way."""

from __future__ import annotations

import numpy as np
import pytest

from runtime import BudgetExceededError, Interpreter, Limits
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite.test_kernels import check, const, inp, one_op_model, out


def _model(units=24, depth=10, keep=False, in_shape=(1, 10)):
    rng = np.random.default_rng(5)
    w = rng.integers(-127, 128, (units, depth))
    b = rng.integers(-3000, 3000, units)
    out_shape = (*in_shape[:-1], units) if keep else (int(np.prod(in_shape)) // depth, units)
    return one_op_model(
        Op.FULLY_CONNECTED,
        [
            inp(in_shape, T.INT8, 0.05, -3),
            const(w, T.INT8, 0.01, 0),
            const(b, T.INT32, 0.05 * 0.01, 0),
        ],
        [out(out_shape, T.INT8, 0.2, 4)],
        {"keep_num_dims": keep},
    )


@pytest.mark.parametrize("keep, in_shape", [(False, (1, 10)), (True, (1, 10)), (True, (1, 2, 10))])
def test_one_row_and_keep_dims_equal_litert(keep, in_shape):
    check(_model(keep=keep, in_shape=in_shape), runs=4)


def test_one_row_output_over_the_memory_limit_is_refused_naming_the_operator():
    data = _model(units=24)
    x = np.ones((1, 10), np.int8)
    # the input (10 bytes) fits, the output (24 bytes) does not
    it = Interpreter(model_content=data, limits=Limits(max_memory_bytes=30))
    it.allocate_tensors()
    it.set_tensor(0, x)
    with pytest.raises(BudgetExceededError, match=r"FULLY_CONNECTED.*max_memory_bytes"):
        it.invoke()
    roomy = Interpreter(model_content=data, limits=Limits(max_memory_bytes=34))
    roomy.allocate_tensors()
    roomy.set_tensor(0, x)
    roomy.invoke()
    assert roomy.get_tensor(3).shape == (1, 24)


@pytest.mark.parametrize("per_channel", [False, True])
def test_float32_gemm_of_mid_sized_weights_is_exact_at_the_extremes(per_channel):
    """Weights of 100 x 100 (above SMALL_WEIGHTS) multiply in float32: exact while every
    accumulator stays below 2^24 (here up to 100 * 127 * 128), saturated inputs included."""
    from runtime.tflite.kernels import fully_connected

    units = depth = 100
    assert units * depth > fully_connected.SMALL_WEIGHTS
    rng = np.random.default_rng(9)
    w = rng.choice([-127, 127], (units, depth))
    w[::7] = 127  # rows of one sign: the largest accumulators
    scale = list(rng.uniform(0.001, 0.01, units)) if per_channel else 0.004
    zp = [0] * units if per_channel else 0
    b = rng.integers(-10000, 10000, units)
    b_scale = [0.03 * s for s in scale] if per_channel else 0.03 * scale
    data = one_op_model(
        Op.FULLY_CONNECTED,
        [
            inp((1, depth), T.INT8, 0.03, -1),
            const(w, T.INT8, scale, zp),
            const(b, T.INT32, b_scale, zp),
        ],
        [out((1, units), T.INT8, 9.0, 2)],
        version=5,
    )
    feeds = [{0: np.full((1, depth), v, np.int8)} for v in (-128, 127)] + [
        {0: rng.integers(-128, 128, (1, depth)).astype(np.int8)}
    ]
    for f in feeds:
        check(data, feeds=f, runs=1)


def _float_model(keep=False, in_shape=(1, 10), units=24):
    rng = np.random.default_rng(6)
    w = rng.normal(0, 1, (units, 10)).astype(np.float32)
    b = rng.normal(0, 1, units).astype(np.float32)
    out_shape = (*in_shape[:-1], units) if keep else (int(np.prod(in_shape)) // 10, units)
    return one_op_model(
        Op.FULLY_CONNECTED,
        [inp(in_shape), const(w), const(b)],
        [out(out_shape)],
        {"keep_num_dims": keep, "fused_activation_function": 3},  # RELU6
    )


@pytest.mark.parametrize("keep, in_shape", [(False, (1, 10)), (True, (1, 10)), (True, (1, 2, 10))])
def test_float_one_row_and_keep_dims_equal_litert(keep, in_shape):
    check(_float_model(keep, in_shape), runs=3)


def test_float_one_row_output_over_the_memory_limit_is_refused_naming_the_operator():
    data = _float_model()
    x = np.ones((1, 10), np.float32)
    it = Interpreter(model_content=data, limits=Limits(max_memory_bytes=100))  # 40 + 96 bytes
    it.allocate_tensors()
    it.set_tensor(0, x)
    with pytest.raises(BudgetExceededError, match=r"FULLY_CONNECTED.*max_memory_bytes"):
        it.invoke()
