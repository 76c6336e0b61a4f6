"""A Relu that only reads a Gemm runs inside it (``runtime.onnx._plan._fuse_relus``): same
results as onnxruntime, the same refusal as the nodes as written."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from runtime.errors import InvalidModelError
from runtime.onnx import InferenceSession
from tests.runtime.onnx.helpers import ort_session


def _model(elem=TensorProto.FLOAT, extra_output=False):
    dtype = helper.tensor_dtype_to_np_dtype(elem)
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((5, 7)) * 4).astype(dtype)
    b = (rng.standard_normal(5) * 4).astype(dtype)
    nodes = [
        helper.make_node("Gemm", ["x", "w", "b"], ["g"], transB=1),
        helper.make_node("Relu", ["g"], ["y"]),
    ]
    outputs = [helper.make_tensor_value_info("y", elem, None)]
    if extra_output:
        outputs.append(helper.make_tensor_value_info("g", elem, None))
    graph = helper.make_graph(
        nodes,
        "gemm_relu",
        [helper.make_tensor_value_info("x", elem, [3, 7])],
        outputs,
        [
            helper.make_tensor("w", elem, w.shape, w.flatten()),
            helper.make_tensor("b", elem, [5], b),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize("extra_output", [False, True])
def test_gemm_then_relu_matches_onnxruntime(extra_output):
    model = _model(extra_output=extra_output)
    session = InferenceSession(model.SerializeToString())
    assert len(session._planned.nodes) == (2 if extra_output else 1)
    x = np.random.default_rng(1).standard_normal((3, 7)).astype(np.float32)
    got = session.run(None, {"x": x})
    expected = ort_session(model).run(None, {"x": x})
    assert (got[0] == 0).any() and (got[0] > 0).any()
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)


def test_an_unsigned_gemm_is_refused_by_its_relu_fused_or_not():
    model = _model(elem=TensorProto.UINT32).SerializeToString()
    x = np.arange(21, dtype=np.uint32).reshape(3, 7)
    for keep in (False, True):  # the planned graph, and the graph as written
        with pytest.raises(InvalidModelError, match="Relu"):
            InferenceSession(model, keep_intermediates=keep).run(None, {"x": x})
