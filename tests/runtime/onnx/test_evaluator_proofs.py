"""A graph's proven runs (``runtime.onnx._evaluator._Proofs``: type checks skipped for outside
values of dtypes that passed them) are used for subgraphs and the session's main graph only:
a graph whose feeds are not its declared inputs (the plan's "nodes as written" fallbacks feed
them by name) checks each new dtype combination again; a main graph with an If keeps its
checks while its branches' output types repeat, and resumes them when they change."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from runtime._budget import Budget, running
from runtime.errors import InvalidModelError
from runtime.onnx import InferenceSession
from runtime.onnx._evaluator import run_graph
from runtime.onnx._graph import Graph

FLOAT = TensorProto.FLOAT


def _if_model():
    then = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["t"])],
        "then",
        [],
        [helper.make_tensor_value_info("t", FLOAT, None)],
    )
    other = helper.make_graph(
        [helper.make_node("Abs", ["x"], ["e"])],
        "else",
        [],
        [helper.make_tensor_value_info("e", FLOAT, None)],
    )
    graph = helper.make_graph(
        [
            helper.make_node("If", ["cond"], ["branch"], then_branch=then, else_branch=other),
            helper.make_node("Relu", ["branch"], ["y"]),
        ],
        "if",
        [
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x", FLOAT, [2]),
        ],
        [helper.make_tensor_value_info("y", FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def test_undeclared_feeds_are_checked_at_each_new_dtype():
    session = InferenceSession(_if_model())
    relu = next(n for n in session._planned.nodes if n.op_type == "Relu")
    graph = Graph("relu as written", [], [], {}, [relu])  # no declared inputs
    with running(Budget()):
        a = np.array([-1.0, 2.0], np.float32)
        for _ in range(2):
            np.testing.assert_array_equal(run_graph(graph, {"branch": a})["y"], [0, 2])
        for _ in range(2):  # Relu takes no bool, the first time and the next
            with pytest.raises(InvalidModelError, match="element type"):
                run_graph(graph, {"branch": np.array([True, False])})


def test_a_main_graph_with_an_if_is_proven_per_feed_dtypes():
    session = InferenceSession(_if_model())
    x = np.array([-1.0, 2.0], np.float32)
    for _ in range(3):
        for cond, expected in ((True, [1, 0]), (False, [1, 2])):
            got = session.run(None, {"cond": np.array(cond), "x": x})[0]
            np.testing.assert_array_equal(got, expected)
    proofs = session._planned.steps[2]
    assert len(proofs.runs) == 1  # one feed dtype combination, both branches' float outputs
    assert len(session._fast) == 1 and session._fast[next(iter(session._fast))][1] is False
