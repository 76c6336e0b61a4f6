"""Our recurrent layers against real Keras 3 (only where Keras is installed).

Run it with Keras 3 in the environment, e.g. ``KERAS_BACKEND=jax python -m pytest
tests/compiler/keras/rnn/test_keras_interop.py`` in a virtual environment with
``pip install keras jax`` and this project on ``PYTHONPATH``.

Initial states are zero here: with a non-zero ``initial_state`` and leading masked steps, Keras's
backends disagree with each other (TensorFlow outputs zeros before the first unmasked step, JAX
and numpy output the initial state); we follow TensorFlow, the reference of the figures.
"""

import numpy as np
import pytest

from compiler.keras import layers as ours
from tests._oracles import KERAS, require

real = require("keras", KERAS)

B, T, F, U = 3, 6, 4, 5
MASK = np.array([[1, 1, 0, 1, 0, 0], [0, 0, 1, 1, 1, 1], [1, 0, 0, 0, 0, 1]], dtype=bool)


def _run_both(make_real, make_ours, x, **call):
    rng = np.random.default_rng(0)
    theirs = make_real()
    theirs.build((B, T, F))
    weights = [rng.standard_normal(w.shape).astype("float32") * 0.5 for w in theirs.get_weights()]
    theirs.set_weights(weights)
    mine = make_ours()
    mine.build((None, T, F))
    mine.set_weights(weights)
    expected = theirs(x, **call)
    got = mine(x, **call)
    expected = expected if isinstance(expected, (list, tuple)) else [expected]
    got = got if isinstance(got, (list, tuple)) else [got]
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g.data, np.asarray(e), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "name, options",
    [
        ("LSTM", {}),
        ("GRU", {}),
        ("GRU", {"reset_after": False}),
        ("SimpleRNN", {}),
    ],
)
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_layer_matches_keras(name, options, go_backwards, return_sequences, masked):
    x = np.random.default_rng(1).standard_normal((B, T, F)).astype("float32")
    kwargs = dict(
        options, go_backwards=go_backwards, return_sequences=return_sequences, return_state=True
    )
    _run_both(
        lambda: getattr(real.layers, name)(U, **kwargs),
        lambda: getattr(ours, name)(U, **kwargs),
        x,
        mask=MASK if masked else None,
    )


@pytest.mark.parametrize("merge_mode", ["concat", "sum", None])
def test_bidirectional_matches_keras(merge_mode):
    x = np.random.default_rng(2).standard_normal((B, T, F)).astype("float32")
    _run_both(
        lambda: real.layers.Bidirectional(
            real.layers.LSTM(U, return_sequences=True, return_state=True), merge_mode=merge_mode
        ),
        lambda: ours.Bidirectional(
            ours.LSTM(U, return_sequences=True, return_state=True), merge_mode=merge_mode
        ),
        x,
        mask=MASK,
    )


@pytest.mark.parametrize("name", ["LSTM", "GRU", "SimpleRNN"])
def test_config_keys_match_keras(name):
    # An explicit name: automatic ones count the layers made so far in each process.
    theirs = getattr(real.layers, name)(
        7, return_sequences=True, dropout=0.1, name="rnn"
    ).get_config()
    mine = getattr(ours, name)(7, return_sequences=True, dropout=0.1, name="rnn").get_config()
    assert list(mine) == list(theirs)
    assert {k: v for k, v in mine.items() if not k.endswith(("initializer", "dtype"))} == {
        k: v for k, v in theirs.items() if not k.endswith(("initializer", "dtype"))
    }


def test_embedding_config_keys_match_keras():
    assert list(ours.Embedding(10, 3).get_config()) == list(
        real.layers.Embedding(10, 3).get_config()
    )


@pytest.mark.parametrize("name", ["LSTM", "GRU", "SimpleRNN"])
def test_initial_state_matches_keras(name):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((B, T, F)).astype("float32")
    states = [
        rng.standard_normal((B, U)).astype("float32") for _ in range(2 if name == "LSTM" else 1)
    ]
    kwargs = {"return_sequences": True, "return_state": True, "go_backwards": True}
    _run_both(
        lambda: getattr(real.layers, name)(U, **kwargs),
        lambda: getattr(ours, name)(U, **kwargs),
        x,
        initial_state=states,
    )
