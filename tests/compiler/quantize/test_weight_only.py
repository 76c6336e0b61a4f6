"""Dynamic-range int8 and float16 weights: smaller files, float outputs close to the model."""

import numpy as np
import pytest

import runtime
from compiler import keras
from compiler.export.onnx import write_onnx
from compiler.export.tflite import write_tflite
from compiler.lower import lower_model
from compiler.passes import PassManager, default_passes
from compiler.quantize import quantize_graph
from tests._oracles import LITERT, ONNXRUNTIME, require
from tests.fixtures import KERAS3

litert = require("ai_edge_litert.interpreter", LITERT)
ort = require("onnxruntime", ONNXRUNTIME)

FIXTURES = KERAS3


def _run(interpreter_cls, content, x):
    it = interpreter_cls(model_content=content)
    d = it.get_input_details()[0]
    it.resize_tensor_input(d["index"], list(x.shape))
    it.allocate_tensors()
    it.set_tensor(d["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


@pytest.fixture(scope="module")
def slide():
    model = keras.models.load_model(FIXTURES / "slide_cnn.keras")
    graph = PassManager(default_passes()).call(lower_model(model)).graph
    x = np.random.default_rng(0).random((5, 28, 28, 1)).astype(np.float32)
    return model, graph, x, model.predict(x, verbose=0)


@pytest.mark.parametrize("mode, tolerance", [("dynamic", 2e-3), ("float16", 1e-3)])
def test_weight_only_modes_run_everywhere_close_to_float(slide, mode, tolerance):
    model, graph, x, expected = slide
    q = quantize_graph(graph, mode)
    tflite = write_tflite(q)
    assert len(tflite) < 0.6 * len(write_tflite(graph))
    for cls in (litert.Interpreter, runtime.Interpreter):
        np.testing.assert_allclose(_run(cls, tflite, x), expected, atol=tolerance)
    session = ort.InferenceSession(write_onnx(q, check=True))
    np.testing.assert_allclose(session.run(None, {"input_layer": x})[0], expected, atol=tolerance)


def test_dynamic_keeps_small_weights_float_like_tflite_converter(slide):
    _, graph, _, _ = slide
    q = quantize_graph(graph, "dynamic")
    int8 = {op.type: op.inputs[1].dtype for op in q.ops if len(op.inputs) > 1}
    convs = [op for op in q.ops if op.type == "CONV_2D"]
    # conv 1 has 288 weights (< 1024): float; conv 2 and the dense layer: int8 per channel.
    assert [op.inputs[1].dtype for op in convs] == ["float32", "int8"]
    assert int8["FULLY_CONNECTED"] == "int8"
    assert all(op.outputs[0].dtype == "float32" for op in q.ops)
