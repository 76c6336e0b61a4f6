"""Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot."""

import numpy as np
import pytest

from compiler import keras
from compiler.keras import layers
from tests.compiler.keras.helpers import check_layer_gradients
from tests.compiler.keras.layers.reference import check_config_round_trip, symbolic_shape

RNG = np.random.default_rng(5)


@pytest.mark.parametrize(
    "cls, reference",
    [
        (layers.Add, lambda xs: xs[0] + xs[1] + xs[2]),
        (layers.Multiply, lambda xs: xs[0] * xs[1] * xs[2]),
        (layers.Average, lambda xs: (xs[0] + xs[1] + xs[2]) / 3),
        (layers.Maximum, lambda xs: np.maximum(np.maximum(xs[0], xs[1]), xs[2])),
        (layers.Minimum, lambda xs: np.minimum(np.minimum(xs[0], xs[1]), xs[2])),
    ],
)
def test_elementwise_merges(cls, reference):
    xs = [RNG.standard_normal((2, 3, 4)) for _ in range(3)]
    layer = cls(dtype="float64")
    np.testing.assert_allclose(layer(xs).data, reference(xs), atol=1e-12)
    assert symbolic_shape(cls(), (3, 4), (3, 4), (3, 4)) == (None, 3, 4)
    check_layer_gradients(layer, *xs)
    check_config_round_trip(layer)


def test_subtract_broadcast_and_lower_rank_inputs():
    a, b = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 1, 4))
    layer = layers.Subtract(dtype="float64")
    np.testing.assert_allclose(layer([a, b]).data, a - b)
    check_layer_gradients(layer, a, b)
    check_config_round_trip(layer)
    # A (batch, features) input is lifted to (batch, 1, features), as in Keras.
    c = RNG.standard_normal((2, 4))
    np.testing.assert_allclose(layers.Add(dtype="float64")([a, c]).data, a + c[:, None])
    assert symbolic_shape(layers.Add(), (3, 4), (1, 4)) == (None, 3, 4)


def test_merge_errors_name_the_layer_and_the_shapes():
    mismatch = r"add_bad.*incompatible shapes.*\(None, 3, 4\).*\(None, 3, 5\)"
    with pytest.raises(ValueError, match=mismatch):
        layers.Add(name="add_bad")([keras.Input(shape=(3, 4)), keras.Input(shape=(3, 5))])
    with pytest.raises(ValueError, match=r"add_eager.*incompatible.*\(None, 3\).*\(None, 4\)"):
        layers.Add(name="add_eager")([np.zeros((2, 3)), np.zeros((2, 4))])
    built = layers.Add(name="add_built")
    built([np.zeros((2, 3)), np.zeros((2, 3))])
    with pytest.raises(ValueError, match=r"add_built.*\(2, 3\).*\(2, 4\)"):
        built([np.zeros((2, 3)), np.zeros((2, 4))])
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        layers.Subtract()([np.zeros((1, 2))] * 3)
    with pytest.raises(ValueError, match="list of inputs"):
        layers.Add()(keras.Input(shape=(3,)))
    with pytest.raises(ValueError, match="different batch sizes"):
        layers.Add()([np.zeros((2, 3)), np.zeros((3, 3))])


@pytest.mark.parametrize("axis", [-1, 1, 2])
def test_concatenate(axis):
    a, b = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 3, 4))
    layer = layers.Concatenate(axis=axis, dtype="float64")
    got = layer([a, b]).data
    np.testing.assert_array_equal(got, np.concatenate([a, b], axis=axis))
    assert symbolic_shape(layers.Concatenate(axis=axis), (3, 4), (3, 4)) == (None, *got.shape[1:])
    check_layer_gradients(layer, a, b)
    assert check_config_round_trip(layer).get_config()["axis"] == axis


def test_concatenate_errors_name_the_layer_and_the_shapes():
    mismatch = r"cat.*matching shapes except.*axis=-1.*\(None, 3, 4\).*\(None, 2, 4\)"
    with pytest.raises(ValueError, match=mismatch):
        layers.Concatenate(name="cat")([keras.Input(shape=(3, 4)), keras.Input(shape=(2, 4))])
    with pytest.raises(ValueError, match=r"cat2.*\(None, 3\).*\(None, 3, 1\)"):
        layers.Concatenate(name="cat2")([np.zeros((2, 3)), np.zeros((2, 3, 1))])
    built = layers.Concatenate(name="cat3")
    built([np.zeros((2, 3)), np.zeros((2, 3))])
    with pytest.raises(ValueError, match=r"cat3.*\(2, 3\).*\(2, 4, 1\)"):
        built([np.zeros((2, 3)), np.zeros((2, 4, 1))])


def test_concatenate_masks_follow_keras():
    a = keras.ops.Tensor(np.ones((2, 3, 4)))
    b = keras.ops.Tensor(np.ones((2, 3, 2)))
    a._keras_mask = np.array([[1, 1, 0], [1, 0, 0]], bool)
    out = layers.Concatenate()([a, b])
    # b has no mask: all its steps count, so every step of the output is kept.
    np.testing.assert_array_equal(out._keras_mask, np.ones((2, 3), bool))
    b._keras_mask = np.array([[0, 1, 0], [1, 0, 0]], bool)
    np.testing.assert_array_equal(layers.Concatenate()([a, b])._keras_mask, [[1, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(layers.Add()([a, a])._keras_mask, a._keras_mask)


@pytest.mark.parametrize(
    "shapes, axes, normalize",
    [
        (((4,), (4,)), 1, False),
        (((4,), (4,)), -1, True),
        (((3, 4), (5, 4)), (2, 2), False),
        (((3, 4), (3, 5)), (1, 1), False),
    ],
)
def test_dot(shapes, axes, normalize):
    a, b = (RNG.standard_normal((2, *s)) for s in shapes)
    layer = layers.Dot(axes=axes, normalize=normalize, dtype="float64")
    got = layer([a, b]).data
    ax = (axes, axes) if isinstance(axes, int) else axes
    ax = [x % (len(s) + 1) for x, s in zip(ax, shapes, strict=True)]
    if normalize:
        a = a / np.linalg.norm(a, axis=ax[0], keepdims=True)
        b = b / np.linalg.norm(b, axis=ax[1], keepdims=True)
    expected = np.stack([np.tensordot(a[i], b[i], axes=(ax[0] - 1, ax[1] - 1)) for i in range(2)])
    np.testing.assert_allclose(got, expected.reshape(got.shape), atol=1e-12)
    assert symbolic_shape(layers.Dot(axes=axes), *shapes) == (None, *got.shape[1:])
    check_layer_gradients(layer, a, b)
    check_config_round_trip(layer)
    with pytest.raises(ValueError, match="dot_bad"):
        layers.Dot(axes=1, name="dot_bad")([np.zeros((2, 3)), np.zeros((2, 4))])
