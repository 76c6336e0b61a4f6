"""Dynamic-range and full-int8 quantization of recurrent models: LiteRT's builtin kernels,
onnxruntime and our runtime agree, and stay close to the float model."""

from __future__ import annotations

import numpy as np
import pytest

import runtime
from compiler import keras
from compiler.export.onnx import write_onnx
from compiler.export.tflite import write_tflite
from compiler.keras import layers
from compiler.lower.model import lower_model
from compiler.passes import optimize, prepare_for_export
from compiler.quantize import quantize_graph
from compiler.quantize.recurrent import RecurrentQuantizationWarning
from runtime.tflite.model import read_model
from tests._oracles import LITERT, ONNXRUNTIME, require
from tests.compiler.recurrent.helpers import TOLERANCE, run_onnx, run_tflite

_litert = require("ai_edge_litert.interpreter", LITERT)
Interpreter, OpResolverType = _litert.Interpreter, _litert.OpResolverType
OrtSession = require("onnxruntime", ONNXRUNTIME).InferenceSession

VOCAB, STEPS = 30, 6


class LiteRTBuiltin:
    """LiteRT without the XNNPACK delegate, whose dynamic-range FULLY_CONNECTED rounds
    differently from TFLite's builtin hybrid kernels (which our runtime follows)."""

    def __new__(cls, **kwargs):
        return Interpreter(
            experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
            **kwargs,
        )


def _model(kind: str, mask_zero: bool = False):
    inp = keras.Input((STEPS,), dtype="int32")
    x = layers.Embedding(VOCAB, 8, mask_zero=mask_zero)(inp)
    if kind == "lstm":
        x = layers.LSTM(16)(x)
    elif kind == "gru":
        x = layers.GRU(16, go_backwards=True)(x)
    else:
        x = layers.Bidirectional(layers.SimpleRNN(32, return_sequences=True))(x)
        x = layers.LSTM(16)(x)
    model = keras.Model(inp, layers.Dense(4, activation="softmax")(x))
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.3, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def _ids(batch: int, seed: int) -> np.ndarray:
    ids = np.random.default_rng(seed).integers(0, VOCAB, (batch, STEPS)).astype(np.int32)
    ids[:, -1] = 0
    return ids


def _both(graph):
    return (
        write_tflite(prepare_for_export(graph, "tflite")),
        write_onnx(prepare_for_export(graph, "onnx"), check=True),
    )


def _ops(tflite: bytes) -> list:
    (subgraph,) = read_model(tflite).subgraphs
    return subgraph.operators


@pytest.mark.parametrize("kind,mask_zero", [("lstm", False), ("gru", False), ("bi", True)])
def test_dynamic_range(kind, mask_zero):
    model = _model(kind, mask_zero)
    graph = quantize_graph(optimize(lower_model(model)).graph, "dynamic")
    recurrent = [op for op in graph.ops if op.type.startswith("UNIDIRECTIONAL") or op.type == "GRU"]
    assert recurrent and all(op.inputs[2].dtype == "int8" for op in recurrent)
    tflite, onnx_bytes = _both(graph)
    fused = [op for op in _ops(tflite) if op.name.startswith("UNIDIRECTIONAL")]
    assert all(op.version == 2 for op in fused)  # the hybrid kernels
    if mask_zero:  # masked layers are unrolled into hybrid FULLY_CONNECTED ops
        assert any(op.name == "FULLY_CONNECTED" and op.version == 3 for op in _ops(tflite))
    x = _ids(5, 1)
    expected = model.predict(x, verbose=0)
    litert = run_tflite(tflite, x, LiteRTBuiltin)
    ours = run_tflite(tflite, x, runtime.Interpreter)
    np.testing.assert_allclose(ours, litert, atol=TOLERANCE, rtol=0)
    ort = run_onnx(onnx_bytes, x, OrtSession)
    np.testing.assert_allclose(
        run_onnx(onnx_bytes, x, runtime.InferenceSession), ort, atol=TOLERANCE
    )
    for y in (litert, ort):
        np.testing.assert_allclose(y, expected, atol=0.02)


@pytest.mark.parametrize("kind,mask_zero", [("lstm", True), ("gru", True), ("bi", True)])
def test_full_int8_with_float_islands(kind, mask_zero):
    # Masked layers: TFLite's integer kernels have no mask input (unmasked ones are integer:
    # tests/compiler/recurrent_int8).
    model = _model(kind, mask_zero)
    float_graph = optimize(lower_model(model)).graph
    with pytest.warns(RecurrentQuantizationWarning, match="Keras mask"):
        graph = quantize_graph(float_graph, "int8", calibration=_ids(64, 2))
    for op in graph.ops:
        if op.type in ("UNIDIRECTIONAL_SEQUENCE_LSTM", "UNIDIRECTIONAL_SEQUENCE_RNN", "GRU"):
            assert op.inputs[0].dtype == "float32" and op.outputs[0].dtype == "float32"
        if op.type in ("FULLY_CONNECTED", "SOFTMAX"):
            assert op.outputs[0].dtype == "int8"
    tables = [op.inputs[0] for op in graph.ops if op.type == "GATHER" and op.inputs[0].rank == 2]
    assert tables and all(t.dtype == "int8" for t in tables)  # the Embedding's table
    tflite, onnx_bytes = _both(graph)
    names = [op.name for op in _ops(tflite)]
    assert "DEQUANTIZE" in names and "QUANTIZE" in names
    x = _ids(5, 3)
    expected = model.predict(x, verbose=0)
    ref = run_tflite(tflite, x, LiteRTBuiltin)
    ours = run_tflite(tflite, x, runtime.Interpreter)
    # Float islands run before the last int8 rounding: a last-ulp difference there may move
    # one output step (1/256 for SOFTMAX), nothing more.
    np.testing.assert_allclose(ours, ref, atol=1 / 256 + 1e-7, rtol=0)
    ort = run_onnx(onnx_bytes, x, OrtSession)
    np.testing.assert_allclose(
        run_onnx(onnx_bytes, x, runtime.InferenceSession), ort, atol=1 / 256 + 1e-7, rtol=0
    )
    for y in (ref, ort):
        np.testing.assert_allclose(y, expected, atol=0.06)
