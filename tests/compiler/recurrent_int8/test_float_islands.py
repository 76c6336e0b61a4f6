"""What TFLite's integer kernels cannot express stays float, with a warning naming the layer and
the reason, never a wrong integer graph."""

from __future__ import annotations

import numpy as np
import pytest

from compiler import keras
from compiler.export.tflite import write_tflite
from compiler.keras import layers
from compiler.lower.model import lower_model
from compiler.passes import optimize, prepare_for_export
from compiler.quantize import quantize_graph
from compiler.quantize.int8 import float_islands
from compiler.quantize.recurrent import RecurrentQuantizationWarning
from tests.compiler.recurrent_int8.helpers import (
    FEATURES,
    STEPS,
    UNITS,
    VOCAB,
    _seeded,
    dequantize_output,
    inputs,
    invoke,
)
from tests.runtime.tflite._litert import litert_interpreter


def _quantized(model, calibration):
    graph = optimize(lower_model(model)).graph
    return quantize_graph(graph, "int8", calibration=calibration, io="int8")


def _litert_output(graph, x):
    interpreter = litert_interpreter(
        model_content=write_tflite(prepare_for_export(graph, "tflite"))
    )
    detail = interpreter.get_input_details()[0]
    if detail["dtype"] == np.int32:  # token ids
        interpreter.resize_tensor_input(detail["index"], list(x.shape))
        interpreter.allocate_tensors()
        interpreter.set_tensor(detail["index"], x)
        interpreter.invoke()
        raw = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    else:
        raw = invoke(interpreter, x)
    return dequantize_output(raw, interpreter.get_output_details()[0])


@pytest.mark.parametrize("rnn", [layers.LSTM, layers.GRU, layers.SimpleRNN])
def test_masked_layer_stays_float_with_a_warning(rnn):
    inp = keras.Input((STEPS,), dtype="int32")
    x = layers.Embedding(VOCAB, FEATURES, mask_zero=True)(inp)
    model = _seeded(keras.Model(inp, rnn(UNITS, name="masked_rnn")(x)), 0)
    ids = np.random.default_rng(2).integers(0, VOCAB, (64, STEPS)).astype(np.int32)
    ids[:, -1] = 0
    with pytest.warns(RecurrentQuantizationWarning, match=r"'masked_rnn.*Keras mask"):
        graph = _quantized(model, ids)
    assert any("masked_rnn" in island for island in float_islands(graph))
    got = _litert_output(graph, ids[:5])
    np.testing.assert_allclose(got, model.predict(ids[:5], verbose=0), atol=0.05)


def test_relu_lstm_stays_float_with_a_warning():
    inp = keras.Input((STEPS, FEATURES))
    model = _seeded(
        keras.Model(inp, layers.LSTM(UNITS, activation="relu", name="relu_lstm")(inp)), 1
    )
    with pytest.warns(RecurrentQuantizationWarning, match=r"'relu_lstm.*RELU.*always applies tanh"):
        graph = _quantized(model, inputs(64, seed=2))
    assert any(op.type == "UNIDIRECTIONAL_SEQUENCE_LSTM" and op.inputs[0].dtype == "float32"
               for op in graph.ops)  # fmt: skip
    x = inputs(5, seed=3)
    np.testing.assert_allclose(_litert_output(graph, x), model.predict(x, verbose=0), atol=0.05)


def test_lstm_whose_cell_passes_the_integer_tanh_range_stays_float():
    """A cell state that reaches past 64 has no integer form (ApplyTanh takes 6 integer bits):
    gates held open make the cell count the steps."""
    steps, units = 70, 2
    inp = keras.Input((steps, 1))
    lstm = layers.LSTM(units, name="counting_lstm")
    model = keras.Model(inp, lstm(inp))
    kernel, recurrent, bias = lstm.get_weights()
    lstm.set_weights([np.zeros_like(kernel), np.zeros_like(recurrent), np.full_like(bias, 10.0)])
    x = np.ones((4, steps, 1), np.float32)
    with pytest.warns(RecurrentQuantizationWarning, match=r"'counting_lstm.*cell state reaches"):
        graph = _quantized(model, x)
    assert float_islands(graph)
