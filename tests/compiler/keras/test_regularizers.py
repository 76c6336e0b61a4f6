"""keras.regularizers and keras.constraints: formulas, configs and names against real Keras 3,
regularizer gradients against finite differences."""

import numpy as np
import pytest

from compiler import keras as ours
from compiler.keras import constraints, ops, regularizers
from tests._oracles import KERAS, require
from tests.compiler.keras.helpers import check_gradients

real = require("keras", KERAS)

REGULARIZERS = [
    ("L1", {}),
    ("L1", {"l1": 0.3}),
    ("L2", {}),
    ("L2", {"l2": 0.25}),
    ("L1L2", {}),
    ("L1L2", {"l1": 0.1, "l2": 0.2}),
    ("OrthogonalRegularizer", {}),
    ("OrthogonalRegularizer", {"factor": 0.5, "mode": "columns"}),
]
CONSTRAINTS = [
    ("MaxNorm", {}),
    ("MaxNorm", {"max_value": 0.9, "axis": 1}),
    ("MaxNorm", {"max_value": 1.5, "axis": [0, 1]}),
    ("MinMaxNorm", {}),
    ("MinMaxNorm", {"min_value": 0.5, "max_value": 1.5, "rate": 0.7, "axis": 1}),
    ("NonNeg", {}),
    ("UnitNorm", {}),
    ("UnitNorm", {"axis": 1}),
]


def _weight(seed=0, shape=(5, 4)):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def _jax_array(array):
    return real.ops.convert_to_tensor(array)


@pytest.mark.parametrize(("name", "kwargs"), REGULARIZERS)
def test_regularizer_value_and_config_match_keras(name, kwargs):
    mine = getattr(regularizers, name)(**kwargs)
    theirs = getattr(real.regularizers, name)(**kwargs)
    w = _weight()
    np.testing.assert_allclose(
        float(mine(ops.convert_to_tensor(w)).data), float(theirs(_jax_array(w))), rtol=1e-6
    )
    assert regularizers.serialize(mine) == real.regularizers.serialize(theirs)
    again = regularizers.deserialize(real.regularizers.serialize(theirs))
    assert type(again) is type(mine) and again.get_config() == mine.get_config()


@pytest.mark.parametrize(("name", "kwargs"), CONSTRAINTS)
def test_constraint_value_and_config_match_keras(name, kwargs):
    mine = getattr(constraints, name)(**kwargs)
    theirs = getattr(real.constraints, name)(**kwargs)
    w = _weight(1) * 0.6
    got = mine(ops.convert_to_tensor(w)).data
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, np.asarray(theirs(_jax_array(w))), rtol=1e-6, atol=1e-7)
    assert constraints.serialize(mine) == real.constraints.serialize(theirs)
    again = constraints.deserialize(real.constraints.serialize(theirs))
    assert type(again) is type(mine) and again.get_config() == mine.get_config()


def test_names_resolve_as_in_keras():
    from keras.src.constraints import ALL_OBJECTS_DICT as keras_constraints
    from keras.src.regularizers import ALL_OBJECTS_DICT as keras_regularizers

    for key, cls in keras_regularizers.items():
        assert type(regularizers.get(key)).__name__ == cls.__name__
        if cls is not real.regularizers.Regularizer:  # the base class has no config
            assert regularizers.get(key).get_config() == cls().get_config()
    for key, cls in keras_constraints.items():
        assert type(constraints.get(key)).__name__ == cls.__name__
        assert constraints.get(key).get_config() == cls().get_config()
    assert regularizers.get(None) is None and constraints.get(None) is None

    def custom(x):
        return ops.sum(x)

    assert regularizers.get(custom) is custom and constraints.get(custom) is custom


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: regularizers.get("l3"), "Could not interpret regularizer identifier: 'l3'"),
        (lambda: constraints.get(7), "Could not interpret constraint identifier: 7"),
        (lambda: regularizers.L2(-1.0), "l2: expected a non-negative float"),
        (lambda: regularizers.L1(float("nan")), "l1: expected a non-negative float"),
        (lambda: regularizers.L1L2(l1="a"), "l1: expected a non-negative float"),
        (lambda: regularizers.OrthogonalRegularizer(mode="diagonal"), "mode=diagonal"),
        (
            lambda: regularizers.OrthogonalRegularizer()(ops.convert_to_tensor(np.ones(3))),
            "must have rank 2",
        ),
    ],
)
def test_bad_values_raise_value_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(("name", "kwargs"), REGULARIZERS)
def test_regularizer_gradients_match_finite_differences(name, kwargs):
    regularizer = getattr(regularizers, name)(**kwargs)
    # Away from 0, where |x| has no derivative.
    w = _weight(2).astype(np.float64)
    w += np.sign(w) * 0.1
    variable = ours.Variable(w, dtype="float64")
    check_gradients(lambda: regularizer(variable), [variable], rtol=1e-6, atol=1e-9)


def test_layer_losses_gradient_matches_finite_differences():
    # The whole penalty of a layer (weights and activity) differentiated as training does.
    layer = ours.layers.Dense(
        3,
        dtype="float64",
        kernel_regularizer=regularizers.L1L2(0.01, 0.02),
        bias_regularizer=regularizers.L2(0.5),
        activity_regularizer=regularizers.L2(0.1),
    )
    x = np.random.default_rng(4).standard_normal((6, 4))
    layer(x)
    layer.bias.assign(np.array([0.3, -0.2, 0.4]))

    def penalty():
        layer(x)
        total = layer.losses[0]
        for loss in layer.losses[1:]:
            total = total + loss
        return total

    check_gradients(penalty, [layer.kernel, layer.bias], rtol=1e-6, atol=1e-9)


def test_losses_are_those_of_the_latest_outermost_call():
    inner = ours.layers.Dense(2, activity_regularizer=regularizers.L1(1.0), name="inner")
    model = ours.Sequential([ours.Input((3,)), inner])
    x = np.ones((4, 3), "float32")
    out = model(x)
    assert len(model.losses) == 1
    np.testing.assert_allclose(float(model.losses[0].data), np.abs(out.data).sum() / 4, rtol=1e-6)
    model(x[:2])
    assert len(model.losses) == 1  # not accumulated over calls
    model.predict(x, verbose=0)
    assert len(model.losses) == 1


@ours.saving.register_keras_serializable(package="RegularizerTest")
class _Scaled(regularizers.Regularizer):
    def __init__(self, factor=0.1):
        self.factor = factor

    def __call__(self, x):
        return self.factor * ops.sum(ops.square(x))

    def get_config(self):
        return {"factor": self.factor}


@ours.saving.register_keras_serializable(package="RegularizerTest")
def _clip_half(w):
    return ops.clip(w, -0.5, 0.5)


def test_custom_callables_train_and_registered_ones_round_trip(tmp_path):
    def quartic(x):
        return 0.01 * ops.sum(ops.square(ops.square(x)))

    layer = ours.layers.Dense(
        4,
        kernel_regularizer=_Scaled(0.2),
        kernel_constraint=_clip_half,
        bias_regularizer=quartic,
        bias_initializer="ones",
        name="dense",
    )
    model = ours.Sequential([ours.Input((3,)), layer])
    x = np.random.default_rng(7).standard_normal((32, 3)).astype("float32")
    y = np.random.default_rng(8).standard_normal((32, 4)).astype("float32")
    model(x)
    kernel, bias = layer.kernel.data, layer.bias.data
    np.testing.assert_allclose(
        [float(loss.data) for loss in model.losses],
        [0.2 * np.sum(kernel**2), 0.01 * np.sum(bias**4)],
        rtol=1e-6,
    )
    model.compile(ours.optimizers.SGD(0.5), "mse")
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert np.abs(layer.kernel.data).max() <= 0.5
    layer.bias_regularizer = None  # a local function cannot be saved; the registered ones can
    layer.bias.regularizer = None
    model.save(tmp_path / "custom.keras")
    loaded = ours.saving.load_model(tmp_path / "custom.keras").get_layer("dense")
    assert isinstance(loaded.kernel_regularizer, _Scaled)
    assert loaded.kernel_regularizer.factor == 0.2
    assert loaded.kernel_constraint is _clip_half and loaded.kernel.constraint is _clip_half


def test_optimizer_applies_constraints_as_keras_does():
    # After the update and the moving averages, and only to variables that had a gradient.
    start = [_weight(9, (4, 3)), -np.ones(3, "float32")]
    grads = [_weight(10 + step, (4, 3)) for step in range(3)]

    def run(lib):
        variables = [lib.Variable(start[0]), lib.Variable(start[1])]
        # Set as layers' add_weight sets them (keras.Variable's constructor drops `constraint`).
        variables[0].constraint = lib.constraints.MaxNorm(0.9)
        variables[1].constraint = lib.constraints.NonNeg()
        optimizer = lib.optimizers.SGD(0.3, use_ema=True, ema_overwrite_frequency=2)
        for g in grads:
            optimizer.apply_gradients([(g, variables[0]), (None, variables[1])])
        return [np.asarray(v.value) for v in variables]

    mine, theirs = run(ours), run(real)
    np.testing.assert_allclose(mine[0], theirs[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(mine[1], theirs[1])
    np.testing.assert_array_equal(mine[1], start[1])  # no gradient: not projected


def test_a_subclass_without_get_config_says_so_as_keras_does():
    class Scaled(ours.regularizers.Regularizer):
        def __call__(self, x):
            return 0.5 * ours.ops.sum(x)

    with pytest.raises(NotImplementedError, match="does not implement get_config"):
        Scaled().get_config()
    with pytest.raises(NotImplementedError):
        real.regularizers.Regularizer().get_config()  # the same contract in Keras 3
