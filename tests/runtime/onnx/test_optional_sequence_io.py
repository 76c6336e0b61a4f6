"""Sequence and optional values as graph inputs and outputs, the Optional ops and SequenceMap,
against onnxruntime's Python API: a sequence is fed and returned as a list of arrays, an optional as
its content or None when empty; get_inputs/get_outputs spell their types as onnxruntime does
(``seq(tensor(float))``, ``optional(...)``). Bad feeds are InvalidInputError."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from runtime.errors import InvalidInputError, InvalidModelError
from runtime.onnx import InferenceSession
from tests.runtime.onnx.helpers import ort_session

F = TensorProto.FLOAT
TENSOR = helper.make_tensor_type_proto(F, [2])
OPT_TENSOR = helper.make_optional_type_proto(TENSOR)
SEQ = helper.make_sequence_type_proto(helper.make_tensor_type_proto(F, None))
OPT_SEQ = helper.make_optional_type_proto(SEQ)
BOOL = helper.make_tensor_type_proto(TensorProto.BOOL, [])


def _model(nodes, inputs, outputs, opset=18):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_value_info(n, t) for n, t in inputs],
        [helper.make_value_info(n, t) for n, t in outputs],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=9)


def _node(op, inputs, outputs=("y",), **attrs):
    return helper.make_node(op, list(inputs), list(outputs), **attrs)


ONES, SEQ_VALUE = np.ones(2, np.float32), [np.ones(2, np.float32), np.arange(3, dtype=np.float32)]

# (id, model, feeds to try)
CASES = [
    ("has_element_optional_tensor", _model([_node("OptionalHasElement", "x")],
                                           [("x", OPT_TENSOR)], [("y", BOOL)]),
     [{"x": ONES}, {"x": None}]),
    ("has_element_opset15", _model([_node("OptionalHasElement", "x")], [("x", OPT_SEQ)],
                                   [("y", BOOL)], opset=15),
     [{"x": SEQ_VALUE}, {"x": None}, {"x": []}]),
    ("get_element_optional_sequence", _model([_node("OptionalGetElement", "x")],
                                             [("x", OPT_SEQ)], [("y", SEQ)]),
     [{"x": SEQ_VALUE}]),
    ("optional_empty_output", _model([_node("Optional", [], type=TENSOR)], [],
                                     [("y", OPT_TENSOR)]), [{}]),
    ("optional_wraps_tensor", _model([_node("Optional", "x")], [("x", TENSOR)],
                                     [("y", OPT_TENSOR)]), [{"x": ONES}]),
    ("sequence_in_and_out", _model([_node("SequenceInsert", "sx")], [("s", SEQ), ("x", TENSOR)],
                                   [("y", SEQ)]),
     [{"s": SEQ_VALUE, "x": ONES}, {"s": [], "x": ONES}]),
    ("identity_of_sequence", _model([_node("Identity", "s")], [("s", SEQ)], [("y", SEQ)]),
     [{"s": SEQ_VALUE}]),
    ("sequence_map_with_tensor_and_sequence",
     _model([_node("SequenceMap", ["s", "t", "u"], ["y", "z"], body=helper.make_graph(
         [_node("Add", ["a", "b"], ["p"]), _node("Mul", ["p", "c"], ["q"])], "body",
         [helper.make_tensor_value_info(n, F, None) for n in "abc"],
         [helper.make_tensor_value_info(n, F, None) for n in "pq"]))],
         [("s", SEQ), ("t", helper.make_tensor_type_proto(F, [1])), ("u", SEQ)],
         [("y", SEQ), ("z", SEQ)]),
     [{"s": SEQ_VALUE, "t": np.array([2], np.float32), "u": [np.float32([3]), np.float32([4])]},
      {"s": [], "t": np.array([2], np.float32), "u": []}]),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_matches_onnxruntime(case):
    _, model, feed_list = case
    ort = ort_session(model)
    ours = InferenceSession(model.SerializeToString())
    for mine, theirs in ((ours.get_inputs(), ort.get_inputs()), (ours.get_outputs(),
                                                                  ort.get_outputs())):  # fmt: skip
        assert [(a.name, a.type, a.shape) for a in mine] == [
            (a.name, a.type, a.shape) for a in theirs
        ]
    for feeds in feed_list:
        _assert_same(ours.run(None, feeds), ort.run(None, feeds))


def _assert_same(got, expected):
    if expected is None or isinstance(expected, list):
        assert type(got) is type(expected)
        for g, e in zip(got or [], expected or [], strict=True):
            _assert_same(g, e)
        return
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_sequence_outputs_are_fresh_arrays():
    model = _model([_node("Identity", "s")], [("s", SEQ)], [("y", SEQ)])
    feed = [np.ones(2, np.float32)]
    (y,) = InferenceSession(model.SerializeToString()).run(None, {"s": feed})
    y[0][0] = 7
    assert feed[0][0] == 1  # the caller may modify outputs without touching its feeds


@pytest.mark.parametrize(
    "feed, match",
    [
        (np.ones(2, np.float32), "feed a list of arrays"),
        ([np.ones(2, np.int64)], "data type"),
        ("abc", "feed a list of arrays"),
    ],
)
def test_bad_sequence_feeds_are_input_errors(feed, match):
    model = _model([_node("Identity", "s")], [("s", SEQ)], [("y", SEQ)])
    with pytest.raises(InvalidInputError, match=match):
        InferenceSession(model.SerializeToString()).run(None, {"s": feed})


def test_get_element_of_an_empty_optional_is_refused():
    model = _model([_node("OptionalGetElement", "x")], [("x", OPT_TENSOR)], [("y", TENSOR)])
    with pytest.raises(InvalidModelError, match="empty"):
        InferenceSession(model.SerializeToString()).run(None, {"x": None})
