"""Callbacks: hook order, History, EarlyStopping, ModelCheckpoint, TerminateOnNaN, CSV, Lambda."""

import csv

import numpy as np
import pytest

from compiler import keras
from compiler.keras import callbacks, layers, optimizers


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64")
    return x, y


def _model(lr=0.01):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            layers.Dense(8, activation="relu"),
            layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=optimizers.SGD(lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model


class Recorder(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_train_begin(self, logs=None):
        self.events.append(("train_begin", self.params["epochs"], self.params["steps"]))

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(("epoch_begin", epoch))

    def on_train_batch_begin(self, batch, logs=None):
        self.events.append(("batch_begin", batch))

    def on_train_batch_end(self, batch, logs=None):
        self.events.append(("batch_end", batch, sorted(logs)))

    def on_test_begin(self, logs=None):
        self.events.append(("test_begin",))

    def on_test_end(self, logs=None):
        self.events.append(("test_end", sorted(logs)))

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch_end", epoch, sorted(logs)))

    def on_train_end(self, logs=None):
        self.events.append(("train_end", sorted(logs)))


def test_hooks_run_in_keras_order_with_logs():
    x, y = _data(32)
    recorder = Recorder()
    model = _model()
    model.fit(
        x, y, epochs=1, batch_size=16, validation_data=(x, y), callbacks=[recorder], verbose=0
    )
    assert recorder.model is model
    logs = ["accuracy", "loss"]
    epoch_logs = ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert recorder.events == [
        ("train_begin", 1, 2),
        ("epoch_begin", 0),
        ("batch_begin", 0),
        ("batch_end", 0, logs),
        ("batch_begin", 1),
        ("batch_end", 1, logs),
        ("test_begin",),
        ("test_end", logs),
        ("epoch_end", 0, epoch_logs),
        ("train_end", epoch_logs),
    ]


def test_callback_list_rejects_non_callbacks():
    x, y = _data(8)
    with pytest.raises(ValueError, match="Callback"):
        _model().fit(x, y, callbacks=[lambda: None], verbose=0)


def test_early_stopping_stops_after_patience():
    x, y = _data()
    model = _model(lr=0.0)  # nothing improves: stops after `patience` epochs
    # min_delta: with a zero learning rate only float32 summation order moves the loss.
    stopper = callbacks.EarlyStopping(monitor="loss", patience=2, min_delta=1e-4)
    history = model.fit(x, y, epochs=20, callbacks=[stopper], verbose=0)
    assert len(history.history["loss"]) == 3
    assert stopper.stopped_epoch == 2 and model.stop_training


def test_early_stopping_restores_best_weights(capsys):
    x, y = _data()
    model = _model()
    stopper = callbacks.EarlyStopping(
        monitor="val_loss", patience=1, restore_best_weights=True, verbose=1
    )
    snapshots = []
    keep = callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: snapshots.append((logs["val_loss"], model.get_weights()))
    )

    # A learning rate that explodes after two epochs makes val_loss get worse.
    def explode(epoch, logs):
        if epoch == 1:
            model.optimizer.learning_rate = 50.0

    history = model.fit(
        x,
        y,
        epochs=10,
        validation_split=0.25,
        verbose=0,
        callbacks=[keep, callbacks.LambdaCallback(on_epoch_end=explode), stopper],
    )
    losses = history.history["val_loss"]
    assert len(losses) < 10
    best = int(np.argmin(losses))
    for a, b in zip(model.get_weights(), snapshots[best][1], strict=True):
        np.testing.assert_array_equal(a, b)
    out = capsys.readouterr().out
    assert f"Restoring model weights from the end of the best epoch: {best + 1}." in out
    assert "early stopping" in out


def test_early_stopping_modes_baseline_and_errors():
    stopper = callbacks.EarlyStopping(monitor="val_accuracy", baseline=0.99, patience=1)
    x, y = _data()
    model = _model(lr=0.0)
    history = model.fit(x, y, epochs=10, validation_split=0.25, callbacks=[stopper], verbose=0)
    assert len(history.history["loss"]) == 2  # never beats the baseline
    assert stopper.monitor_op(2, 1)  # accuracy: larger is better
    unknown = callbacks.EarlyStopping(monitor="val_weird")
    with pytest.raises(ValueError, match="mode='max'"):
        _model().fit(x, y, epochs=1, validation_split=0.25, callbacks=[unknown], verbose=0)
    missing = callbacks.EarlyStopping(monitor="val_weird", mode="min")
    with pytest.warns(UserWarning, match="not available. Available metrics are: accuracy,loss"):
        _model().fit(x, y, epochs=1, validation_split=0.25, callbacks=[missing], verbose=0)


def test_model_checkpoint_saves_per_epoch_and_best_only(tmp_path, monkeypatch):
    saved = []
    monkeypatch.setattr(
        keras.Model, "save", lambda self, path, overwrite=True, **kw: saved.append(path)
    )
    x, y = _data()
    model = _model()
    every = callbacks.ModelCheckpoint(
        str(tmp_path / "sub" / "m-{epoch:02d}-{loss:.1f}.keras"), monitor="loss"
    )
    model.fit(x, y, epochs=3, callbacks=[every], verbose=0)
    assert [p.split("/")[-1][:5] for p in saved] == ["m-01-", "m-02-", "m-03-"]
    assert (tmp_path / "sub").is_dir()

    saved.clear()
    best = callbacks.ModelCheckpoint(
        str(tmp_path / "best.keras"), monitor="val_loss", save_best_only=True, verbose=1
    )
    model = _model(lr=0.0)
    model.fit(x, y, epochs=3, validation_split=0.25, callbacks=[best], verbose=0)
    assert saved == [str(tmp_path / "best.keras")]  # only the first epoch improves on inf


def test_model_checkpoint_weights_only(tmp_path, monkeypatch):
    saved = []
    monkeypatch.setattr(
        keras.Model, "save_weights", lambda self, path, overwrite=True: saved.append(path)
    )
    x, y = _data(16)
    checkpoint = callbacks.ModelCheckpoint(
        str(tmp_path / "w.weights.h5"), save_weights_only=True, save_freq=1
    )
    _model().fit(x, y, epochs=1, batch_size=8, callbacks=[checkpoint], verbose=0)
    assert saved == [str(tmp_path / "w.weights.h5")] * 2
    with pytest.raises(ValueError, match=r"must end in `.keras`"):
        callbacks.ModelCheckpoint("model.h5")
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        callbacks.ModelCheckpoint("model.keras", save_weights_only=True)


def test_model_checkpoint_writes_a_real_keras_file(tmp_path):
    x, y = _data(16)
    model = _model()
    path = tmp_path / "ckpt.keras"
    model.fit(x, y, epochs=1, callbacks=[callbacks.ModelCheckpoint(str(path))], verbose=0)
    assert path.is_file() and path.stat().st_size > 0
    restored = keras.models.load_model(path)
    np.testing.assert_allclose(
        restored.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6
    )


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_terminate_on_nan_stops_mid_epoch(capsys):
    x, y = _data(64)
    model = _model(lr=1e30)
    history = model.fit(
        x, y, epochs=5, batch_size=4, callbacks=[callbacks.TerminateOnNaN()], verbose=0
    )
    assert len(history.history["loss"]) == 1
    assert not np.isfinite(history.history["loss"][0])
    assert "Invalid loss, terminating training" in capsys.readouterr().out


def test_csv_logger_and_lambda_callback(tmp_path):
    x, y = _data()
    path = tmp_path / "log.csv"
    begun = []
    lam = callbacks.LambdaCallback(
        on_train_begin=lambda logs: begun.append(True),
        on_batch_end=lambda batch, logs: begun.append(batch),
    )
    _model().fit(
        x,
        y,
        epochs=2,
        batch_size=32,
        validation_split=0.5,
        callbacks=[callbacks.CSVLogger(str(path)), lam],
        verbose=0,
    )
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1"]
    assert begun == [True, 0, 0]
    _model().fit(
        x,
        y,
        epochs=1,
        validation_split=0.5,
        callbacks=[callbacks.CSVLogger(str(path), append=True)],
        verbose=0,
    )
    assert len(list(csv.reader(path.open()))) == 4


def test_history_is_returned_and_stop_training_flag():
    x, y = _data(16)
    model = _model()

    class StopAtOne(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    history = model.fit(x, y, epochs=5, callbacks=[StopAtOne()], verbose=0)
    assert isinstance(history, callbacks.History)
    assert history.epoch == [0, 1]


def test_learning_rate_scheduler_sets_rate_and_logs_it(capsys):
    x, y = _data(16)
    model = _model()
    scheduler = callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1), verbose=1)
    history = model.fit(x, y, epochs=3, callbacks=[scheduler], verbose=0)
    np.testing.assert_allclose(history.history["learning_rate"], [0.1, 0.05, 0.1 / 3], rtol=1e-6)
    out = capsys.readouterr().out
    assert "Epoch 2: LearningRateScheduler setting learning rate to 0.05." in out
    one_arg = callbacks.LearningRateScheduler(lambda epoch: 0.5)
    model.fit(x, y, epochs=1, callbacks=[one_arg], verbose=0)
    assert float(model.optimizer.learning_rate) == 0.5
    with pytest.raises(ValueError, match="should be a float"):
        model.fit(
            x,
            y,
            epochs=1,
            verbose=0,
            callbacks=[callbacks.LearningRateScheduler(lambda epoch: "fast")],
        )


def test_reduce_lr_on_plateau():
    x, y = _data()
    model = _model()
    model.optimizer.learning_rate = 0.08
    # Undoing every update keeps the loss flat, so the plateau logic alone drives the rate.
    weights = model.get_weights()
    undo = callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: model.set_weights(weights)
    )
    plateau = callbacks.ReduceLROnPlateau(
        monitor="loss", factor=0.5, patience=1, cooldown=2, min_lr=0.02
    )
    history = model.fit(x, y, epochs=7, callbacks=[undo, plateau], verbose=0)
    # Logged before each decision: reduce at epoch 1; the cooldown skips epoch 2; epoch 3
    # counts again and reduces; then the floor min_lr=0.02 is reached.
    np.testing.assert_allclose(
        history.history["learning_rate"], [0.08, 0.08, 0.04, 0.04, 0.02, 0.02, 0.02], rtol=1e-6
    )
    with pytest.raises(ValueError, match="factor >= 1.0"):
        callbacks.ReduceLROnPlateau(factor=2.0)
