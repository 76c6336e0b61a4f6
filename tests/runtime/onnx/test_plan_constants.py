"""Work the plan does once for constant inputs, against the nodes run as written.

- Slice / Squeeze / Unsqueeze / Reshape / Clip bound at load to constant inputs
  (``runtime.onnx._bind_constants``), against the same nodes fed those values at run time and
  onnxruntime, over two input shapes (the per-shape memory), a shape the node refuses after one
  it accepted, and constants of a type the node refuses (never bound).
- A subgraph's nodes of the enclosing graph's constants folded at load, and the graph as
  written when a feed overrides those constants.
"""

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from runtime.errors import InvalidModelError
from runtime.onnx import InferenceSession
from runtime.onnx._bind_constants import PerShape
from tests.runtime.onnx.helpers import graph_model, ort_session

RNG = np.random.default_rng(78)
FLOAT, INT64 = TensorProto.FLOAT, TensorProto.INT64


_BOUND_CASES = [
    # op, attrs, {constant input: value}, input shapes (two, the second a different dim)
    (
        "Slice",
        {},
        {"starts": [1, -4], "ends": [2**63 - 1, -1], "axes": [1, -1], "steps": [1, 2]},
        [(2, 5, 9), (1, 3, 7)],
    ),
    ("Slice", {}, {"starts": [-1], "ends": [-(2**63) + 1], "axes": [2], "steps": [-1]}, None),
    ("Slice", {}, {"starts": [0, 1], "ends": [1, 3]}, None),
    ("Squeeze", {}, {"axes": [1, -2]}, [(3, 1, 4), (2, 1, 1)]),
    ("Unsqueeze", {}, {"axes": [0, -1]}, None),
    ("Unsqueeze", {}, {"axes": [2]}, None),
    ("Reshape", {}, {"shape": [0, -1]}, None),
    ("Reshape", {"allowzero": 0}, {"shape": [-1, 4]}, [(2, 4, 2), (4, 2, 4)]),
    ("Clip", {}, {"min": np.float32(-0.5), "max": np.float32(0.25)}, None),
    ("Clip", {}, {"min": np.float32(0.5), "max": np.float32(-0.25)}, None),  # (min > max)
    ("Clip", {}, {"min": np.float32(np.nan), "max": np.float32(1)}, None),  # (general path)
]


def _bound_models(op, attrs, constants, shape):
    """The node with ``constants`` as initializers, and with them as graph inputs."""
    names = ["x", *constants]
    node = helper.make_node(op, names, ["y"], **attrs)
    arrays = {
        k: np.asarray(v, np.float32 if op == "Clip" else np.int64) for k, v in constants.items()
    }
    x = ("x", FLOAT, ["a", "b", "c"])
    bound = graph_model([node], [x], ["y"], arrays)
    fed_inputs = [x] + [
        (k, FLOAT if op == "Clip" else INT64, list(v.shape)) for k, v in arrays.items()
    ]
    fed = graph_model([node], fed_inputs, ["y"])
    return bound, fed, arrays


@pytest.mark.parametrize("op, attrs, constants, shapes", _BOUND_CASES)
def test_kernels_bound_to_constants_match_the_general_path(op, attrs, constants, shapes):
    bound, fed, arrays = _bound_models(op, attrs, constants, shapes)
    ours = InferenceSession(bound.SerializeToString())
    general = InferenceSession(fed.SerializeToString())
    theirs = ort_session(bound)
    nan_bound = op == "Clip" and np.isnan(arrays["min"])
    assert isinstance(ours._planned.nodes[0].fn, PerShape) == (op != "Clip")
    assert (getattr(ours._planned.nodes[0].fn, "keywords", {}).get("_bounds") is None) == (
        op != "Clip" or bool(nan_bound)
    )
    for dims in shapes or [(2, 1, 8), (3, 1, 6)]:
        x = RNG.normal(size=dims).astype(np.float32)
        x.reshape(-1)[:2] = np.nan
        (got,) = ours.run(None, {"x": x})
        (plain,) = general.run(None, {"x": x, **arrays})
        np.testing.assert_array_equal(got, plain)
        if not nan_bound:  # (onnxruntime clips NaN bounds otherwise; we follow min(max()))
            (expected,) = theirs.run(None, {"x": x})
            np.testing.assert_array_equal(got, expected)


def test_a_bound_kernel_refuses_a_shape_after_accepting_another():
    bound, _, _ = _bound_models("Squeeze", {}, {"axes": [1]}, None)
    session = InferenceSession(bound.SerializeToString())
    assert session.run(None, {"x": np.ones((2, 1, 3), np.float32)})[0].shape == (2, 3)
    with pytest.raises(InvalidModelError, match="Squeeze: axis 1 of \\[2, 2, 3\\] is not 1"):
        session.run(None, {"x": np.ones((2, 2, 3), np.float32)})
    assert session.run(None, {"x": np.ones((4, 1, 3), np.float32)})[0].shape == (4, 3)


def test_float_axes_are_not_bound():
    node = helper.make_node("Unsqueeze", ["x", "axes"], ["y"])
    model = graph_model([node], [("x", FLOAT, [2])], ["y"], {"axes": np.array([0.0], np.float32)})
    session = InferenceSession(model.SerializeToString())
    assert not isinstance(session._planned.nodes[0].fn, PerShape)
    with pytest.raises(InvalidModelError):
        session.run(None, {"x": np.ones(2, np.float32)})


def test_subgraph_nodes_of_enclosing_constants_are_folded():
    # An If branch that slices and joins the enclosing graph's weights at each run (silero-vad's
    # LSTM weights): planned as constants, with the branch's results unchanged; a feed that
    # overrides the weights (an initializer listed as an input) runs the graph as written.
    w = RNG.normal(size=(4, 3)).astype(np.float32)
    starts, ends = np.array([0], np.int64), np.array([2], np.int64)
    branch = helper.make_graph(
        [
            helper.make_node("Slice", ["w", "starts", "ends"], ["top"]),
            helper.make_node("Concat", ["top", "w"], ["joined"], axis=0),
            helper.make_node("MatMul", ["joined", "x"], ["z"]),
        ],
        "then",
        [],
        [helper.make_tensor_value_info("z", FLOAT, None)],
        initializer=[
            numpy_helper.from_array(starts, "starts"),
            numpy_helper.from_array(ends, "ends"),
        ],
    )
    other = helper.make_graph(
        [helper.make_node("MatMul", ["w", "x"], ["v"])],
        "else",
        [],
        [helper.make_tensor_value_info("v", FLOAT, None)],
    )
    node = helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=other)
    inputs = [("x", FLOAT, [3, 2]), ("c", TensorProto.BOOL, []), ("w", FLOAT, [4, 3])]
    model = graph_model([node], inputs, ["y"], {"w": w})
    session = InferenceSession(model.SerializeToString())
    then = session._planned.nodes[0].attrs["then_branch"]
    assert [n.op_type for n in then.nodes] == ["MatMul"]
    x = RNG.normal(size=(3, 2)).astype(np.float32)
    expected = np.concatenate([w[:2], w]) @ x
    np.testing.assert_allclose(session.run(None, {"x": x, "c": np.array(True)})[0], expected)
    w2 = -w
    (got,) = session.run(None, {"x": x, "c": np.array(True), "w": w2})
    np.testing.assert_allclose(got, np.concatenate([w2[:2], w2]) @ x)
