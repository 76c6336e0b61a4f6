"""Small recurrent models for the export tests (every configuration of the issue)."""

from __future__ import annotations

import numpy as np

from compiler import keras
from compiler.keras import layers

STEPS, FEATURES, UNITS, VOCAB = 4, 3, 5, 12


def _seeded(model, seed: int):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def _rnn(kind: str, **kwargs):
    if kind == "gru_v1":
        return layers.GRU(UNITS, reset_after=False, **kwargs)
    return {"lstm": layers.LSTM, "gru": layers.GRU, "rnn": layers.SimpleRNN}[kind](UNITS, **kwargs)


def sequence_model(kind: str, seed: int = 0, **kwargs):
    """Input (STEPS, FEATURES) -> one recurrent layer."""
    inp = keras.Input((STEPS, FEATURES))
    out = _rnn(kind, **kwargs)(inp)
    return _seeded(keras.Model(inp, out), seed)


def bidirectional_model(kind: str, merge_mode, seed: int = 0, **kwargs):
    inp = keras.Input((STEPS, FEATURES))
    out = layers.Bidirectional(_rnn(kind, **kwargs), merge_mode=merge_mode)(inp)
    return _seeded(keras.Model(inp, out), seed)


def embedding_model(kind: str, mask_zero: bool, seed: int = 0, **kwargs):
    inp = keras.Input((STEPS,), dtype="int32")
    x = layers.Embedding(VOCAB, FEATURES, mask_zero=mask_zero)(inp)
    out = _rnn(kind, **kwargs)(x)
    return _seeded(keras.Model(inp, out), seed)


def stacked_model(seed: int = 0, mask_zero: bool = False):
    inp = keras.Input((STEPS,), dtype="int32")
    x = layers.Embedding(VOCAB, FEATURES, mask_zero=mask_zero)(inp)
    x = layers.LSTM(UNITS, return_sequences=True)(x)
    x = layers.Bidirectional(layers.GRU(UNITS, return_sequences=True))(x)
    x = layers.SimpleRNN(UNITS)(x)
    out = layers.Dense(3, activation="softmax")(x)
    return _seeded(keras.Model(inp, out), seed)


def inputs_for(model, batch: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    if model.inputs[0].dtype == "int32" or str(model.inputs[0].dtype) == "int32":
        ids = rng.integers(0, VOCAB, (batch, STEPS)).astype(np.int32)
        ids[:, -1] = 0  # padding at the end and inside, for the masks
        if batch > 1:
            ids[1, 1] = 0
        return ids
    return rng.normal(0, 1, (batch, STEPS, FEATURES)).astype(np.float32)
