"""A model with several ops this runtime lacks is refused at load with one message naming all
of them (subgraphs included), not only the first; and an opset 1-6 model is upgraded and runs."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from runtime.errors import UnsupportedOpError
from runtime.onnx import InferenceSession


def _model(nodes, opset=17, extra_opsets=()):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    opsets = [helper.make_opsetid("", opset), *extra_opsets]
    return helper.make_model(graph, opset_imports=opsets, ir_version=8)


def test_every_missing_op_is_named_in_one_error():
    then = helper.make_graph(
        [helper.make_node("NoSuchOp", ["x"], ["t"], name="inner")],
        "then",
        [],
        [helper.make_tensor_value_info("t", TensorProto.FLOAT, [2])],
    )
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="ok"),
        helper.make_node("ImageDecoder", ["a"], ["b"], name="m1"),
        helper.make_node("ImageDecoder", ["b"], ["c"], name="m2"),
        helper.make_node("Frob", ["c"], ["d"], name="f", domain="com.example"),
        helper.make_node("If", ["cond"], ["y"], name="if", then_branch=then, else_branch=then),
    ]
    extra = [helper.make_opsetid("com.example", 1)]
    with pytest.raises(UnsupportedOpError) as info:
        InferenceSession(_model(nodes, extra_opsets=extra).SerializeToString())
    message = str(info.value)
    assert "cannot run 3 op(s)" in message
    assert "'ImageDecoder' of domain 'ai.onnx' (opset 17) is not implemented" in message
    assert "'m1', 'm2'" in message
    assert "'NoSuchOp'" in message and "'inner'" in message
    assert "domain 'com.example' is not supported" in message
    assert "'Relu'" not in message and "'If'" not in message


@pytest.mark.parametrize("opset", [1, 3, 6])
def test_old_opset_model_is_upgraded_and_runs(opset):
    # Add-1..6 broadcast only with broadcast=1 (and axis); the upgrade rewrites that as
    # opset 7's numpy broadcasting. (onnxruntime has no Add-6 kernel to compare with; the
    # onnx wheel's opset-6 PyTorch models are compared with it in test_backend_models.py.)
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "b"], ["y"], broadcast=1)],
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [3]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=3)
    data = model.SerializeToString()
    feeds = {"x": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(3, np.float32)}
    got = InferenceSession(data).run(None, feeds)[0]
    np.testing.assert_array_equal(got, feeds["x"] + feeds["b"])
