"""Real Keras 3 loads what we write, and we load what it writes (only where Keras is installed).

Run it with Keras 3 in the environment, e.g. ``KERAS_BACKEND=jax python -m pytest
tests/compiler/keras/saving/test_keras_interop.py`` in a virtual environment with
``pip install keras jax`` and this project on ``PYTHONPATH``.
"""

import numpy as np
import pytest

from compiler import keras as ours
from compiler.keras.saving import InvalidModelFileError
from tests.compiler.keras.saving._fixtures import xfail_if_others

real = pytest.importorskip("keras")


def _our_models():
    layers = ours.layers
    ours.utils.set_random_seed(3)
    cnn = ours.Sequential([
        ours.Input(shape=(12, 12, 1)), layers.Conv2D(4, 3, activation="relu"),
        layers.MaxPooling2D(), layers.BatchNormalization(), layers.Flatten(), layers.Dropout(0.5),
        layers.Dense(5, activation="softmax")], name="cnn")
    a, b = ours.Input(shape=(6,), name="a"), ours.Input(shape=(6,), name="b")
    shared = layers.Dense(5, activation="tanh", name="shared")
    hidden = layers.Concatenate()([shared(a), shared(b)])
    hidden = ours.Sequential([ours.Input(shape=(10,)), layers.Dense(4, activation="relu")],
                             name="inner")(hidden)
    two = ours.Model([a, b], [layers.Dense(3, activation="softmax", name="cls")(hidden),
                              layers.Dense(1, name="reg")(hidden)], name="two")
    tokens = ours.Input(shape=(12,), dtype="int32", name="tok")
    seq = layers.Bidirectional(layers.LSTM(6, return_sequences=True))(
        layers.Embedding(50, 8)(tokens))
    rnn = ours.Model(tokens, layers.Dense(2)(layers.GRU(5)(seq)), name="rnn")
    rng = np.random.default_rng(0)
    return [
        (cnn, [rng.standard_normal((4, 12, 12, 1)).astype("float32")]),
        (two, [rng.standard_normal((4, 6)).astype("float32") for _ in range(2)]),
        (rnn, [rng.integers(0, 50, (3, 12)).astype("int32")]),
    ]


def _as_list(out):
    return [np.asarray(o) for o in out] if isinstance(out, (list, tuple)) else [np.asarray(out)]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_real_keras_loads_our_files(tmp_path, index):
    model, xs = _our_models()[index]
    if index == 0:
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(xs[0], np.arange(4) % 5, epochs=1, batch_size=2, verbose=0)
    target = tmp_path / f"{model.name}.keras"
    model.save(target)
    loaded = real.saving.load_model(target)
    feed = xs if len(xs) > 1 else xs[0]
    for a, b in zip(_as_list(model.predict(feed, verbose=0)),
                    _as_list(loaded.predict(feed, verbose=0)), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
    if index == 0:
        theirs = [np.asarray(v) for v in loaded.optimizer.variables]
        assert len(theirs) == len(model.optimizer.variables)
        for a, b in zip(model.optimizer.variables, theirs, strict=True):
            np.testing.assert_allclose(a.data, b, rtol=0, atol=0)


def test_we_load_files_real_keras_writes_after_training(tmp_path):
    layers = real.layers
    real.utils.set_random_seed(5)
    model = real.Sequential([
        real.Input(shape=(12, 12, 3)), layers.Conv2D(4, 3, padding="same", activation="relu"),
        layers.BatchNormalization(), layers.DepthwiseConv2D(3), layers.AveragePooling2D(2),
        layers.Flatten(), layers.Dense(6, activation="softmax")], name="kcnn")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((16, 12, 12, 3)).astype("float32")
    model.compile(optimizer=real.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(x, rng.integers(0, 6, 16), epochs=2, batch_size=8, verbose=0)
    target = tmp_path / "kcnn.keras"
    model.save(target)
    try:
        loaded = ours.saving.load_model(target)
    except InvalidModelFileError as error:
        xfail_if_others([str(error)])
        raise
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=0, atol=1e-5)
    theirs = [np.asarray(v) for v in model.optimizer.variables]
    assert len(loaded.optimizer.variables) == len(theirs)
    for a, b in zip(loaded.optimizer.variables, theirs, strict=True):
        np.testing.assert_array_equal(a.data, b)
