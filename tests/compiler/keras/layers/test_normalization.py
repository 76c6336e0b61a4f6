"""BatchNormalization: batch statistics and moving averages in training, moving stats after."""

import numpy as np
import pytest

from compiler.keras import layers, ops
from tests.compiler.keras.helpers import check_layer_gradients
from tests.compiler.keras.layers.reference import check_config_round_trip, symbolic_shape

RNG = np.random.default_rng(13)


def _randomize(layer, x):
    layer(x[:1])
    for w in layer.weights:
        w.assign(RNG.uniform(0.5, 1.5, w.shape))
    return layer


@pytest.mark.parametrize("shape, axis", [((6, 4), -1), ((3, 4, 5, 2), -1), ((3, 4, 5), 1)])
def test_training_uses_batch_statistics_and_updates_moving_ones(shape, axis):
    x = RNG.standard_normal(shape) * 3 + 1
    layer = _randomize(layers.BatchNormalization(axis=axis, momentum=0.9, dtype="float64"), x)
    gamma, beta = layer.gamma.data.copy(), layer.beta.data.copy()
    moving_mean, moving_var = layer.moving_mean.data.copy(), layer.moving_variance.data.copy()
    axes = tuple(a for a in range(len(shape)) if a != axis % len(shape))
    bshape = [1] * len(shape)
    bshape[axis] = shape[axis]
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    got = layer(x, training=True).data
    expected = gamma.reshape(bshape) * (x - mean.reshape(bshape)) / np.sqrt(
        var.reshape(bshape) + 1e-3
    ) + beta.reshape(bshape)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.moving_mean.data, moving_mean * 0.9 + mean * 0.1)
    np.testing.assert_allclose(layer.moving_variance.data, moving_var * 0.9 + var * 0.1)
    # Inference uses the moving statistics and leaves them alone.
    mm, mv = layer.moving_mean.data.copy(), layer.moving_variance.data.copy()
    got = layer(x, training=False).data
    expected = gamma.reshape(bshape) * (x - mm.reshape(bshape)) / np.sqrt(
        mv.reshape(bshape) + 1e-3
    ) + beta.reshape(bshape)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(layer.moving_mean.data, mm)
    assert symbolic_shape(layers.BatchNormalization(axis=axis), shape[1:]) == (None, *shape[1:])


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("center, scale", [(True, True), (False, True), (True, False)])
def test_gradients(training, center, scale):
    x = RNG.standard_normal((4, 3, 2))
    layer = _randomize(layers.BatchNormalization(center=center, scale=scale, dtype="float64"), x)
    check_layer_gradients(layer, x, training=training, rtol=1e-4, atol=1e-6)


def test_weights_order_and_trainability_match_keras():
    layer = layers.BatchNormalization()
    layer(np.zeros((2, 5), np.float32))
    assert [w.name for w in layer.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [w.name for w in layer.trainable_weights] == ["gamma", "beta"]
    assert layer.count_params() == 20
    # A frozen layer normalizes with the moving statistics even when training.
    layer.trainable = False
    x = RNG.standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_allclose(layer(x, training=True).data, x / np.sqrt(1 + 1e-3), rtol=1e-6)


def test_masked_steps_are_left_out_of_the_statistics():
    x = RNG.standard_normal((2, 4, 3))
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)
    layer = layers.BatchNormalization(momentum=0.0, dtype="float64")
    layer(x, training=True, mask=mask)
    kept = x[mask]
    np.testing.assert_allclose(layer.moving_mean.data, kept.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(layer.moving_variance.data, kept.var(axis=0), rtol=1e-6)


def test_config_and_errors():
    layer = layers.BatchNormalization(axis=1, momentum=0.9, epsilon=1e-5, center=False)
    config = check_config_round_trip(layer).get_config()
    assert (config["axis"], config["momentum"], config["epsilon"], config["center"]) == (
        1,
        0.9,
        1e-5,
        False,
    )
    assert list(config)[3:8] == ["axis", "momentum", "epsilon", "center", "scale"]
    built = layers.BatchNormalization(name="bn")
    built(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r'"bn".*axis -1.*value 3.*\(2, 4\)'):
        built(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="gamma_regularizer.*regularizer identifier"):
        layers.BatchNormalization(gamma_regularizer="max_norm")


def test_training_under_no_grad_still_updates_the_moving_statistics():
    x = RNG.standard_normal((8, 3)).astype(np.float32)
    layer = layers.BatchNormalization(momentum=0.0)
    with ops.no_grad():
        out = layer(x, training=True)
    assert out.dtype == np.float32
    np.testing.assert_allclose(layer.moving_mean.data, x.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.moving_variance.data, x.var(axis=0), rtol=1e-5)
    np.testing.assert_allclose(out.data, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3), atol=1e-5)
