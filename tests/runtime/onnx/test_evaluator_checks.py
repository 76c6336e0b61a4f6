"""The run loop's shortcuts keep its checks: a node's schema type check runs once per
combination of input dtypes (a new combination is checked again), and a view of an input is
not counted twice against the memory budget while a fresh output is."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from runtime._budget import Budget, Limits, running
from runtime.errors import InvalidModelError
from runtime.onnx import InferenceSession
from runtime.onnx._evaluator import run_graph


def _session(op: str, inputs=("x", "x")) -> InferenceSession:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None])
    graph = helper.make_graph([helper.make_node(op, list(inputs), ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return InferenceSession(model.SerializeToString())


def test_a_new_dtype_combination_is_checked_again():
    graph = _session("Sqrt", ["x"])._planned
    a = np.arange(3, dtype=np.float32)
    with running(Budget()):
        np.testing.assert_array_equal(run_graph(graph, {"x": a})["y"], np.sqrt(a))
        run_graph(graph, {"x": a})  # the checked combination again
        for _ in range(2):  # Sqrt takes no int8, the first time and the next
            with pytest.raises(InvalidModelError, match="element type"):
                run_graph(graph, {"x": np.arange(3, dtype=np.int8)})


@pytest.mark.parametrize("op", ["Add", "Max"])
def test_fresh_outputs_are_counted(op):
    graph = _session(op)._planned
    a = np.ones(1000, np.float32)
    # 4000 bytes of input plus 4000 of fresh output: over a limit of 6000 bytes.
    budget = Budget(Limits(max_memory_bytes=6000))
    budget.hold(a.nbytes, "input")
    with running(budget), pytest.raises(InvalidModelError, match="max_memory_bytes"):
        run_graph(graph, {"x": a})


def test_a_view_of_an_input_is_not_counted_again():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 500])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1000])
    shape = helper.make_tensor("s", TensorProto.INT64, [1], [1000])
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["x", "s"], ["y"])], "g", [x], [y], [shape]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    planned = InferenceSession(model.SerializeToString())._planned
    a = np.ones((2, 500), np.float32)
    budget = Budget(Limits(max_memory_bytes=6000))
    budget.hold(a.nbytes, "input")
    with running(budget):
        assert run_graph(planned, {"x": a})["y"].base is not None


def test_a_sequence_where_a_tensor_is_taken_is_refused_after_tensors_passed():
    graph = _session("Relu", ["x"])._planned
    a = np.arange(3, dtype=np.float32)
    with running(Budget()):
        run_graph(graph, {"x": a})
        for _ in range(2):
            with pytest.raises(InvalidModelError, match="receives a sequence"):
                run_graph(graph, {"x": [a]})
