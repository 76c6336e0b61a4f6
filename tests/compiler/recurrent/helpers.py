"""Running exported recurrent models in LiteRT, onnxruntime and our runtime."""

from __future__ import annotations

import numpy as np

from compiler.export.onnx import write_onnx
from compiler.export.tflite import write_tflite
from compiler.lower.model import lower_model
from compiler.passes import optimize, prepare_for_export

TOLERANCE = 1e-5


def compile_both(model, quantize=None):
    graph = optimize(lower_model(model)).graph
    if quantize is not None:
        from compiler.quantize import quantize_graph

        graph = quantize_graph(graph, quantize)
    return (
        write_tflite(prepare_for_export(graph, "tflite")),
        write_onnx(prepare_for_export(graph, "onnx"), check=True),
    )


def _resize_batch(interpreter, batch: int) -> None:
    """Resizes the inputs' batch only: the recurrent ops' state tensors must follow alone."""
    for d in interpreter.get_input_details():
        interpreter.resize_tensor_input(d["index"], [batch, *d["shape"][1:]])


def run_tflite(content: bytes, x: np.ndarray, interpreter_class) -> np.ndarray:
    it = interpreter_class(model_content=content)
    _resize_batch(it, x.shape[0])
    it.allocate_tensors()
    results = []
    for _ in range(2):  # a second invoke must not see the first one's final state
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        results.append(it.get_tensor(it.get_output_details()[0]["index"]).copy())
    np.testing.assert_array_equal(results[0], results[1])
    return results[0]


def run_onnx(content: bytes, x: np.ndarray, session_class) -> np.ndarray:
    session = session_class(content)
    return session.run(None, {session.get_inputs()[0].name: x})[0]
