"""Bounded, deterministic fuzz: random recurrent configurations agree with ``predict`` in LiteRT
and onnxruntime."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler import keras
from compiler.keras import layers
from tests._oracles import LITERT, ONNXRUNTIME, require
from tests.compiler.recurrent.helpers import TOLERANCE, compile_both, run_onnx, run_tflite

LiteRT = require("ai_edge_litert.interpreter", LITERT).Interpreter
OrtSession = require("onnxruntime", ONNXRUNTIME).InferenceSession

_LAYERS = {"lstm": layers.LSTM, "gru": layers.GRU, "rnn": layers.SimpleRNN}


@st.composite
def configurations(draw):
    return {
        "kind": draw(st.sampled_from(sorted(_LAYERS))),
        "units": draw(st.integers(1, 6)),
        "steps": draw(st.integers(1, 5)),
        "features": draw(st.integers(1, 4)),
        "return_sequences": draw(st.booleans()),
        "go_backwards": draw(st.booleans()),
        "mask_zero": draw(st.booleans()),
        "bidirectional": draw(st.sampled_from([None, "concat", "sum", "mul", "ave"])),
        "batch": draw(st.integers(1, 4)),
        "seed": draw(st.integers(0, 2**16)),
    }


def _build(c):
    inp = keras.Input((c["steps"],), dtype="int32")
    x = layers.Embedding(7, c["features"], mask_zero=c["mask_zero"])(inp)
    kwargs = {"return_sequences": c["return_sequences"], "go_backwards": c["go_backwards"]}
    if c["kind"] == "gru":
        kwargs["reset_after"] = c["seed"] % 2 == 0
    layer = _LAYERS[c["kind"]](c["units"], **kwargs)
    if c["bidirectional"]:
        layer = layers.Bidirectional(layer, merge_mode=c["bidirectional"])
    model = keras.Model(inp, layer(x))
    rng = np.random.default_rng(c["seed"])
    model.set_weights([rng.normal(0, 0.6, w.shape).astype(np.float32) for w in model.get_weights()])
    ids = rng.integers(0, 7, (c["batch"], c["steps"])).astype(np.int32)
    ids[0, 0] = 1  # at least one real step: Keras's output for an all-masked row is zero too
    return model, ids


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(configurations())
def test_random_configurations(c):
    model, ids = _build(c)
    expected = model.predict(ids, verbose=0)
    tflite, onnx_bytes = compile_both(model)
    for where, y in (
        ("litert", run_tflite(tflite, ids, LiteRT)),
        ("onnxruntime", run_onnx(onnx_bytes, ids, OrtSession)),
    ):
        np.testing.assert_allclose(y, expected, atol=TOLERANCE, rtol=0, err_msg=f"{c} {where}")
