"""What a run holds against ``max_memory_bytes`` when nodes give views: a view of an input's
memory (Transpose, Reshape) costs nothing more, a view of an array the kernel made (a Conv's
GEMM result, transposed to NCHW) costs its bytes, charged to the node that made it."""

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from runtime import BudgetExceededError, Limits
from runtime.onnx import InferenceSession

X_BYTES = 1 * 4 * 8 * 8 * 4  # the feed, float32
CONV_BYTES = 1 * 2 * 8 * 8 * 4  # the Conv's output


def _model() -> bytes:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w = np.arange(8, dtype=np.float32).reshape(2, 4, 1, 1)
    nodes = [
        helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 1, 3, 2]),
        helper.make_node("Transpose", ["xt"], ["xtt"], perm=[0, 1, 3, 2]),
        helper.make_node("Conv", ["xtt", "w"], ["c"], name="conv"),
        helper.make_node("Transpose", ["c"], ["ct"], perm=[0, 2, 3, 1]),
        helper.make_node("Reshape", ["ct", "flat"], ["y"]),
    ]
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.array([1, -1]), "flat")]
    graph = helper.make_graph(nodes, "g", [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return model.SerializeToString()


def _run(max_memory_bytes: int) -> np.ndarray:
    session = InferenceSession(_model(), limits=Limits(max_memory_bytes=max_memory_bytes))
    x = np.random.default_rng(0).standard_normal((1, 4, 8, 8)).astype(np.float32)
    (y,) = session.run(None, {"x": x})
    w = np.arange(8, dtype=np.float32).reshape(2, 4)
    want = np.einsum("oc,nchw->nhwo", w, x).reshape(1, -1)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
    return y


def test_views_of_inputs_are_free_and_the_conv_output_is_charged_once():
    for _ in range(2):  # (the second run takes the evaluator's checked fast path)
        _run(X_BYTES + CONV_BYTES + CONV_BYTES)  # (+ the Reshape's copy of the transposed view)
    with pytest.raises(BudgetExceededError):  # (the Conv's own scratch needs the same again)
        _run(X_BYTES + CONV_BYTES + CONV_BYTES - 1)


def test_a_view_of_a_kernel_made_array_is_charged_to_its_node():
    with pytest.raises(BudgetExceededError, match="'conv'"):
        _run(X_BYTES + CONV_BYTES - 1)
