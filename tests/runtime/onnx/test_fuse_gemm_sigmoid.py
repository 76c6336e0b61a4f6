"""Gemm -> Sigmoid runs as one planned node (``runtime.onnx._fuse_gemm_sigmoid``, then the
dense plan of ``runtime.onnx._fuse_dense``): results within float tolerance of onnxruntime's
and of the Gemm and Sigmoid kernels, and the nodes as written where the Gemm's output has
another reader."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from runtime.errors import InvalidInputError
from runtime.onnx import InferenceSession
from tests.runtime.onnx.helpers import ort_session


def _head(units: int, elem=TensorProto.FLOAT, extra_reader=False):
    """x [1, 6] -> Gemm(transB) with [units, 6] weights and a bias -> Sigmoid."""
    dtype = helper.tensor_dtype_to_np_dtype(elem)
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((units, 6)) * 20).astype(dtype)
    b = rng.standard_normal(units).astype(dtype)
    nodes = [
        helper.make_node("Gemm", ["x", "w", "b"], ["g"], transB=1),
        helper.make_node("Sigmoid", ["g"], ["y"]),
    ]
    outputs = [helper.make_tensor_value_info("y", elem, None)]
    if extra_reader:
        outputs.append(helper.make_tensor_value_info("g", elem, None))
    graph = helper.make_graph(
        nodes,
        "head",
        [helper.make_tensor_value_info("x", elem, [1, 6])],
        outputs,
        [
            helper.make_tensor("w", elem, w.shape, w.flatten()),
            helper.make_tensor("b", elem, b.shape, b.flatten()),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize("elem", [TensorProto.FLOAT, TensorProto.DOUBLE])
@pytest.mark.parametrize("units", [1, 5])
def test_the_pair_is_one_node_within_tolerance_of_onnxruntime(elem, units):
    model = _head(units, elem)
    session = InferenceSession(model.SerializeToString())
    assert [n.op_type for n in session._planned.nodes] == ["Gemm"]
    written = InferenceSession(model.SerializeToString(), keep_intermediates=True)
    reference = ort_session(model)
    dtype = helper.tensor_dtype_to_np_dtype(elem)
    rng = np.random.default_rng(1)
    # Scores far on both sides (exp's argument stays <= 0: no overflow) and near 0.
    for scale in (0.01, 1.0, 30.0):
        x = (rng.standard_normal((1, 6)) * scale).astype(dtype)
        fused = session.run(None, {"x": x})[0]
        assert fused.dtype == dtype and fused.shape == (1, units)
        # (the planned product sums in another order: an ulp of a score of -16 is a relative
        # 2e-6 of its sigmoid)
        np.testing.assert_allclose(fused, written.run(None, {"x": x})[0], rtol=1e-5, atol=0)
        expected = reference.run(None, {"x": x})[0]
        np.testing.assert_allclose(fused, expected, rtol=1e-5, atol=1e-7)


def test_a_gemm_output_read_elsewhere_keeps_the_nodes_as_written():
    session = InferenceSession(_head(1, extra_reader=True).SerializeToString())
    assert [n.op_type for n in session._planned.nodes] == ["Gemm", "Sigmoid"]


def test_a_feed_of_another_type_is_refused_as_before():
    session = InferenceSession(_head(1).SerializeToString())
    with pytest.raises(InvalidInputError):
        session.run(None, {"x": np.zeros((1, 6), np.float64)})
