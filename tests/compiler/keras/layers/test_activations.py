"""Activations (functions, names, ``Activation``, ``LeakyReLU`` / ``PReLU`` / ``ELU`` / ``ReLU``):
Keras 3's formulas and defaults, gradients against finite differences, configs, and files
crossing to and from real Keras 3."""

import math

import numpy as np
import pytest

from compiler import keras
from compiler.keras import activations, layers, ops
from tests._oracles import KERAS, require
from tests.compiler.keras.helpers import check_gradients, check_layer_gradients
from tests.compiler.keras.layers.reference import check_config_round_trip

RNG = np.random.default_rng(3)
_ERF = np.vectorize(math.erf)


def _softplus(x):
    return np.logaddexp(0, x)


def _hard_sigmoid(x):
    return np.clip(x + 3, 0, 6) / 6  # Keras 3: relu6(x + 3) / 6


# name -> numpy formula from Keras 3's documentation and source (keras/src/activations).
FORMULAS = {
    "hard_sigmoid": _hard_sigmoid,
    "hard_silu": lambda x: x * _hard_sigmoid(x),
    "hard_swish": lambda x: x * _hard_sigmoid(x),
    "silu": lambda x: x / (1 + np.exp(-x)),
    "swish": lambda x: x / (1 + np.exp(-x)),
    "gelu": lambda x: 0.5 * x * (1 + _ERF(x / np.sqrt(2))),
    "mish": lambda x: x * np.tanh(_softplus(x)),
    "relu6": lambda x: np.clip(x, 0, 6),
    "leaky_relu": lambda x: np.where(x >= 0, x, 0.2 * x),
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "selu": lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x)),
    "softplus": _softplus,
    "log_softmax": lambda x: (
        x
        - x.max(-1, keepdims=True)
        - np.log(np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True))
    ),
}
KINKS = {"hard_sigmoid": (-3, 3), "hard_silu": (-3, 3), "hard_swish": (-3, 3), "relu6": (0, 6)}


def _away_from_kinks(name, x):
    for kink in KINKS.get(name, (0,)):
        x = np.where(np.abs(x - kink) < 1e-2, kink + 0.25, x)
    return x


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_activation_function_matches_keras_formula_and_gradient(name):
    x = _away_from_kinks(name, RNG.uniform(-7, 7, (3, 5)))
    fn = getattr(activations, name)
    assert activations.get(name) is fn
    np.testing.assert_allclose(fn(x).data, FORMULAS[name](x), rtol=1e-12, atol=1e-12)
    t = ops.Tensor(x.copy(), requires_grad=True)
    weights = RNG.standard_normal(x.shape)
    check_gradients(lambda: ops.sum(fn(t) * weights), [t])


def test_gelu_approximate_is_the_tanh_form():
    x = RNG.uniform(-5, 5, (4, 4))
    inner = np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)
    want = 0.5 * x * (1 + np.tanh(inner))
    np.testing.assert_allclose(activations.gelu(x, approximate=True).data, want, rtol=1e-12)
    t = ops.Tensor(x.copy(), requires_grad=True)
    check_gradients(lambda: ops.sum(activations.gelu(t, approximate=True)), [t])


def test_names_serialize_as_keras_writes_them():
    # Keras writes the canonical name for an alias: swish -> silu, hard_swish -> hard_silu.
    for name, written in [("swish", "silu"), ("hard_swish", "hard_silu"), ("mish", "mish")]:
        assert layers.Activation(name).get_config()["activation"] == written
        assert layers.Dense(2, activation=name).get_config()["activation"] == written
    config = {"module": "keras.activations", "class_name": "function", "config": "hard_silu"}
    assert activations.get(config) is activations.hard_silu
    with pytest.raises(ValueError, match="hard_sigmoidd"):
        activations.get("hard_sigmoidd")


def test_activation_functions_agree_with_real_keras():
    real = require("keras", KERAS)
    x = np.linspace(-8, 8, 161, dtype=np.float32).reshape(7, 23)
    for name in sorted(FORMULAS):
        want = np.asarray(getattr(real.activations, name)(x))
        got = getattr(activations, name)(x).data
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6, err_msg=name)
    for approximate in (False, True):
        want = np.asarray(real.activations.gelu(x, approximate=approximate))
        got = activations.gelu(x, approximate=approximate).data
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize(
    "layer, reference",
    [
        (layers.PReLU(alpha_initializer="random_normal", dtype="float64"), None),
        (layers.PReLU(alpha_initializer="random_normal", shared_axes=[1], dtype="float64"), None),
        (layers.ELU(alpha=0.7, dtype="float64"), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x))),
        (layers.LeakyReLU(dtype="float64"), lambda x: np.where(x >= 0, x, 0.3 * x)),
        (
            layers.ReLU(max_value=1.5, negative_slope=0.2, dtype="float64"),
            lambda x: np.minimum(np.where(x >= 0, x, 0.2 * x), 1.5),
        ),
    ],
)
def test_activation_layers_values_gradients_and_configs(layer, reference):
    x = RNG.standard_normal((2, 3, 4))
    x = np.where(np.abs(x) < 1e-2, 0.5, x)
    x = np.where(np.abs(x - 1.5) < 1e-2, 1.0, x)
    out = layer(x).data
    if reference is None:  # PReLU: the trained slope, broadcast over shared axes
        alpha = layer.alpha.data
        reference = lambda v: np.where(v >= 0, v, alpha * v)  # noqa: E731
    np.testing.assert_allclose(out, reference(x), atol=1e-12)
    check_layer_gradients(layer, x)
    check_config_round_trip(layer)


def test_prelu_weight_shape_and_errors():
    layer = layers.PReLU(shared_axes=[1, 2])
    i = keras.Input((5, 5, 3))
    keras.Model(i, layer(i))
    assert layer.alpha.shape == (1, 1, 3)
    assert layer.get_config()["shared_axes"] == [1, 2]
    np.testing.assert_array_equal(layer.alpha.data, 0)  # Keras's default: zeros
    with pytest.raises(ValueError, match="alpha_regularizer.*regularizer identifier: 'l7'"):
        layers.PReLU(alpha_regularizer="l7")
    with pytest.raises(ValueError, match="shared_axes"):
        layers.PReLU(shared_axes=[3])(keras.Input((4, 4)))


@pytest.mark.parametrize("direction", ["keras_to_ours", "ours_to_keras"])
def test_activation_model_files_cross_over_with_real_keras(tmp_path, direction):
    real = require("keras", KERAS)
    source, target = (real, keras) if direction == "keras_to_ours" else (keras, real)
    i = source.Input((6,))
    x = source.layers.Dense(8)(i)
    outs = [source.layers.Activation(name)(x) for name in sorted(FORMULAS)]
    outs += [source.layers.Dense(3, activation=n)(x) for n in ("hard_silu", "gelu", "mish")]
    outs += [
        source.layers.LeakyReLU(0.1)(x),
        source.layers.ELU(0.5)(x),
        source.layers.PReLU(alpha_initializer="ones", shared_axes=None)(x),
        source.layers.ReLU(max_value=2.0, negative_slope=0.05)(x),
    ]
    model = source.Model(i, outs)
    model.set_weights([w + 0.05 * np.arange(w.size).reshape(w.shape) for w in model.get_weights()])
    model.save(tmp_path / "acts.keras")
    loaded = target.saving.load_model(tmp_path / "acts.keras")
    feed = RNG.standard_normal((4, 6)).astype("float32") * 3
    for got, want in zip(loaded.predict(feed, verbose=0), model.predict(feed, verbose=0)):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)
