"""The Sequence ops against onnxruntime, on graphs whose outputs are tensors (sequences live
between nodes), and their refusals of bad positions and splits."""

import numpy as np
import onnxruntime
import pytest
from onnx import TensorProto, helper

from runtime.errors import InvalidModelError
from runtime.onnx import InferenceSession

FLOAT, INT64 = TensorProto.FLOAT, TensorProto.INT64
X = np.arange(24, dtype=np.float32).reshape(4, 3, 2)


def _model(nodes, outputs, extra_inputs=()):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", FLOAT, [4, 3, 2]), *extra_inputs],
        [helper.make_tensor_value_info(name, elem, None) for name, elem in outputs],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    return model.SerializeToString()


def _const(name, value):
    return helper.make_node(
        "Constant", [], [name], value=helper.make_tensor(name, INT64, np.shape(value), value)
    )


CASES = {
    "split_default_keepdims0": (
        [
            helper.make_node("SplitToSequence", ["x"], ["s"], axis=1, keepdims=0),
            helper.make_node("ConcatFromSequence", ["s"], ["y"], axis=0, new_axis=1),
            helper.make_node("SequenceLength", ["s"], ["n"]),
        ],
        [("y", FLOAT), ("n", INT64)],
    ),
    "split_scalar_uneven": (
        [
            _const("k", 3),
            helper.make_node("SplitToSequence", ["x", "k"], ["s"], axis=0),
            _const("p", -1),
            helper.make_node("SequenceAt", ["s", "p"], ["y"]),
            helper.make_node("SequenceLength", ["s"], ["n"]),
        ],
        [("y", FLOAT), ("n", INT64)],
    ),
    "split_lengths_erase_insert": (
        [
            _const("k", [1, 3]),
            helper.make_node("SplitToSequence", ["x", "k"], ["s"], axis=0),
            _const("zero", 0),
            helper.make_node("SequenceErase", ["s", "zero"], ["e"]),
            helper.make_node("SequenceInsert", ["e", "x", "zero"], ["i"]),
            helper.make_node("SequenceInsert", ["i", "x"], ["j"]),
            helper.make_node("ConcatFromSequence", ["j"], ["y"], axis=-3),
        ],
        [("y", FLOAT)],
    ),
    "empty_then_insert": (
        [
            helper.make_node("SequenceEmpty", [], ["s"], dtype=FLOAT),
            helper.make_node("SequenceInsert", ["s", "x"], ["t"]),
            helper.make_node("SequenceConstruct", ["x", "x"], ["u"]),
            helper.make_node("SequenceLength", ["t"], ["n"]),
            helper.make_node("ConcatFromSequence", ["u"], ["y"], axis=1),
        ],
        [("y", FLOAT), ("n", INT64)],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_onnxruntime(case):
    nodes, outputs = CASES[case]
    data = _model(nodes, outputs)
    expected = onnxruntime.InferenceSession(data).run(None, {"x": X})
    got = InferenceSession(data).run(None, {"x": X})
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize(
    ("nodes", "message"),
    [
        (
            [
                helper.make_node("SequenceConstruct", ["x"], ["s"]),
                _const("p", 1),
                helper.make_node("SequenceAt", ["s", "p"], ["y"]),
            ],
            "position 1 is out of range for a sequence of 1",
        ),
        (
            [
                _const("k", [1, 1]),
                helper.make_node("SplitToSequence", ["x", "k"], ["s"]),
                _const("p", 0),
                helper.make_node("SequenceAt", ["s", "p"], ["y"]),
            ],
            r"split \[1, 1\] does not add up to dim 4",
        ),
        (
            [
                helper.make_node("SequenceEmpty", [], ["s"]),
                helper.make_node("ConcatFromSequence", ["s"], ["y"], axis=0),
            ],
            "the sequence is empty",
        ),
    ],
)
def test_bad_values_are_refused(nodes, message):
    session = InferenceSession(_model(nodes, [("y", FLOAT)]))
    with pytest.raises(InvalidModelError, match=message):
        session.run(None, {"x": X})
