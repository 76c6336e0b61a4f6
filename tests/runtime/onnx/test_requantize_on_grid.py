"""A fake quantization of values already on its grid passes them through
(``runtime.onnx._requantize_on_grid``): the same bits as the graph as written."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from runtime.onnx import InferenceSession

FLOAT, INT8 = TensorProto.FLOAT, TensorProto.INT8


def _fq(name, x, out, scale, zero):
    return [
        helper.make_node("QuantizeLinear", [x, f"{scale}", f"{zero}"], [f"{name}_q"]),
        helper.make_node("DequantizeLinear", [f"{name}_q", f"{scale}", f"{zero}"], [out]),
    ]


def _model(second_scale="s1", pads=(0, 0, 0, 0)):
    nodes = (
        _fq("a", "x", "a", "s1", "z1")
        + [helper.make_node("MaxPool", ["a"], ["p"], kernel_shape=[2, 2], pads=list(pads))]
        + _fq("b", "p", "b", second_scale, "z1")
        + [helper.make_node("Flatten", ["b"], ["f"])]
        + _fq("c", "f", "y", second_scale, "z1")
    )
    inits = [
        helper.make_tensor("s1", FLOAT, [], [0.0173]),
        helper.make_tensor("s2", FLOAT, [], [0.02]),
        helper.make_tensor("z1", INT8, [], [-7]),
    ]
    graph = helper.make_graph(
        nodes,
        "grid",
        [helper.make_tensor_value_info("x", FLOAT, [2, 3, 6, 6])],
        [helper.make_tensor_value_info("y", FLOAT, None)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def _passing(session) -> int:
    # (planned kernels may be callable objects without a __name__)
    names = [getattr(getattr(n.fn, "func", n.fn), "__name__", "") for n in session._planned.nodes]
    return names.count("_pass_through")


def _removed(session) -> int:
    """Fake quantizations gone from the plan (the model has three)."""
    kinds = [n.op_type for n in session._planned.nodes]
    return 3 - sum(k.startswith("QuantizeLinear+DequantizeLinear") for k in kinds)


@pytest.mark.parametrize(
    "second_scale, pads, passing, removed",
    [("s1", (0, 0, 0, 0), 1, 1), ("s2", (0, 0, 0, 0), 1, 0), ("s1", (1, 1, 1, 1), 1, 0)],
)
def test_requantizing_on_the_grid_passes_through_with_the_same_bits(
    second_scale, pads, passing, removed
):
    """A pass-through is removed unless its output is the graph's (``y``): Flatten reads the
    MaxPool's output directly."""
    model = _model(second_scale, pads)
    session = InferenceSession(model)
    assert (_passing(session), _removed(session)) == (passing, removed)
    written = InferenceSession(model, keep_intermediates=True)
    rng = np.random.default_rng(0)
    for scale in (0.5, 3.0, 1e3):  # inside the int8 range, clamped at both ends, extremes
        x = (rng.standard_normal((2, 3, 6, 6)) * scale).astype(np.float32)
        np.testing.assert_array_equal(
            session.run(None, {"x": x})[0], written.run(None, {"x": x})[0]
        )


def test_a_pass_through_read_inside_a_subgraph_is_kept():
    """The If's branches read ``b`` from the enclosing graph: it is not renamed away."""
    branch_out = helper.make_tensor_value_info("o", FLOAT, None)
    then_branch = helper.make_graph(
        [helper.make_node("Flatten", ["b"], ["o"])], "then", [], [branch_out]
    )
    else_branch = helper.make_graph(
        [helper.make_node("Identity", ["b"], ["o"])], "else", [], [branch_out]
    )
    nodes = (
        _fq("a", "x", "a", "s1", "z1")
        + [helper.make_node("MaxPool", ["a"], ["p"], kernel_shape=[2, 2])]
        + _fq("b", "p", "b", "s1", "z1")
        + [helper.make_node("If", ["c"], ["y"], then_branch=then_branch, else_branch=else_branch)]
    )
    inits = [
        helper.make_tensor("s1", FLOAT, [], [0.0173]),
        helper.make_tensor("z1", INT8, [], [-7]),
    ]
    graph = helper.make_graph(
        nodes,
        "grid_if",
        [
            helper.make_tensor_value_info("x", FLOAT, [2, 3, 6, 6]),
            helper.make_tensor_value_info("c", TensorProto.BOOL, []),
        ],
        [helper.make_tensor_value_info("y", FLOAT, None)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    model = model.SerializeToString()
    session = InferenceSession(model)
    assert (_passing(session), _removed(session) - 1) == (1, 0)  # (the model has two)
    written = InferenceSession(model, keep_intermediates=True)
    x = (np.random.default_rng(3).standard_normal((2, 3, 6, 6)) * 3).astype(np.float32)
    for c in (True, False):
        feeds = {"x": x, "c": np.array(c)}
        np.testing.assert_array_equal(session.run(None, feeds)[0], written.run(None, feeds)[0])
