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
