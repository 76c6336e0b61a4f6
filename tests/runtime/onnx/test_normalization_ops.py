"""LayerNormalization and GroupNormalization refuse inconsistent models with InvalidModelError
(the ONNX backend node cases check their results against onnxruntime's spec)."""

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from runtime import InferenceSession
from runtime.errors import InvalidModelError


def _model(op_type, initializers, opset, **attrs):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    node = helper.make_node(op_type, ["x", *[n for n, _ in initializers]], ["y"], **attrs)
    graph = helper.make_graph(
        [node],
        "g",
        [x],
        [y],
        [numpy_helper.from_array(np.asarray(a, np.float32), n) for n, a in initializers],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    return model.SerializeToString()


def _run(data):
    session = InferenceSession(data)
    return session.run(None, {"x": np.ones((2, 4, 3), np.float32)})[0]


def test_layer_normalization_scale_must_fit_the_normalized_shape():
    ok = _model("LayerNormalization", [("s", np.ones(3)), ("b", np.zeros(3))], 17, axis=-1)
    assert _run(ok).shape == (2, 4, 3)
    bad = _model("LayerNormalization", [("s", np.ones(4))], 17, axis=-1)
    with pytest.raises(InvalidModelError, match="Scale"):
        _run(bad)


def test_group_normalization_groups_must_divide_the_channels():
    ok = _model("GroupNormalization", [("s", np.ones(4)), ("b", np.zeros(4))], 21, num_groups=2)
    assert _run(ok).shape == (2, 4, 3)
    bad = _model("GroupNormalization", [("s", np.ones(4)), ("b", np.zeros(4))], 21, num_groups=3)
    with pytest.raises(InvalidModelError, match="num_groups"):
        _run(bad)
