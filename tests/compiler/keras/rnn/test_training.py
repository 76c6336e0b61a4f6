"""Recurrent layers inside real models: fit, masks through other layers, param counts."""

import numpy as np
import pytest

from compiler import keras
from compiler.keras import layers


def _sign_task(n=384, steps=12, features=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, steps, features)).astype(np.float32)
    return x, (x[:, :, 0].sum(axis=1) > 0).astype(np.float32)[:, None]


@pytest.mark.parametrize(
    "make",
    [
        lambda: layers.LSTM(16),
        lambda: layers.GRU(16, reset_after=False),
        lambda: layers.Bidirectional(layers.SimpleRNN(8)),
    ],
)
def test_fit_learns_the_sign_of_a_sum(make):
    keras.utils.set_random_seed(0)
    x, y = _sign_task()
    model = keras.Sequential(
        [keras.Input(x.shape[1:]), make(), layers.Dense(1, activation="sigmoid")]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"]
    )
    before = model.evaluate(x, y, verbose=0)
    history = model.fit(x, y, batch_size=32, epochs=6, verbose=0)
    assert history.history["loss"][-1] < 0.6 * before[0]
    assert history.history["accuracy"][-1] > 0.85


def test_text_model_with_conv_pooling_and_masked_average():
    """Embedding -> Conv1D -> MaxPooling1D -> LSTM, and a masked branch LSTM -> average."""
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    ids = rng.integers(1, 20, size=(64, 10))
    ids[::2, 6:] = 0  # padding
    y = (ids[:, 0] > 10).astype(np.float32)[:, None]
    tokens = keras.Input((10,), dtype="int32")
    conv = layers.MaxPooling1D(2)(
        layers.Conv1D(8, 3, padding="same")(layers.Embedding(20, 6)(tokens))
    )
    left = layers.LSTM(6)(conv)
    masked = layers.Embedding(20, 6, mask_zero=True)(tokens)
    right = layers.GlobalAveragePooling1D()(layers.GRU(6, return_sequences=True)(masked))
    out = layers.Dense(1, activation="sigmoid")(layers.Concatenate()([left, right]))
    model = keras.Model(tokens, out)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    losses = model.fit(ids, y, batch_size=16, epochs=3, verbose=0).history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    # The average skips the padded steps: padding more zeros changes nothing.
    longer = np.concatenate([ids, np.zeros((64, 4), ids.dtype)], axis=1)
    emb, rec, avg = (
        layers.Embedding(20, 6, mask_zero=True),
        layers.GRU(6, return_sequences=True),
        layers.GlobalAveragePooling1D(),
    )
    short_out = avg(rec(emb(ids))).data
    np.testing.assert_allclose(avg(rec(emb(longer))).data, short_out, rtol=1e-5, atol=1e-6)


def test_param_counts_match_keras():
    model = keras.Sequential([keras.Input((50, 8)), layers.LSTM(64), layers.Dense(1)])
    assert model.layers[0].count_params() == 18_688  # 4 * (8*64 + 64*64 + 64)
    gru = layers.GRU(64)
    gru.build((None, 50, 8))
    assert gru.count_params() == 14_208  # 3 * (8*64 + 64*64 + 2*64)
    gru_before = layers.GRU(64, reset_after=False)
    gru_before.build((None, 50, 8))
    assert gru_before.count_params() == 14_016  # 3 * (8*64 + 64*64 + 64)
    simple = layers.SimpleRNN(64)
    simple.build((None, 50, 8))
    assert simple.count_params() == 4_672  # 8*64 + 64*64 + 64
    bi = layers.Bidirectional(layers.LSTM(16))
    bi.build((None, 20, 8))
    assert bi.count_params() == 3_200
