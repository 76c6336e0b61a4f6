"""Two things converted ONNX models carry (openWakeWord's hey_jarvis_v0.1.tflite, written by
onnx-tf and TFLiteConverter): an empty constant stored as a zero-element tensor with an empty
buffer that no operator writes, and FULLY_CONNECTED layers whose float weights arrive as inputs
(an If branch's subgraph inputs). Both run as in LiteRT's reference kernels; a non-empty tensor
that nothing produces is still a dangling reference."""

from __future__ import annotations

import numpy as np
import pytest

from runtime import Interpreter
from runtime.errors import InvalidModelError, UnsupportedOpError
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._builder import GraphBuilder
from tests.runtime.tflite._litert import litert_interpreter, run_both


def _reshape_to_scalar(shape=(0,), shape_signature=None):
    """RESHAPE of a [1, 1] input by a shape tensor of ``shape`` with no data: dims [0] mean a
    scalar output."""
    g = GraphBuilder()
    x = g.add([1, 1], name="x")
    empty = g.add(list(shape), T.INT32, name="empty_shape")
    if shape_signature is not None:
        g.tensors[empty]["shape_signature"] = list(shape_signature)
    y = g.add([], name="y")
    g.op(Op.RESHAPE, [x, empty], [y], {"new_shape": []})
    return g.finish([x], [y])


def test_empty_tensor_that_nothing_writes_is_an_empty_constant():
    data = _reshape_to_scalar()
    ours = Interpreter(model_content=data, experimental_preserve_all_tensors=True)
    ref = litert_interpreter(model_content=data)
    x = np.array([[2.5]], np.float32)
    run_both(ours, ref, {0: x})
    out = ours.get_output_details()[0]["index"]
    got, expected = ours.get_tensor(out), ref.get_tensor(out)
    assert got.shape == expected.shape == ()
    np.testing.assert_array_equal(got, expected)
    empty = ours.get_tensor(1)
    assert empty.shape == (0,) and empty.dtype == np.int32


def test_non_empty_tensor_that_nothing_writes_is_still_dangling():
    with pytest.raises(InvalidModelError, match="used before any operator produces it"):
        Interpreter(model_content=_reshape_to_scalar(shape=(2,)))


def test_empty_only_through_a_dynamic_dimension_is_still_dangling():
    # Shape [0] with signature [-1]: the tensor is empty only at the size it was stored with;
    # a value that some other size would need is missing, so it is not a constant.
    with pytest.raises(InvalidModelError, match="used before any operator produces it"):
        Interpreter(model_content=_reshape_to_scalar(shape_signature=(-1,)))


def _fully_connected(weights_type=T.FLOAT32, bias=True, keep_num_dims=False):
    g = GraphBuilder()
    x = g.add([2, 3, 4], name="x")
    w = g.add([5, 4], weights_type, name="w")
    inputs = [x, w]
    if bias:
        inputs.append(g.add([5], name="b"))
    y = g.add([2, 3, 5] if keep_num_dims else [6, 5], name="y")
    options = {"fused_activation_function": 1, "keep_num_dims": keep_num_dims}  # RELU
    g.op(Op.FULLY_CONNECTED, inputs, [y], options)
    return g.finish(inputs, [y])


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("keep_num_dims", [True, False])
def test_fully_connected_with_weights_as_inputs(bias, keep_num_dims):
    data = _fully_connected(bias=bias, keep_num_dims=keep_num_dims)
    ours = Interpreter(model_content=data, experimental_preserve_all_tensors=True)
    ref = litert_interpreter(model_content=data)
    rng = np.random.default_rng(7)
    feeds = {
        d["index"]: rng.uniform(-1, 1, d["shape"]).astype(np.float32)
        for d in ref.get_input_details()
    }
    run_both(ours, ref, feeds)
    out = ours.get_output_details()[0]["index"]
    expected = ref.get_tensor(out)
    assert (expected > 0).any() and (expected == 0).any()  # the RELU clips some, not all
    np.testing.assert_allclose(ours.get_tensor(out), expected, rtol=1e-6, atol=1e-6)


def test_fully_connected_with_integer_weights_as_inputs_is_refused():
    with pytest.raises(UnsupportedOpError, match="weights must be a constant tensor"):
        Interpreter(model_content=_fully_connected(T.INT8, bias=False)).allocate_tensors()
