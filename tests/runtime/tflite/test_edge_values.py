"""Edge cases checked against the real LiteRT interpreter: NaN, +-inf and out-of-range floats
through an int8 model's QUANTIZE (its reference kernel exactly), and ``set_tensor`` on a
constant tensor (LiteRT writes into the caller's model bytes; this runtime refuses)."""

import numpy as np
import pytest

from runtime import Interpreter
from runtime.errors import InvalidInputError
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._builder import GraphBuilder
from tests.runtime.tflite._litert import litert, litert_interpreter

VALUES = np.array(
    [np.nan, -np.nan, np.inf, -np.inf, 1e30, -1e30, 3e9, -3e9, 2.2e9, -2.2e9, 1.0, -1.0, 0.0],
    np.float32,
)


def _quantize_model(scale: float, zero_point: int) -> bytes:
    g = GraphBuilder()
    x = g.add([len(VALUES)], name="x")
    y = g.add([len(VALUES)], T.INT8, name="y", scale=scale, zero_point=zero_point)
    g.op(Op.QUANTIZE, [x], [y])
    return g.finish([x], [y])


@pytest.mark.parametrize("zero_point", [0, 5, 127, -5, -128])
@pytest.mark.parametrize("scale", [1.0, 0.5, 1e-3])
def test_quantize_of_nan_and_inf_matches_litert_reference_kernels(scale, zero_point):
    data = _quantize_model(scale, zero_point)
    ref = litert_interpreter(model_content=data)
    ours = Interpreter(model_content=data)
    for it in (ref, ours):
        it.allocate_tensors()
        it.set_tensor(0, VALUES)
        it.invoke()
    np.testing.assert_array_equal(ours.get_tensor(1), ref.get_tensor(1))


def _add_constant_model() -> bytes:
    g = GraphBuilder()
    x = g.add([2], name="x")
    c = g.add([2], name="c", data=[1.5, 2.5])
    y = g.add([2], name="y")
    g.op(Op.ADD, [x, c], [y])
    return g.finish([x], [y])


def test_set_tensor_on_a_constant_is_refused_where_litert_rewrites_the_model_bytes():
    data = _add_constant_model()
    # LiteRT accepts the call and writes into the buffer of the model_content it was given:
    # a second interpreter made from the very same bytes object computes with the new value.
    shared = bytes(bytearray(data))  # LiteRT's own copy, so that ``data`` stays intact
    ref = litert.Interpreter(model_content=shared)
    ref.allocate_tensors()
    ref.set_tensor(1, np.array([7, 8], np.float32))
    other = litert.Interpreter(model_content=shared)
    other.allocate_tensors()
    other.set_tensor(0, np.zeros(2, np.float32))
    other.invoke()
    np.testing.assert_array_equal(other.get_tensor(2), [7, 8])
    # This runtime refuses, naming the tensor, and the model keeps its constant.
    ours = Interpreter(model_content=data)
    ours.allocate_tensors()
    with pytest.raises(InvalidInputError, match=r"tensor 1 \('c'\) is a constant of the model"):
        ours.set_tensor(1, np.array([7, 8], np.float32))
    ours.set_tensor(0, np.zeros(2, np.float32))
    ours.invoke()
    np.testing.assert_array_equal(ours.get_tensor(2), [1.5, 2.5])


def test_set_tensor_on_an_output_is_kept_until_the_next_invoke_as_in_litert():
    data = _add_constant_model()
    ref, ours = (
        litert.Interpreter(model_content=bytes(bytearray(data))),
        Interpreter(model_content=data),
    )
    for it in (ref, ours):
        it.allocate_tensors()
        it.set_tensor(2, np.array([5, 5], np.float32))
    np.testing.assert_array_equal(ours.get_tensor(2), ref.get_tensor(2))


@pytest.mark.parametrize("op", [Op.MAXIMUM, Op.MINIMUM])
def test_float_maximum_minimum_of_nan_and_signed_zeros_match_litert_reference_kernels(op):
    # The reference kernels compare a > b ? a : b (a < b ? a : b): a NaN first operand gives
    # the second, and of equal values the second comes out.
    a = np.array([np.nan, 1.0, np.nan, -0.0, 0.0, np.inf, 2.0, -np.inf], np.float32)
    b = np.array([1.0, np.nan, np.nan, 0.0, -0.0, 1.0, 3.0, np.nan], np.float32)
    g = GraphBuilder()
    x, y, z = (g.add([len(a)], name=n) for n in "xyz")
    g.op(op, [x, y], [z])
    data = g.finish([x, y], [z])
    outputs = []
    for it in (litert_interpreter(model_content=data), Interpreter(model_content=data)):
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], a)
        it.set_tensor(it.get_input_details()[1]["index"], b)
        it.invoke()
        outputs.append(it.get_tensor(it.get_output_details()[0]["index"]))
    ref, ours = outputs
    np.testing.assert_array_equal(ours, ref)  # (NaN where NaN)
    np.testing.assert_array_equal(np.signbit(ours), np.signbit(ref))
