"""Recurrent models exported to TFLite and ONNX match Keras ``predict`` in LiteRT, onnxruntime
and our runtime, at batch 1 and 5 (float within 1e-5)."""

from __future__ import annotations

import numpy as np
import pytest

import runtime
from compiler import keras
from compiler.lower.errors import UnsupportedLayerError
from compiler.lower.model import lower_model
from runtime.tflite.model import read_model
from tests._oracles import LITERT, ONNXRUNTIME, require
from tests.compiler.recurrent import models as M
from tests.compiler.recurrent.helpers import TOLERANCE, compile_both, run_onnx, run_tflite
from tests.fixtures import KERAS3

LiteRT = require("ai_edge_litert.interpreter", LITERT).Interpreter
OrtSession = require("onnxruntime", ONNXRUNTIME).InferenceSession

FIXTURES = KERAS3

CASES = {
    "lstm": lambda: M.sequence_model("lstm"),
    "lstm_seq_backwards": lambda: M.sequence_model(
        "lstm", return_sequences=True, go_backwards=True
    ),
    "lstm_state": lambda: M.sequence_model("lstm", return_state=True),
    "gru": lambda: M.sequence_model("gru", return_sequences=True),
    "gru_backwards": lambda: M.sequence_model("gru", go_backwards=True),
    "gru_v1": lambda: M.sequence_model("gru_v1"),
    "gru_v1_seq": lambda: M.sequence_model("gru_v1", return_sequences=True, go_backwards=True),
    "rnn": lambda: M.sequence_model("rnn"),
    "rnn_seq_relu": lambda: M.sequence_model("rnn", return_sequences=True, activation="relu"),
    "bi_lstm_concat": lambda: M.bidirectional_model("lstm", "concat", return_sequences=True),
    "bi_gru_sum": lambda: M.bidirectional_model("gru", "sum"),
    "bi_rnn_mul": lambda: M.bidirectional_model("rnn", "mul", return_sequences=True),
    "bi_lstm_ave": lambda: M.bidirectional_model("lstm", "ave"),
    "embed_lstm": lambda: M.embedding_model("lstm", False),
    "embed_mask_lstm": lambda: M.embedding_model("lstm", True),
    "embed_mask_gru_seq": lambda: M.embedding_model("gru", True, return_sequences=True),
    "embed_mask_rnn_backwards": lambda: M.embedding_model("rnn", True, go_backwards=True),
    "stacked": lambda: M.stacked_model(),
    "stacked_masked": lambda: M.stacked_model(mask_zero=True),
}


def _first(y):
    return y[0] if isinstance(y, list) else y


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_predict_everywhere(name):
    model = CASES[name]()
    tflite, onnx_bytes = compile_both(model)
    for batch in (1, 5):
        x = M.inputs_for(model, batch)
        expected = _first(model.predict(x, verbose=0))
        results = {
            "litert": run_tflite(tflite, x, LiteRT),
            "runtime.tflite": run_tflite(tflite, x, runtime.Interpreter),
            "onnxruntime": run_onnx(onnx_bytes, x, OrtSession),
            "runtime.onnx": run_onnx(onnx_bytes, x, runtime.InferenceSession),
        }
        for where, y in results.items():
            np.testing.assert_allclose(
                y, expected, atol=TOLERANCE, rtol=0, err_msg=f"{name} batch {batch} in {where}"
            )


def _op_names(tflite: bytes) -> list[list[str]]:
    return [[op.name for op in sg.operators] for sg in read_model(tflite).subgraphs]


def test_fused_ops_and_no_loops():
    lstm, _ = compile_both(M.sequence_model("lstm"))
    (ops,) = _op_names(lstm)
    assert ops.count("UNIDIRECTIONAL_SEQUENCE_LSTM") == 1 and "WHILE" not in ops
    rnn, _ = compile_both(M.sequence_model("rnn"))
    assert _op_names(rnn)[0].count("UNIDIRECTIONAL_SEQUENCE_RNN") == 1
    gru, _ = compile_both(M.sequence_model("gru"))
    (ops,) = _op_names(gru)
    assert "WHILE" not in ops and ops.count("LOGISTIC") == 2 * M.STEPS


def _free_batch(model):
    """The same model with the batch of 1 (which TFLiteConverter needed) left open."""
    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "InputLayer":
            layer["config"]["batch_shape"] = [None, *layer["config"]["batch_shape"][1:]]
    free = type(model).from_config(config)
    free.set_weights(model.get_weights())
    return free


def test_lstm_text_fixture_single_fused_op_at_batch_4():
    fixed = keras.models.load_model(FIXTURES / "lstm_text.keras")  # saved with batch 1
    io = np.load(FIXTURES / "lstm_text.io.npz")
    rng = np.random.default_rng(0)
    x = np.concatenate([io["x0"], rng.integers(0, 100, (3, 20)).astype(np.int32)])
    expected = np.concatenate([fixed.predict(row[None], verbose=0) for row in x])
    np.testing.assert_allclose(expected[:1], io["y0"], atol=1e-5, rtol=0)
    tflite, _ = compile_both(fixed)
    assert lower_model(fixed).count_params() == fixed.count_params()  # indices are no weights
    subgraphs = _op_names(tflite)
    assert len(subgraphs) == 1
    assert subgraphs[0].count("UNIDIRECTIONAL_SEQUENCE_LSTM") == 1
    # The file keeps Keras's batch of 1; resize_tensor_input takes it to 4.
    for interpreter in (LiteRT, runtime.Interpreter):
        np.testing.assert_allclose(run_tflite(tflite, x, interpreter), expected, atol=TOLERANCE)
    # With the batch left open, the files declare it dynamic (-1 / "batch").
    free_tflite, free_onnx = compile_both(_free_batch(fixed))
    assert read_model(free_tflite).subgraphs[0].tensors[0].shape_signature[0] == -1
    for y in (
        run_tflite(free_tflite, x, LiteRT),
        run_onnx(free_onnx, x, OrtSession),
        run_onnx(free_onnx, x, runtime.InferenceSession),
    ):
        np.testing.assert_allclose(y, expected, atol=TOLERANCE, rtol=0)


def test_unsupported_options_name_the_layer():
    model = M.sequence_model("lstm", recurrent_activation="tanh")
    with pytest.raises(UnsupportedLayerError, match="lstm.*recurrent_activation"):
        lower_model(model)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn", "bi_lstm"])
def test_return_state_outputs(kind):
    """Every output of ``return_state=True`` (sequence, h, and an LSTM's c; a Bidirectional's
    merged output, then the forward and the backward states)."""
    inp = keras.Input((M.STEPS, M.FEATURES))
    layer = M._rnn(kind.removeprefix("bi_"), return_sequences=True, return_state=True)
    outs = (keras.layers.Bidirectional(layer) if kind.startswith("bi_") else layer)(inp)
    model = M._seeded(keras.Model(inp, list(outs)), 3)
    tflite, onnx_bytes = compile_both(model)
    x = M.inputs_for(model, 5)
    expected = model.predict(x, verbose=0)
    assert len(expected) == {"lstm": 3, "bi_lstm": 5}.get(kind, 2)
    litert = LiteRT(model_content=tflite)
    litert.resize_tensor_input(litert.get_input_details()[0]["index"], x.shape)
    litert.allocate_tensors()
    litert.set_tensor(litert.get_input_details()[0]["index"], x)
    litert.invoke()
    got = [litert.get_tensor(d["index"]) for d in litert.get_output_details()]
    session = OrtSession(onnx_bytes)
    ort = session.run(None, {session.get_inputs()[0].name: x})
    for k, want in enumerate(expected):
        np.testing.assert_allclose(got[k], want, atol=TOLERANCE, rtol=0, err_msg=f"output {k}")
        np.testing.assert_allclose(ort[k], want, atol=TOLERANCE, rtol=0, err_msg=f"output {k}")


def test_masks_that_cannot_be_followed_name_the_layer():
    inp = keras.Input((M.STEPS,), dtype="int32")
    x = keras.layers.Embedding(M.VOCAB, M.FEATURES, mask_zero=True)(inp)
    x = keras.layers.Dropout(0.5)(x)
    model = keras.Model(inp, keras.layers.GRU(M.UNITS, name="late_gru")(x))
    with pytest.raises(UnsupportedLayerError, match="late_gru.*masked value"):
        lower_model(model)


def test_output_bytes_are_deterministic():
    model = CASES["stacked_masked"]()
    assert compile_both(model) == compile_both(model)
