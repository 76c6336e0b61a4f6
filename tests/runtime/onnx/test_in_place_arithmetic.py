"""Arithmetic on a fresh result that nothing else reads overwrites it
(``runtime.onnx._plan._in_place_arithmetic``): the same bits as the graph as written, and
values read elsewhere (graph outputs, feeds, weights) untouched."""

import numpy as np
from onnx import TensorProto, helper

from runtime.onnx import InferenceSession

FLOAT = TensorProto.FLOAT


def _model(extra_output=False):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
    # (per channel and per column: a per-channel constant would be folded into the Conv)
    scale = rng.standard_normal((1, 8, 1, 16)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Mul", ["c", "scale"], ["m"]),
        helper.make_node("Add", ["m", "x8"], ["a"]),  # a feed as the other operand
        helper.make_node("Div", ["a", "two"], ["d"]),
        helper.make_node("Sub", ["d", "scale"], ["y"]),
    ]
    outputs = [helper.make_tensor_value_info("y", FLOAT, None)]
    if extra_output:
        outputs.append(helper.make_tensor_value_info("m", FLOAT, None))
    graph = helper.make_graph(
        nodes,
        "in_place",
        [
            helper.make_tensor_value_info("x", FLOAT, [2, 3, 16, 16]),
            helper.make_tensor_value_info("x8", FLOAT, [2, 8, 16, 16]),
        ],
        outputs,
        [
            helper.make_tensor("w", FLOAT, w.shape, w.flatten()),
            helper.make_tensor("scale", FLOAT, scale.shape, scale.flatten()),
            helper.make_tensor("two", FLOAT, [], [2.0]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def _in_place(session) -> list:
    # (a node with a one-value constant operand is bound to it: _bind_constants.OneValue)
    return [
        getattr(n.fn, "in_place", False) or getattr(n.fn, "keywords", {}).get("_in_place", False)
        for n in session._planned.nodes
    ]


def test_a_chain_on_a_fresh_result_is_computed_in_place_with_the_same_bits():
    for extra_output, expected in ((False, [True] * 4), (True, [True, False, True, True])):
        model = _model(extra_output)
        session = InferenceSession(model)
        assert _in_place(session)[1:] == expected
        rng = np.random.default_rng(1)
        feeds = {
            "x": rng.standard_normal((2, 3, 16, 16)).astype(np.float32),
            "x8": rng.standard_normal((2, 8, 16, 16)).astype(np.float32),
        }
        kept = {k: v.copy() for k, v in feeds.items()}
        written = InferenceSession(model, keep_intermediates=True).run(None, feeds)
        for _ in range(2):
            got = session.run(None, feeds)
            for g, w in zip(got, written, strict=True):
                np.testing.assert_array_equal(g, w)
        for k, v in feeds.items():  # the feeds are never written
            np.testing.assert_array_equal(v, kept[k])
