"""Structure of the written .onnx: opset, dynamic batch, NHWC boundaries with few Transposes,
checker, and agreement with the IR evaluator for layouts the layer tests do not reach."""

import numpy as np
import onnx
import pytest

from compiler.export.errors import ExportError
from compiler.export.onnx import write_onnx
from compiler.ir import Graph, QuantParams, evaluate
from compiler.lower import lower_model
from compiler.passes import optimize
from tests.compiler.export.helpers import assert_close, run_onnx
from tests.compiler.lower.models import merges, slide_cnn


def _model_proto(graph, **kw):
    data = write_onnx(graph, **kw)
    model = onnx.load_from_string(data)
    onnx.checker.check_model(model, full_check=True)
    return model, data


def test_slide_cnn_has_two_transposes_at_most_and_nhwc_dynamic_io():
    graph = optimize(lower_model(slide_cnn())).graph
    model, _ = _model_proto(graph)
    assert model.opset_import[0].version == 17
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("Transpose") <= 2
    assert "Flatten" in ops and "Reshape" not in ops
    (inp,) = model.graph.input
    dims = inp.type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [28, 28, 1]
    (out,) = model.graph.output
    assert out.type.tensor_type.shape.dim[0].dim_param == "batch"


def test_branching_cnn_keeps_one_transpose_at_the_input():
    graph = optimize(lower_model(merges())).graph
    model, _ = _model_proto(graph)
    assert [n.op_type for n in model.graph.node].count("Transpose") == 1


def _nhwc_output_graph():
    rng = np.random.default_rng(1)
    g = Graph("img2img")
    x = g.add_input("x", (None, 5, 5, 2))
    w = g.const("w", rng.normal(size=(3, 3, 3, 2)).astype(np.float32))
    y = g.node("CONV_2D", [x, w], (None, 5, 5, 3), "conv", {"padding": "SAME"})
    scale = g.const("scale", rng.normal(size=(3,)).astype(np.float32))
    y = g.node("MUL", [y, scale], (None, 5, 5, 3), "scaled")
    pads = g.const("pads", np.array([[0, 0], [1, 0], [0, 2], [0, 1]], np.int32))
    y = g.node("PAD", [y, pads], (None, 6, 7, 4), "padded")
    y = g.node("SOFTMAX", [y], (None, 6, 7, 4), "probs")
    axes = g.const("axes", np.array([3], np.int32))
    m = g.node("MEAN", [y, axes], (None, 6, 7), "chan_mean")
    g.outputs = [y, m]
    return g


@pytest.mark.parametrize("opset", [13, 17, 18, 21])
def test_rank4_outputs_come_back_nhwc(opset):
    g = _nhwc_output_graph()
    model, data = _model_proto(g, opset=opset)
    assert [n.op_type for n in model.graph.node].count("Transpose") <= 3
    x = np.random.default_rng(2).normal(size=(3, 5, 5, 2)).astype(np.float32)
    want = evaluate(g, [x])
    got = run_onnx(data, {"x": x})
    assert_close(got["probs"], want[0])
    assert_close(got["chan_mean"], want[1])


def test_quantize_dequantize_map_to_qdq_nodes():
    g = Graph("qdq")
    x = g.add_input("x", (None, 4))
    q = g.value("xq", (None, 4), "int8", quant=QuantParams(0.1, 3))
    g.add_op("QUANTIZE", [x], [q])
    y = g.node("DEQUANTIZE", [q], (None, 4), "y")
    g.outputs = [y]
    model, data = _model_proto(g)
    assert [n.op_type for n in model.graph.node] == ["QuantizeLinear", "DequantizeLinear"]
    x = np.array([[0.0, 1.0, -13.0, 0.26]], np.float32)
    got = run_onnx(data, {"x": x})["y"]
    np.testing.assert_array_equal(got, evaluate(g, [x])[0].astype(np.float32))


def test_bad_opset_and_unconvertible_ops_are_errors():
    g = _nhwc_output_graph()
    with pytest.raises(ExportError, match="opset 9"):
        write_onnx(g, opset=9)
    bad = Graph("bad")
    x = bad.add_input("x", (None, 2))
    y = bad.node("DROPOUT", [x], (None, 2), "d")
    bad.outputs = [y]
    with pytest.raises(ExportError, match="DROPOUT"):
        write_onnx(bad)


def test_onnx_bytes_are_deterministic():
    assert write_onnx(_nhwc_output_graph()) == write_onnx(_nhwc_output_graph())
