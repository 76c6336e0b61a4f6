"""Activation layers, Dropout, GaussianNoise, Masking, Identity, Rescaling."""

import numpy as np
import pytest

from compiler.keras import layers, ops
from tests.compiler.keras.helpers import check_layer_gradients
from tests.compiler.keras.layers.reference import check_config_round_trip, symbolic_shape

RNG = np.random.default_rng(17)


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize(
    "layer, reference",
    [
        (layers.Activation("tanh", dtype="float64"), np.tanh),
        (layers.ReLU(dtype="float64"), lambda x: np.maximum(x, 0)),
        (
            layers.ReLU(max_value=0.8, negative_slope=0.1, threshold=0.2, dtype="float64"),
            lambda x: np.minimum(np.where(x >= 0.2, x, 0.1 * (x - 0.2)), 0.8),
        ),
        (layers.LeakyReLU(dtype="float64"), lambda x: np.where(x >= 0, x, 0.3 * x)),
        (layers.LeakyReLU(0.05, dtype="float64"), lambda x: np.where(x >= 0, x, 0.05 * x)),
        (layers.ELU(0.5, dtype="float64"), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
        (layers.Softmax(dtype="float64"), _softmax),
        (layers.Softmax(axis=1, dtype="float64"), lambda x: _softmax(x, 1)),
        (
            layers.Softmax(axis=[1, 2], dtype="float64"),
            lambda x: _softmax(x.reshape(len(x), -1)).reshape(x.shape),
        ),
        (layers.Identity(dtype="float64"), lambda x: x),
        (layers.Rescaling(0.5, offset=-1.0, dtype="float64"), lambda x: x * 0.5 - 1),
    ],
)
def test_elementwise_layer(layer, reference):
    x = RNG.standard_normal((2, 3, 4))
    x = np.where(np.abs(x - 0.2) < 1e-3, 0.5, x)  # keep away from kinks for the gradient check
    np.testing.assert_allclose(layer(x).data, reference(x), atol=1e-12)
    assert symbolic_shape(layer, (3, 4)) == (None, 3, 4)
    check_layer_gradients(layer, x)
    check_config_round_trip(layer)


def test_activation_config_and_errors():
    assert layers.Activation("relu").get_config()["activation"] == "relu"
    assert layers.LeakyReLU().get_config()["negative_slope"] == 0.3
    assert list(layers.ReLU().get_config())[3:] == ["max_value", "negative_slope", "threshold"]
    with pytest.raises(ValueError, match="max_value"):
        layers.ReLU(max_value=-1)
    with pytest.raises(ValueError, match="negative_slope"):
        layers.LeakyReLU(-0.1)


def test_softmax_mask_excludes_positions():
    x = RNG.standard_normal((2, 4))
    mask = np.array([[1, 1, 0, 1], [1, 0, 0, 0]], bool)
    out = layers.Softmax(dtype="float64")(x, mask=mask).data
    np.testing.assert_allclose(out[~mask], 0, atol=1e-12)
    np.testing.assert_allclose(out.sum(axis=-1), 1)


def test_rescaling_casts_integer_images():
    out = layers.Rescaling(1 / 255)(np.array([[0, 255]], np.uint8))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, [[0, 1]])


def test_dropout_is_inverted_and_only_in_training():
    x = np.ones((200, 50), np.float32)
    layer = layers.Dropout(0.25, seed=1)
    np.testing.assert_array_equal(layer(x).data, x)
    out = layer(x, training=True).data
    assert out.dtype == np.float32
    assert set(np.unique(out)) == {0.0, np.float32(1 / 0.75)}
    assert abs((out == 0).mean() - 0.25) < 0.02
    assert abs(out.mean() - 1.0) < 0.03
    # The gradient flows through the kept values only, with the same scale.
    t = ops.Tensor(x, requires_grad=True)
    y = layer(t, training=True)
    ops.sum(y).backward()
    np.testing.assert_array_equal(t.grad, y.data)


def test_dropout_noise_shape_seed_and_extremes():
    x = np.ones((4, 6, 8), np.float32)
    out = layers.Dropout(0.5, noise_shape=(None, 1, 8), seed=3)(x, training=True).data
    assert (out == out[:, :1, :]).all()  # the same features dropped at every step
    a = layers.Dropout(0.5, seed=7)(x, training=True).data
    b = layers.Dropout(0.5, seed=7)(x, training=True).data
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(layers.Dropout(1.0)(x, training=True).data, 0 * x)
    np.testing.assert_array_equal(layers.Dropout(0.0)(x, training=True).data, x)
    config = check_config_round_trip(layers.Dropout(0.5, noise_shape=(None, 1, 8), seed=3))
    assert list(config.get_config())[3:] == ["rate", "seed", "noise_shape"]
    with pytest.raises(ValueError, match="rate"):
        layers.Dropout(1.5)
    with pytest.raises(ValueError, match="noise_shape"):
        layers.Dropout(0.5, noise_shape=(None, 8))(x, training=True)


def test_gaussian_noise():
    x = np.zeros((100, 100), np.float32)
    layer = layers.GaussianNoise(0.5, seed=2)
    np.testing.assert_array_equal(layer(x).data, x)
    out = layer(x, training=True).data
    assert out.dtype == np.float32 and abs(out.std() - 0.5) < 0.02
    check_config_round_trip(layer)
    with pytest.raises(ValueError, match="stddev"):
        layers.GaussianNoise(-1)


def test_masking_sets_the_mask_and_zeroes_masked_steps():
    x = RNG.standard_normal((2, 4, 3))
    x[0, 1] = 0.0
    x[1, 3] = 0.0
    out = layers.Masking(dtype="float64")(x)
    expected_mask = np.array([[1, 0, 1, 1], [1, 1, 1, 0]], bool)
    np.testing.assert_array_equal(out._keras_mask, expected_mask)
    np.testing.assert_array_equal(out.data, x * expected_mask[..., None])
    # The mask reaches the next mask-aware layer.
    pooled = layers.GlobalAveragePooling1D(dtype="float64")(out).data
    np.testing.assert_allclose(pooled[0], x[0, [0, 2, 3]].mean(axis=0))
    layer = layers.Masking(mask_value=-1.0)
    assert check_config_round_trip(layer).get_config()["mask_value"] == -1.0
