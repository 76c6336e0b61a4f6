"""``InferenceSession.run`` checks feeds and types once per feed signature (names, dtypes and
shapes of arrays accepted as they are): every other feed is still checked and refused."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from runtime.errors import InvalidInputError, InvalidModelError
from runtime.onnx import InferenceSession
from runtime.onnx._evaluator import types_follow_feeds


def _add_model(shape=(2, 3)):
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "c"], ["y"])],
        "add",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [helper.make_tensor("c", TensorProto.FLOAT, [], [1.5])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def test_a_remembered_signature_does_not_let_other_feeds_through():
    session = InferenceSession(_add_model())
    x = np.ones((2, 3), np.float32)
    for _ in range(2):  # the second run takes the remembered signature
        np.testing.assert_array_equal(session.run(None, {"x": x})[0], x + 1.5)
    assert len(session._accepted) == 1 and len(session._fast) == 1
    bad_feeds = [
        {"x": x.astype(np.float64)},  # wrong dtype
        {"x": np.ones((3, 3), np.float32)},  # wrong shape
        {"x": np.ones((2, 3, 1), np.float32)},  # wrong rank
        {},  # missing
        {"x": x, "z": x},  # unknown
    ]
    for feeds in bad_feeds:
        with pytest.raises(InvalidInputError):
            session.run(None, feeds)
    with pytest.raises(InvalidInputError):
        session.run(["nope"], {"x": x})
    assert len(session._accepted) == 1


def test_each_run_gets_its_own_output_array():
    session = InferenceSession(_add_model())
    x = np.ones((2, 3), np.float32)
    a, b = session.run(None, {"x": x})[0], session.run(None, {"x": x})[0]
    assert a is not b and not np.shares_memory(a, b) and not np.shares_memory(a, x)


def test_graphs_whose_types_depend_on_values_are_checked_at_every_run():
    then = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["t"])],
        "then",
        [],
        [helper.make_tensor_value_info("t", TensorProto.FLOAT, None)],
    )
    other = helper.make_graph(
        [helper.make_node("Cast", ["x"], ["e"], to=TensorProto.INT64)],
        "else",
        [],
        [helper.make_tensor_value_info("e", TensorProto.INT64, None)],
    )
    graph = helper.make_graph(
        [
            helper.make_node("If", ["cond"], ["branch"], then_branch=then, else_branch=other),
            helper.make_node("Sqrt", ["branch"], ["y"]),
        ],
        "if",
        [
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [2]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    session = InferenceSession(model.SerializeToString())
    assert not types_follow_feeds(session._planned)
    x = np.array([4.0, 9.0], np.float32)
    np.testing.assert_array_equal(session.run(None, {"cond": np.array(True), "x": x})[0], [2, 3])
    # The same feed signature, another branch: Sqrt's type check still refuses int64.
    with pytest.raises(InvalidModelError, match="Sqrt"):
        session.run(None, {"cond": np.array(False), "x": x})
