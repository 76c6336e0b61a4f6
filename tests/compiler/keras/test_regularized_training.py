"""Training with weight and activity regularizers and constraints follows real Keras 3 (JAX).

Same initial weights, same batches (``shuffle=False``), no dropout: the loss curve (compiled
loss plus ``model.losses``, as Keras's ``compute_loss`` adds them) and the final weights agree,
and the model crosses ``.keras`` files both ways with its regularizers and constraints.
"""

import numpy as np
import pytest

from compiler import keras as ours
from tests._oracles import KERAS, require

real = require("keras", KERAS)

MAX_NORM = 0.45


def _model(lib):
    return lib.Sequential(
        [
            lib.Input((8,)),
            lib.layers.Dense(
                16,
                activation="tanh",
                kernel_regularizer=lib.regularizers.L2(0.01),
                kernel_constraint=lib.constraints.MaxNorm(MAX_NORM),
                activity_regularizer=lib.regularizers.L1(0.001),
                name="hidden",
            ),
            lib.layers.Dense(
                3,
                activation="softmax",
                kernel_regularizer=lib.regularizers.L1L2(0.001, 0.002),
                bias_constraint=lib.constraints.NonNeg(),
                name="out",
            ),
        ]
    )


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((96, 8)).astype("float32"), rng.integers(0, 3, 96)


def _optimizer(lib, kind):
    return lib.optimizers.SGD(0.1) if kind == "sgd" else lib.optimizers.Adam(0.01)


def _trained_pair(kind):
    ours.utils.set_random_seed(0)  # initial weights that make MaxNorm bind, whatever ran before
    x, y = _data()
    mine, theirs = _model(ours), _model(real)
    theirs.set_weights(mine.get_weights())
    histories = []
    for model, lib in ((mine, ours), (theirs, real)):
        model.compile(_optimizer(lib, kind), "sparse_categorical_crossentropy")
        history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
        histories.append(history.history["loss"])
    return mine, theirs, histories


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_loss_curve_and_weights_match_keras(kind):
    x, y = _data()
    mine, theirs, (got, expected) = _trained_pair(kind)
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    for a, b in zip(mine.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        mine.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0), rtol=1e-4
    )
    # The constraints bind: norms at the limit, no negative bias.
    norms = np.linalg.norm(mine.get_layer("hidden").kernel.data, axis=0)
    assert norms.max() <= MAX_NORM + 1e-5
    assert np.isclose(norms, MAX_NORM, atol=1e-4).any()
    assert mine.get_layer("out").bias.data.min() >= 0.0


def test_regularizers_change_training():
    # The regularization is what makes the curves agree: without it ours would differ. The
    # seed fixes the initial weights whatever ran before in this process.
    ours.utils.set_random_seed(0)
    x, y = _data()
    plain = ours.Sequential(
        [
            ours.Input((8,)),
            ours.layers.Dense(16, activation="tanh"),
            ours.layers.Dense(3, activation="softmax"),
        ]
    )
    regularized = _model(ours)
    plain.set_weights(regularized.get_weights())
    losses = []
    for model in (plain, regularized):
        model.compile(ours.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
        losses.append(model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0))
    # Penalties, activity terms and clipped weights move the loss; its sign depends on the
    # initial weights (MaxNorm can help), so only the size of the change is asserted.
    assert abs(losses[0].history["loss"][0] - losses[1].history["loss"][0]) > 1e-3


@pytest.mark.parametrize("direction", ["ours_to_keras", "keras_to_ours"])
def test_regularized_model_crosses_keras_files(tmp_path, direction):
    source, target = (ours, real) if direction == "ours_to_keras" else (real, ours)
    x, y = _data()
    model = _model(source)
    model.compile(_optimizer(source, "sgd"), "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = target.saving.load_model(tmp_path / "m.keras")
    for name in ("hidden", "out"):
        a, b = model.get_layer(name), loaded.get_layer(name)
        for key in ("kernel_regularizer", "bias_regularizer", "activity_regularizer"):
            assert _serialized(source, getattr(a, key)) == _serialized(target, getattr(b, key))
        for key in ("kernel_constraint", "bias_constraint"):
            assert _serialized(source, getattr(a, key)) == _serialized(target, getattr(b, key))
    np.testing.assert_allclose(
        np.asarray(loaded.predict(x, verbose=0)),
        np.asarray(model.predict(x, verbose=0)),
        rtol=0,
        atol=1e-6,
    )
    # The loaded model keeps training the same way: one more epoch on both sides.
    np.testing.assert_allclose(
        loaded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0), rtol=1e-5
    )
    histories = [
        m.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0).history["loss"]
        for m in (model, loaded)
    ]
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-4)


def _serialized(lib, obj):
    return lib.saving.serialize_keras_object(obj)


def _conv_model(lib):
    return lib.Sequential(
        [
            lib.Input((8, 8, 1)),
            lib.layers.Conv2D(
                4,
                3,
                activation="relu",
                kernel_regularizer=lib.regularizers.L2(0.02),
                kernel_constraint=lib.constraints.MaxNorm(0.5, axis=[0, 1, 2]),
                name="conv",
            ),
            lib.layers.MaxPooling2D(),
            lib.layers.Flatten(),
            lib.layers.Dense(
                3,
                activation="softmax",
                activity_regularizer=lib.regularizers.L2(0.01),
                name="out",
            ),
        ]
    )


def test_conv_model_with_fused_conv_pool_and_large_batches_matches_keras():
    # Large batches make a conv model eligible for the data-parallel step, and the conv feeds
    # its pool (the fused conv-pool primitive): neither may lose the regularization.
    rng = np.random.default_rng(5)
    x = rng.standard_normal((256, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 3, 256)
    mine, theirs = _conv_model(ours), _conv_model(real)
    theirs.set_weights(mine.get_weights())
    histories = []
    for model, lib in ((mine, ours), (theirs, real)):
        model.compile(lib.optimizers.SGD(0.05), "sparse_categorical_crossentropy")
        history = model.fit(x, y, batch_size=128, epochs=3, shuffle=False, verbose=0)
        histories.append(history.history["loss"])
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-4)
    for a, b in zip(mine.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-4, atol=1e-5)


def test_data_parallel_steps_are_not_used_for_regularized_models(monkeypatch):
    # The helper processes of `_data_parallel` compute the compiled loss only, so `fit` keeps a
    # regularized or constrained model on the plain step even where processes are allowed.
    from compiler.keras import _data_parallel, config, trainer

    assert trainer._regularized(_conv_model(ours))
    plain = ours.Sequential(
        [ours.Input((8, 8, 1)), ours.layers.Conv2D(2, 3), ours.layers.Flatten()]
    )
    assert not trainer._regularized(plain)
    started = []
    monkeypatch.setattr(
        _data_parallel, "DataParallel", lambda *args, **kwargs: started.append(args) or 1 / 0
    )
    config.set_training_processes("always")
    config.set_training_workers(2)
    try:
        rng = np.random.default_rng(6)
        x = rng.standard_normal((256, 8, 8, 1)).astype("float32")
        model = _conv_model(ours)
        model.compile(ours.optimizers.SGD(0.05), "sparse_categorical_crossentropy")
        model.fit(x, rng.integers(0, 3, 256), batch_size=128, epochs=1, verbose=0)
    finally:
        config.set_training_processes(None)
        config.set_training_workers(None)
    assert started == []


def test_model_losses_alone_train_without_a_compiled_loss():
    # Keras 3 trains on `model.losses` (regularizers, add_loss) when compile() has no loss and
    # fit() no targets.
    ours.utils.set_random_seed(0)
    x, _ = _data()
    mine, theirs = _model(ours), _model(real)
    theirs.set_weights(mine.get_weights())
    histories = []
    for model, lib in ((mine, ours), (theirs, real)):
        model.compile(_optimizer(lib, "sgd"))
        history = model.fit(x, batch_size=16, epochs=3, shuffle=False, verbose=0)
        histories.append(history.history["loss"])
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-4)
    assert histories[0][-1] < histories[0][0]


def test_no_loss_and_no_model_losses_is_refused():
    x, y = _data()
    model = ours.Sequential([ours.Input((8,)), ours.layers.Dense(3)])
    model.compile(ours.optimizers.SGD(0.1))
    with pytest.raises(ValueError, match="No loss to compute"):
        model.fit(x, y, epochs=1, verbose=0)
