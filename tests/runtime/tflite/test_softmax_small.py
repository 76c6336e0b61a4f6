"""int8 SOFTMAX of a few class scores (``softmax.softmax_int8_small``, Python integers with
the fixed-point helpers written out) gives LiteRT's reference kernel's result exactly."""

from __future__ import annotations

import numpy as np
import pytest

from runtime import Interpreter
from runtime.tflite.kernels import softmax
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._litert import litert_interpreter
from tests.runtime.tflite.test_kernels import inp, one_op_model, out


@pytest.mark.parametrize("s_in, beta", [(0.5, 1.0), (2.0, 2.0), (1e-3, 1.0), (0.1, 0.5)])
def test_small_int8_softmax_equals_litert_on_far_apart_scores(s_in, beta):
    """The Python-integer path of a few class scores (``softmax_int8_small``): scores far below
    the row's maximum (exponentials below diff_min give -128), ties, saturated rows."""
    depth = 5
    data = one_op_model(
        Op.SOFTMAX,
        [inp((1, depth), T.INT8, s_in, 3)],
        [out((1, depth), T.INT8, 1 / 256, -128)],
        {"beta": beta},
        version=2,
    )
    ours, ref = Interpreter(model_content=data), litert_interpreter(model_content=data)
    ours.allocate_tensors()
    ref.allocate_tensors()
    rng = np.random.default_rng(4)
    rows = [
        [127, -128, 0, 126, -127],
        [5, 5, 5, 5, 5],
        [-128, -128, -128, -128, -127],
        [127, 127, -128, 120, 100],
        *rng.integers(-128, 128, (20, depth)).tolist(),
    ]
    for row in rows:
        x = np.array([row], np.int8)
        assert x.size <= softmax.SMALL_INPUT_ELEMENTS
        for it in (ours, ref):
            it.set_tensor(0, x)
            it.invoke()
        np.testing.assert_array_equal(ours.get_tensor(1), ref.get_tensor(1))
