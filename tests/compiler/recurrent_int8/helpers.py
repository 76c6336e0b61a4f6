"""Small recurrent models compiled to full int8 (io int8), and runs of their files."""

from __future__ import annotations

import numpy as np

from compiler import keras
from compiler.export.onnx import write_onnx
from compiler.export.tflite import write_tflite
from compiler.keras import layers
from compiler.lower.model import lower_model
from compiler.passes import optimize, prepare_for_export
from compiler.quantize import quantize_graph

STEPS, FEATURES, UNITS, VOCAB = 5, 4, 6, 12


def _seeded(model, seed: int, std: float = 0.4):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, std, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def _sequence(*stack):
    inp = keras.Input((STEPS, FEATURES))
    x = inp
    for layer in stack:
        x = layer(x)
    return keras.Model(inp, x)


def _return_state_model():
    """An inner LSTM whose cell state is read: the lowering unrolls it (the fused op has no
    cell-state output), so its steps are int8 builtins; the next LSTM is the fused one."""
    inp = keras.Input((STEPS, FEATURES))
    seq, _, c = layers.LSTM(UNITS, return_sequences=True, return_state=True)(inp)
    out = layers.Concatenate()([layers.LSTM(UNITS)(seq), c])
    return keras.Model(inp, layers.Dense(3)(out))


CASES = {
    "lstm": lambda: _sequence(layers.LSTM(UNITS)),
    "lstm_seq": lambda: _sequence(layers.LSTM(UNITS, return_sequences=True)),
    "lstm_stacked": lambda: _sequence(
        layers.LSTM(UNITS, return_sequences=True),
        layers.LSTM(UNITS),
        layers.Dense(3, activation="softmax"),
    ),
    "lstm_backwards": lambda: _sequence(layers.LSTM(UNITS, go_backwards=True)),
    "bi_lstm_concat": lambda: _sequence(
        layers.Bidirectional(layers.LSTM(UNITS, return_sequences=True))
    ),
    "bi_lstm_sum": lambda: _sequence(layers.Bidirectional(layers.LSTM(UNITS), merge_mode="sum")),
    "lstm_return_state": lambda: _return_state_model(),
    "gru": lambda: _sequence(layers.GRU(UNITS)),
    "gru_seq_reset_before": lambda: _sequence(
        layers.GRU(UNITS, reset_after=False, return_sequences=True)
    ),
    "bi_gru": lambda: _sequence(layers.Bidirectional(layers.GRU(UNITS, return_sequences=True))),
    "rnn_seq": lambda: _sequence(layers.SimpleRNN(UNITS, return_sequences=True)),
    "rnn_relu": lambda: _sequence(layers.SimpleRNN(UNITS, activation="relu")),
    "stacked_mixed": lambda: _sequence(
        layers.GRU(UNITS, return_sequences=True),
        layers.LSTM(UNITS, return_sequences=True),
        layers.SimpleRNN(UNITS),
        layers.Dense(3),
    ),
}
LSTM_CASES = [c for c in CASES if "lstm" in c or c == "stacked_mixed"]


def build(case: str, seed: int = 0):
    """The seeded model of ``case``."""
    return _seeded(CASES[case](), seed)


def inputs(batch: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 1, (batch, STEPS, FEATURES)).astype(np.float32)


def int8_graph(model, calibration=None):
    """The full-int8 (io int8) IR graph of ``model``, calibrated on 64 samples by default."""
    graph = optimize(lower_model(model)).graph
    calibration = inputs(64, seed=2) if calibration is None else calibration
    return quantize_graph(graph, "int8", calibration=calibration, io="int8")


def files(model, calibration=None) -> tuple[bytes, bytes]:
    """``(tflite, onnx)`` bytes of the full-int8 model."""
    graph = int8_graph(model, calibration)
    return (
        write_tflite(prepare_for_export(graph, "tflite")),
        write_onnx(prepare_for_export(graph, "onnx"), check=True),
    )


def quantize_input(x: np.ndarray, detail: dict) -> np.ndarray:
    scale, zp = detail["quantization"]
    return np.clip(np.floor(x / np.float32(scale) + 0.5) + zp, -128, 127).astype(np.int8)


def dequantize_output(y: np.ndarray, detail: dict) -> np.ndarray:
    scale, zp = detail["quantization"]
    return (y.astype(np.float32) - zp) * np.float32(scale)


def invoke(interpreter, x: np.ndarray) -> np.ndarray:
    """Resizes the batch, runs int8 ``x`` (float, quantized here); returns the raw output."""
    detail = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(detail["index"], list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(detail["index"], quantize_input(x, detail))
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
