"""fit's multi-process training steps (compiler/keras/_data_parallel.py).

The oracle is the same fit in one process: histories and weights agree to float rounding,
dropout included (masks drawn per batch, not per process).
The helper process must leave with its fit, also when a callback raises, and models whose
batches cannot be split without changing Keras's semantics must stay in one process.
"""

import importlib
import os

import numpy as np
import pytest

from compiler import keras
from compiler.keras import layers

data_parallel = importlib.import_module("compiler.keras._data_parallel")
parallelism = importlib.import_module("compiler.keras._parallelism")
RNG = np.random.default_rng(8)


@pytest.fixture
def helpers(monkeypatch):
    """Two training workers, processes even where this test process runs other threads (JAX,
    imported by another test); records every helper process started."""
    monkeypatch.setitem(parallelism._settings, "workers", 2)
    monkeypatch.setitem(parallelism._settings, "processes", "always")
    started = []
    original = data_parallel.DataParallel.__init__

    def recording(self, *args, **kwargs):
        original(self, *args, **kwargs)
        started.extend(self.pids)

    monkeypatch.setattr(data_parallel.DataParallel, "__init__", recording)
    return started


def _cnn(dropout=0.0):
    keras.utils.set_random_seed(4)
    model = keras.Sequential(
        [
            keras.Input((10, 10, 1)),
            layers.Conv2D(4, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dropout(dropout),
            layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def _data(n=150):
    x = RNG.random((n, 10, 10, 1)).astype(np.float32)
    y = keras.utils.to_categorical(RNG.integers(0, 3, n), 3)
    return x, y


def _gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_two_processes_train_as_one(helpers, monkeypatch):
    x, y = _data()
    split = _cnn()
    history = split.fit(x, y, batch_size=40, epochs=3, verbose=0, validation_split=0.2)
    assert len(helpers) == 1 and _gone(helpers[0])
    monkeypatch.setitem(parallelism._settings, "workers", 1)  # one worker: no helper
    whole = _cnn()
    reference = whole.fit(x, y, batch_size=40, epochs=3, verbose=0, validation_split=0.2)
    assert len(helpers) == 1
    for key, values in reference.history.items():
        np.testing.assert_allclose(history.history[key], values, rtol=2e-5, atol=1e-6)
    for got, expected in zip(split.get_weights(), whole.get_weights(), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


def test_a_last_batch_of_one_sample_is_not_split(helpers, monkeypatch):
    x, y = _data(65)  # batches of 32, 32 and 1
    history = _cnn().fit(x, y, batch_size=32, epochs=2, verbose=0, shuffle=False).history
    assert len(helpers) == 1
    monkeypatch.setitem(parallelism._settings, "workers", 1)
    reference = _cnn().fit(x, y, batch_size=32, epochs=2, verbose=0, shuffle=False).history
    for key, values in reference.items():
        np.testing.assert_allclose(history[key], values, rtol=2e-5)


def test_same_seed_same_history_with_dropout_in_both_processes(helpers):
    x, y = _data()
    runs = [
        _cnn(dropout=0.5).fit(x, y, batch_size=32, epochs=2, verbose=0).history for _ in range(2)
    ]
    assert len(helpers) == 2
    assert runs[0] == runs[1]


def test_the_helper_leaves_when_a_callback_raises(helpers):
    class Boom(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                raise RuntimeError("boom")

    x, y = _data()
    with pytest.raises(RuntimeError, match="boom"):
        _cnn().fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[Boom()])
    assert len(helpers) == 1 and _gone(helpers[0])


def _batch_norm_model():
    return keras.Sequential(
        [
            keras.Input((10, 10, 1)),
            layers.Conv2D(4, 3),
            layers.BatchNormalization(),
            layers.Flatten(),
            layers.Dense(3),
        ]
    )


class _Subclassed(keras.Model):
    """Its own ``call`` may mix samples (here it does not, but fit cannot know)."""

    def __init__(self):
        super().__init__()
        self.conv = layers.Conv2D(4, 3)
        self.flatten = layers.Flatten()
        self.dense = layers.Dense(3)

    def call(self, inputs):
        return self.dense(self.flatten(self.conv(inputs)))


def _dense_model():
    return keras.Sequential([keras.Input((10, 10, 1)), layers.Flatten(), layers.Dense(3)])


@pytest.mark.parametrize(
    "build, loss, batch_size",
    [
        (_batch_norm_model, "categorical_crossentropy", 40),  # batch statistics
        (_dense_model, "categorical_crossentropy", 40),  # no convolution: not worth it
        (_Subclassed, "categorical_crossentropy", 40),  # a call of its own
        (lambda: _cnn(), keras.losses.CategoricalCrossentropy(reduction="sum"), 40),
        (lambda: _cnn(), "categorical_crossentropy", 16),  # halves too small
    ],
)
def test_models_that_halves_would_change_stay_in_one_process(helpers, build, loss, batch_size):
    model = build()
    model.compile(loss=loss, optimizer="sgd")
    x, y = _data(64)
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
    assert helpers == []


def test_a_helper_that_dies_is_a_clear_error(helpers):
    import signal

    class Kill(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 0:
                os.kill(helpers[0], signal.SIGKILL)

    x, y = _data()
    with pytest.raises(RuntimeError, match="helper process"):
        _cnn().fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[Kill()])
    assert _gone(helpers[0])
