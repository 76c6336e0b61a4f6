"""Model.compile / fit / evaluate / predict: learning, logs, output format, multi-I/O, errors."""

import re

import numpy as np
import pytest

from compiler import keras
from compiler.keras import callbacks, layers, losses, optimizers
from compiler.keras.utils import progbar

RNG = np.random.default_rng(0)


def _blobs(n=512, features=8, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(classes, features))
    labels = rng.integers(0, classes, n)
    x = (centers[labels] + rng.normal(size=(n, features))).astype("float32")
    return x, labels


def _mlp(features=8, classes=3, dropout=False):
    stack = [keras.Input((features,)), layers.Dense(16, activation="relu")]
    if dropout:
        stack.append(layers.Dropout(0.3))
    stack.append(layers.Dense(classes, activation="softmax"))
    return keras.Sequential(stack)


def _compiled(loss="sparse_categorical_crossentropy", metrics=("accuracy",), **kwargs):
    model = _mlp(**kwargs)
    model.compile(
        optimizer=optimizers.Adam(0.01), loss=loss, metrics=list(metrics) if metrics else None
    )
    return model


def test_fit_learns_and_history_has_keras_keys():
    keras.utils.set_random_seed(0)
    x, y = _blobs()
    model = _compiled()
    history = model.fit(x, y, epochs=5, batch_size=32, validation_split=0.2, verbose=0)
    assert list(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert all(len(v) == 5 for v in history.history.values())
    assert history.epoch == [0, 1, 2, 3, 4]
    assert model.history is history
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["val_accuracy"][-1] > 0.9
    assert all(isinstance(v, float) for v in history.history["loss"])


def test_evaluate_matches_a_direct_computation():
    keras.utils.set_random_seed(1)
    x, y = _blobs(n=100)
    model = _compiled()
    loss, accuracy = model.evaluate(x, y, batch_size=32, verbose=0)
    probs = model.predict(x, verbose=0)
    expected_loss = -np.log(np.clip(probs[np.arange(100), y], 1e-7, 1)).mean()
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-5)
    np.testing.assert_allclose(accuracy, np.mean(probs.argmax(-1) == y), rtol=1e-6)
    as_dict = model.evaluate(x, y, verbose=0, return_dict=True)
    assert list(as_dict) == ["accuracy", "loss"]
    no_metrics = _compiled(metrics=None)
    assert isinstance(no_metrics.evaluate(x, y, verbose=0), float)


def test_predict_matches_call_and_batches():
    keras.utils.set_random_seed(2)
    x, _ = _blobs(n=70)
    model = _mlp()
    out = model.predict(x, batch_size=16, verbose=0)
    assert isinstance(out, np.ndarray) and out.shape == (70, 3)
    np.testing.assert_allclose(out, model(x).data, rtol=1e-6)
    np.testing.assert_allclose(model.predict_on_batch(x[:5]), out[:5], rtol=1e-6)


def test_verbose_one_prints_keras_progress_bar(capsys, monkeypatch):
    monkeypatch.setattr(progbar, "dynamic_display", lambda: True)  # a terminal
    keras.utils.set_random_seed(3)
    x, y = _blobs(n=200)
    model = _compiled()
    model.fit(x, y, epochs=2, batch_size=32, validation_split=0.2)
    out = capsys.readouterr().out
    assert out.startswith("Epoch 1/2\n")
    assert "\nEpoch 2/2\n" in out
    lines = [chunk for chunk in re.split(r"[\r\n]", out) if chunk.strip()]
    final = [line for line in lines if "val_loss" in line]
    assert len(final) == 2
    pattern = (
        r"^5/5 ━{20} \d+s \d+(us|ms|s)/step - accuracy: \d\.\d{4} - loss: \d\.\d{4} "
        r"- val_accuracy: \d\.\d{4} - val_loss: \d\.\d{4}\s*$"
    )
    for line in final:
        assert re.match(pattern, line), line
    assert re.search(r"\r\d/5 ", out)  # the bar is redrawn in place


def test_fit_outside_a_terminal_prints_one_line_per_epoch(capsys):
    # verbose="auto" in a log (CI, a pipe; capsys is no terminal): Keras's verbose=2 lines.
    x, y = _blobs(n=200)
    _compiled().fit(x, y, epochs=2, batch_size=32, validation_split=0.2)
    lines = capsys.readouterr().out.split("\n")
    assert len(lines) == 5 and lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    assert lines[4] == "" and "\r" not in "".join(lines)
    pattern = (
        r"^5/5 - \d+s - \d+(us|ms|s)/step - accuracy: \d\.\d{4} - loss: \d\.\d{4} "
        r"- val_accuracy: \d\.\d{4} - val_loss: \d\.\d{4}$"
    )
    assert re.match(pattern, lines[1]) and re.match(pattern, lines[3]), lines


def test_verbose_two_and_zero(capsys):
    x, y = _blobs(n=64)
    model = _compiled()
    model.fit(x, y, epochs=2, batch_size=32, verbose=2)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    assert re.match(
        r"^2/2 - \d+s - \d+(us|ms|s)/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}$", lines[1]
    )
    model.fit(x, y, epochs=1, verbose=0)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""
    model.fit(x, y, epochs=1, batch_size=64)
    assert "Epoch" not in capsys.readouterr().out
    model.evaluate(x, y, batch_size=32)
    out = capsys.readouterr().out
    assert re.search(r"2/2 ━{20} .* - accuracy: \d\.\d{4} - loss: \d\.\d{4}", out)


def _two_in_two_out():
    a = keras.Input((4,), name="a")
    b = keras.Input((3,), name="b")
    joined = layers.Add()(
        [layers.Dense(8, activation="tanh")(a), layers.Dense(8, activation="tanh")(b)]
    )
    cls = layers.Dense(3, activation="softmax", name="cls")(joined)
    reg = layers.Dense(1, name="reg")(joined)
    return keras.Model(inputs=[a, b], outputs=[cls, reg])


def _two_in_two_out_data(n=96):
    rng = np.random.default_rng(5)
    xa = rng.normal(size=(n, 4)).astype("float32")
    xb = rng.normal(size=(n, 3)).astype("float32")
    labels = (xa[:, 0] > 0).astype(int) + (xb[:, 0] > 0).astype(int)
    target = (xa.sum(1, keepdims=True) - xb.sum(1, keepdims=True)).astype("float32")
    return {"a": xa, "b": xb}, {"cls": labels, "reg": target}


def test_multi_input_multi_output_with_dicts():
    keras.utils.set_random_seed(4)
    model = _two_in_two_out()
    x, y = _two_in_two_out_data()
    model.compile(
        optimizer=optimizers.Adam(0.01),
        loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
        loss_weights={"cls": 1.0, "reg": 0.5},
        metrics={"cls": ["accuracy"], "reg": ["mae"]},
    )
    history = model.fit(x, y, epochs=3, batch_size=16, validation_data=(x, y), verbose=0)
    assert sorted(history.history) == sorted(
        [
            "loss",
            "cls_loss",
            "reg_loss",
            "cls_accuracy",
            "reg_mae",
            "val_loss",
            "val_cls_loss",
            "val_reg_loss",
            "val_cls_accuracy",
            "val_reg_mae",
        ]
    )
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["loss"], logs["cls_loss"] + 0.5 * logs["reg_loss"], rtol=1e-5)
    values = model.evaluate(x, y, verbose=0)
    assert values == [
        logs["loss"],
        logs["cls_accuracy"],
        logs["reg_mae"],
        logs["cls_loss"],
        logs["reg_loss"],
    ]
    cls_out, reg_out = model.predict([x["a"], x["b"]], verbose=0)
    assert cls_out.shape == (96, 3) and reg_out.shape == (96, 1)
    as_list = model.evaluate([x["a"], x["b"]], [y["cls"], y["reg"]], verbose=0, return_dict=True)
    assert as_list == logs


def test_multi_output_list_losses_and_one_loss_for_all():
    keras.utils.set_random_seed(6)
    x, y = _two_in_two_out_data(32)
    model = _two_in_two_out()
    model.compile(optimizer="sgd", loss=["sparse_categorical_crossentropy", "mae"])
    logs = model.evaluate(x, [y["cls"], y["reg"]], verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["loss"], logs["cls_loss"] + logs["reg_loss"], rtol=1e-6)
    same = _two_in_two_out()
    same.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"target.shape=\(2,\), output.shape=\(2, 3\)"):
        same.fit(x, {"cls": y["cls"], "reg": y["reg"]}, epochs=1, verbose=0)


def _fit_history(seed, x, y):
    keras.utils.set_random_seed(seed)
    model = _compiled(dropout=True)
    history = model.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=0)
    return history.history, model.get_weights()


def test_set_random_seed_gives_identical_training():
    x, y = _blobs(n=128, seed=7)
    first, weights_a = _fit_history(11, x, y)
    second, weights_b = _fit_history(11, x, y)
    third, _ = _fit_history(12, x, y)
    assert first == second
    for a, b in zip(weights_a, weights_b, strict=True):
        np.testing.assert_array_equal(a, b)
    assert first != third


def test_validation_split_uses_the_last_samples_before_shuffling():
    keras.utils.set_random_seed(8)
    x, y = _blobs(n=100)
    model = _compiled()
    history = model.fit(x, y, epochs=1, batch_size=10, validation_split=0.3, verbose=0)
    val = model.evaluate(x[70:], y[70:], verbose=0, return_dict=True)
    np.testing.assert_allclose(history.history["val_loss"][0], val["loss"], rtol=1e-6)


def test_sample_weight_and_class_weight():
    x, y = _blobs(n=64)
    model = _compiled(metrics=None)
    weights = np.where(y == 0, 2.0, 0.5)
    probs = model.predict(x, verbose=0)
    per_sample = -np.log(probs[np.arange(64), y])
    weighted = model.evaluate(x, y, sample_weight=weights, batch_size=64, verbose=0)
    np.testing.assert_allclose(weighted, (per_sample * weights).mean(), rtol=1e-5)

    def run(**kwargs):
        keras.utils.set_random_seed(9)
        m = _compiled()
        return m.fit(x, y, epochs=2, batch_size=16, verbose=0, **kwargs).history

    assert run(class_weight={0: 2.0, 1: 0.5, 2: 0.5}) == run(sample_weight=weights)


def test_steps_per_epoch_initial_epoch_and_batch_methods():
    x, y = _blobs(n=64)
    model = _compiled()
    seen = []
    counter = callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(batch))
    history = model.fit(
        x,
        y,
        epochs=3,
        initial_epoch=1,
        steps_per_epoch=3,
        batch_size=8,
        callbacks=[counter],
        verbose=0,
    )
    assert history.epoch == [1, 2] and seen == [0, 1, 2, 0, 1, 2]
    before = model.get_weights()[0].copy()
    result = model.train_on_batch(x[:8], y[:8])
    assert len(result) == 2 and not np.array_equal(before, model.get_weights()[0])
    logs = model.test_on_batch(x[:8], y[:8], return_dict=True)
    assert set(logs) == {"accuracy", "loss"}


def test_compile_config_round_trip():
    model = _compiled()
    model.compile(
        optimizer=optimizers.SGD(learning_rate=0.05, momentum=0.9),
        loss=losses.SparseCategoricalCrossentropy(from_logits=False),
        metrics=["accuracy"],
    )
    config = model.get_compile_config()
    assert config["optimizer"]["class_name"] == "SGD"
    assert config["optimizer"]["config"]["momentum"] == 0.9
    assert config["loss"]["class_name"] == "SparseCategoricalCrossentropy"
    assert config["metrics"] == ["accuracy"]
    assert {
        k: config[k]
        for k in (
            "loss_weights",
            "weighted_metrics",
            "run_eagerly",
            "steps_per_execution",
            "jit_compile",
        )
    } == {
        "loss_weights": None,
        "weighted_metrics": None,
        "run_eagerly": False,
        "steps_per_execution": 1,
        "jit_compile": False,
    }
    fresh = _mlp()
    fresh.compile_from_config(config)
    assert isinstance(fresh.optimizer, optimizers.SGD)
    assert fresh.optimizer.get_config() == model.optimizer.get_config()
    assert len(fresh.optimizer.variables) == 2 + len(fresh.trainable_weights)
    x, y = _blobs(n=32)
    fresh.fit(x, y, epochs=1, verbose=0)
    assert _mlp().get_compile_config() == {}


def test_string_loss_config_and_default_optimizer():
    model = _mlp()
    model.compile(loss="categorical_crossentropy")
    config = model.get_compile_config()
    assert config["loss"] == "categorical_crossentropy"
    assert config["optimizer"]["class_name"] == "RMSprop"


class _Recorder(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def on_train_begin(self, logs=None):
        self.calls.append("train_begin")


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"x": np.zeros((10, 8)), "y": np.zeros(9)}, "same number of samples"),
        ({"x": np.zeros((0, 8)), "y": np.zeros(0)}, "non-empty"),
        ({"x": np.zeros((10, 8)), "y": np.zeros(10), "validation_split": 1.0}, "validation_split"),
        ({"x": np.zeros((10, 8)), "y": np.zeros(10), "validation_split": -0.1}, "validation_split"),
        ({"x": np.zeros((10, 8)), "y": np.zeros((10, 5))}, "same shape"),
        ({"x": np.zeros((10, 8)), "y": np.zeros(10), "batch_size": 0}, "batch_size"),
        ({"x": np.zeros((10, 5)), "y": np.zeros(10)}, "expected shape|incompatible"),
        ({"x": np.zeros((1, 8)), "y": np.zeros(1), "validation_split": 0.2}, "not sufficient"),
    ],
)
def test_bad_fit_input_fails_before_training(kwargs, message):
    model = _compiled()
    recorder = _Recorder()
    before = model.get_weights()
    with pytest.raises(ValueError, match=message):
        model.fit(callbacks=[recorder], verbose=0, **kwargs)
    assert recorder.calls == []
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_wrong_label_kind_for_categorical_crossentropy():
    model = _compiled(loss="categorical_crossentropy")
    with pytest.raises(ValueError, match=r"target.shape=\(2,\), output.shape=\(2, 3\)"):
        model.fit(np.zeros((10, 8)), np.zeros(10), verbose=0)


def test_fit_before_compile_and_unknown_names():
    x, y = _blobs(n=8)
    with pytest.raises(ValueError, match="compile"):
        _mlp().fit(x, y)
    with pytest.raises(ValueError, match="compile"):
        _mlp().evaluate(x, y)
    model = _mlp()
    with pytest.raises(ValueError, match="Valid optimizer names"):
        model.compile(optimizer="adamx", loss="mse")
    with pytest.raises(ValueError, match="Valid loss names"):
        model.compile(optimizer="adam", loss="categorical_crossentropi")
    with pytest.raises(ValueError, match="Valid metric names"):
        model.compile(optimizer="adam", loss="mse", metrics=["acuracy"])
    with pytest.raises(ValueError, match="relu"):
        layers.Dense(3, activation="rellu")
    with pytest.raises(ValueError, match="list, tuple, or dict"):
        model.compile(optimizer="adam", loss="mse", metrics="accuracy")
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match="No loss to compute"):
        model.fit(x, y, verbose=0)


def test_dict_keys_must_name_outputs():
    model = _two_in_two_out()
    with pytest.raises(ValueError, match="do not correspond to any model output"):
        model.compile(optimizer="sgd", loss={"cls": "mse", "other": "mse"})
        model.fit(*_two_in_two_out_data(8), verbose=0)
    x, y = _two_in_two_out_data(8)
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="output names"):
        model.fit(x, {"cls": y["cls"], "oops": y["reg"]}, verbose=0)
    with pytest.raises(ValueError, match="input names|Missing data"):
        model.fit({"a": x["a"]}, y, verbose=0)
    single = keras.Sequential(
        [keras.Input((3,)), layers.Dense(2, activation="softmax", name="out")]
    )
    single.compile(loss="sparse_categorical_crossentropy", metrics={"bad": ["accuracy"]})
    with pytest.raises(ValueError, match=r"\['bad'\] do not correspond"):
        single.fit(np.zeros((4, 3)), np.zeros(4), verbose=0)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_loss_stops_training_with_terminate_on_nan(capsys):
    x, y = _blobs(n=64)
    x[5] = np.nan
    model = _compiled()
    history = model.fit(
        x,
        y,
        epochs=3,
        batch_size=64,
        shuffle=False,
        callbacks=[callbacks.TerminateOnNaN()],
        verbose=0,
    )
    assert len(history.history["loss"]) == 1 and np.isnan(history.history["loss"][0])
    assert "Batch 0: Invalid loss, terminating training" in capsys.readouterr().out


def test_batch_normalization_statistics_update_during_fit():
    keras.utils.set_random_seed(10)
    x, y = _blobs(n=64)
    norm = layers.BatchNormalization()
    model = keras.Sequential([keras.Input((8,)), norm, layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    before = [w.copy() for w in norm.get_weights()]
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    after = norm.get_weights()
    assert not np.allclose(before[2], after[2])  # moving mean follows the data


# compile_config dicts as Keras 3 writes them into .keras files (copied from such files).
_KERAS_RMSPROP = {
    "module": "keras.optimizers",
    "class_name": "RMSprop",
    "config": {
        "name": "rmsprop",
        "learning_rate": 0.0010000000474974513,
        "weight_decay": None,
        "clipnorm": None,
        "global_clipnorm": None,
        "clipvalue": None,
        "use_ema": False,
        "ema_momentum": 0.99,
        "ema_overwrite_frequency": None,
        "loss_scale_factor": None,
        "gradient_accumulation_steps": None,
        "rho": 0.9,
        "momentum": 0.0,
        "epsilon": 1e-07,
        "centered": False,
    },
    "registered_name": None,
}
_KERAS_CONFIGS = [
    {
        "optimizer": _KERAS_RMSPROP,
        "loss": "binary_crossentropy",
        "loss_weights": None,
        "metrics": ["accuracy"],
        "weighted_metrics": None,
        "run_eagerly": False,
        "steps_per_execution": 1,
        "jit_compile": False,
    },
    {
        "optimizer": _KERAS_RMSPROP,
        "loss": {
            "module": "builtins",
            "class_name": "function",
            "config": "binary_crossentropy",
            "registered_name": "function",
        },
        "loss_weights": None,
        "metrics": ["accuracy"],
        "weighted_metrics": None,
        "run_eagerly": False,
        "steps_per_execution": 1,
        "jit_compile": False,
    },
    {
        "optimizer": {
            **_KERAS_RMSPROP,
            "class_name": "Adam",
            "config": {
                **{
                    k: v
                    for k, v in _KERAS_RMSPROP["config"].items()
                    if k not in ("rho", "momentum", "centered")
                },
                "name": "adam",
                "learning_rate": 9.999999747378752e-06,
                "beta_1": 0.9,
                "beta_2": 0.999,
                "amsgrad": False,
            },
        },
        "loss": {
            "module": "keras.losses",
            "class_name": "BinaryCrossentropy",
            "config": {
                "name": "binary_crossentropy",
                "reduction": "sum_over_batch_size",
                "from_logits": False,
                "label_smoothing": 0.0,
                "axis": -1,
            },
            "registered_name": None,
        },
        "loss_weights": None,
        "metrics": ["acc"],
        "weighted_metrics": None,
        "run_eagerly": False,
        "steps_per_execution": 1,
        "jit_compile": False,
    },
]


@pytest.mark.parametrize("config", _KERAS_CONFIGS)
def test_compile_config_written_by_keras_round_trips_exactly(config):
    model = keras.Sequential([keras.Input((3,)), layers.Dense(1, activation="sigmoid")])
    model.compile_from_config(config)
    assert model.get_compile_config() == config
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    history = model.fit(x, (x[:, 0] > 0).astype("float32"), epochs=1, verbose=0)
    assert list(history.history) == sorted(["loss", config["metrics"][0]])


class _MaskedHead(layers.Layer):
    """Dense softmax head that takes and passes on the input mask explicitly."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.dense = layers.Dense(units, activation="softmax")
        self.supports_masking = True

    def call(self, inputs, mask=None):
        return self.dense(inputs)


def test_masked_sequence_outputs_ignore_padding_in_loss_and_metrics():
    keras.utils.set_random_seed(12)
    rng = np.random.default_rng(12)
    tokens = rng.integers(1, 10, (16, 6))
    tokens[:, 4:] = 0  # padding
    tokens[:4, 2:] = 0
    labels = rng.integers(0, 3, (16, 6))
    model = keras.Sequential(
        [keras.Input((6,), dtype="int32"), layers.Embedding(10, 4, mask_zero=True), _MaskedHead(3)]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    logs = model.evaluate(tokens, labels, batch_size=16, verbose=0, return_dict=True)
    probs = model.predict(tokens, verbose=0)
    valid = tokens != 0
    token_loss = -np.log(np.take_along_axis(probs, labels[..., None], -1)[..., 0])
    np.testing.assert_allclose(logs["loss"], token_loss[valid].mean(), rtol=1e-5)
    hits = (probs.argmax(-1) == labels) * valid
    # Keras averages per sample first (mean over steps, masked steps weigh zero).
    per_sample = hits.mean(1) / valid.mean(1)
    weights = valid.mean(1)
    np.testing.assert_allclose(
        logs["accuracy"], (per_sample * weights).sum() / weights.sum(), rtol=1e-5
    )
    assert model(tokens)._keras_mask is not None
    model.fit(tokens, labels, epochs=1, batch_size=8, verbose=0)


def test_fit_does_not_copy_the_dataset():
    import tracemalloc

    x = np.random.default_rng(0).normal(size=(20000, 100)).astype("float32")  # 8 MB
    y = (x[:, 0] > 0).astype("float32")
    model = keras.Sequential([keras.Input((100,)), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x[:100], y[:100], verbose=0)
    tracemalloc.start()
    try:
        model.fit(x, y, batch_size=1000, epochs=2, validation_split=0.2, verbose=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Batches are gathered one at a time: far below one copy of x (8 MB).
    assert peak < x.nbytes / 4, peak
