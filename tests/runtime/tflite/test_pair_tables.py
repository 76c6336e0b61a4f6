"""int8 ADD, SUB and MUL read each output from a table of all 65,536 input pairs: checked on
every pair against LiteRT's reference kernels (several scales, zero points, activations), and
on 0-d inputs."""

from __future__ import annotations

import numpy as np
import pytest

from runtime import Interpreter
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite.test_kernels import check, inp, one_op_model, out

_ALL = np.arange(256, dtype=np.uint8).view(np.int8)


@pytest.mark.parametrize("op", [Op.ADD, Op.SUB, Op.MUL])
@pytest.mark.parametrize(
    "qa, qb, qo, act",
    [
        ((0.05, 1), (0.05, 1), (0.05, 1), 0),
        ((0.02, -128), (0.09, 17), (0.13, -3), 1),  # RELU
        ((0.5, 127), (0.003, -40), (0.011, 0), 3),  # RELU6
    ],
)
def test_every_pair_against_litert(op, qa, qb, qo, act):
    if op == Op.MUL:
        qo = (qa[0] * qb[0] * 40, qo[1])  # keep products in range
    data = one_op_model(
        op,
        [inp((256, 1), T.INT8, *qa), inp((1, 256), T.INT8, *qb)],
        [out((256, 256), T.INT8, *qo)],
        {"fused_activation_function": act},
        version=2,
    )
    check(data, feeds={0: _ALL.reshape(256, 1), 1: _ALL.reshape(1, 256)}, runs=1)


def test_zero_dimensional_inputs_give_arrays():
    data = one_op_model(
        Op.ADD,
        [inp((), T.INT8, 0.05, 1), inp((), T.INT8, 0.05, 1)],
        [out((), T.INT8, 0.05, 1)],
        {"fused_activation_function": 0},
        version=2,
    )
    check(data, feeds={0: np.array(7, np.int8), 1: np.array(-9, np.int8)}, runs=1)
    it = Interpreter(model_content=data)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], np.array(3, np.int8))
    it.set_tensor(it.get_input_details()[1]["index"], np.array(4, np.int8))
    it.invoke()
    y = it.get_tensor(it.get_output_details()[0]["index"])
    assert isinstance(y, np.ndarray) and y.shape == () and y.dtype == np.int8
