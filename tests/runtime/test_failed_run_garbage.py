"""A run that fails leaves no reference cycle behind: the tensors it made are freed when the
exception is, not whenever Python's cyclic collector next runs (a refused loop's values can be
hundreds of MB). A frame holding the relabelled exception is on that exception's traceback, a
cycle through every local of the run; both runtimes raise through ``raise_relabelled``, which
keeps none."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from onnx import TensorProto, helper

from runtime import Interpreter
from runtime.errors import InvalidModelError
from runtime.onnx import InferenceSession
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._builder import GraphBuilder

N = 1 << 16  # the intermediate a failed run makes


def _tflite_add_then_bad_reshape() -> bytes:
    g = GraphBuilder()
    x = g.add([N], name="x")
    doubled = g.add([N], name="doubled")
    shape = g.add([1], T.INT32, name="shape", data=np.array([3], np.int32))
    y = g.add([3], name="y")
    g.op(Op.ADD, [x, x], [doubled])
    g.op(Op.RESHAPE, [doubled, shape], [y], {"new_shape": [3]})
    return g.finish([x], [y])


def _onnx_add_then_bad_reshape() -> bytes:
    graph = helper.make_graph(
        [
            helper.make_node("Add", ["x", "x"], ["doubled"]),
            helper.make_node("Reshape", ["doubled", "shape"], ["y"]),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [N])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])],
        [helper.make_tensor("shape", TensorProto.INT64, [1], [3])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _tflite_run():
    interpreter = Interpreter(model_content=_tflite_add_then_bad_reshape())
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], np.ones(N, np.float32))
    return interpreter.invoke


def _onnx_run():
    session = InferenceSession(_onnx_add_then_bad_reshape())
    return lambda: session.run(None, {"x": np.ones(N, np.float32)})


@pytest.mark.parametrize("make_run", [_tflite_run, _onnx_run], ids=["tflite", "onnx"])
def test_a_failed_run_leaves_no_cyclic_garbage(make_run):
    assert_failed_runs_leave_no_cycles(make_run(), "cannot reshape", "Reshape")


def assert_failed_runs_leave_no_cycles(run, *phrases: str) -> None:
    """``run()``, three times with the cyclic collector off, raises InvalidModelError (its
    message containing one of ``phrases``) and leaves nothing for the collector."""
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            # (not pytest.raises: its ExceptionInfo in this frame would be a cycle of its own)
            try:
                run()
            except InvalidModelError as e:
                assert any(p in str(e) for p in phrases)
            else:
                pytest.fail("the run did not fail")
        assert gc.collect() == 0
    finally:
        if enabled:
            gc.enable()
