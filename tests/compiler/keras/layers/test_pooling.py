"""Pooling layers against naive loops and finite differences."""

import numpy as np
import pytest

from compiler import keras
from compiler.keras import layers, ops
from tests.compiler.keras.helpers import check_layer_gradients
from tests.compiler.keras.layers.reference import (
    check_config_round_trip,
    pool2d_ref,
    symbolic_shape,
)

RNG = np.random.default_rng(3)
POOL_CASES = [
    # (input hw, pool, strides, padding)
    ((6, 6), (2, 2), None, "valid"),
    ((7, 5), (2, 2), None, "valid"),  # odd sizes: the last row / column is dropped
    ((7, 5), (3, 3), (2, 2), "same"),
    ((5, 7), (2, 3), (1, 2), "valid"),
    ((6, 6), (2, 2), (3, 3), "valid"),  # gaps between windows
    ((5, 5), (2, 2), None, "same"),
    ((9, 9), (3, 3), (1, 1), "same"),
]


@pytest.mark.parametrize("hw, pool, strides, padding", POOL_CASES)
@pytest.mark.parametrize("mode", ["max", "average"])
def test_pooling2d_matches_naive_loops_and_finite_differences(hw, pool, strides, padding, mode):
    cls = layers.MaxPooling2D if mode == "max" else layers.AveragePooling2D
    x = RNG.standard_normal((2, *hw, 3))
    layer = cls(pool, strides=strides, padding=padding, dtype="float64")
    got = layer(x).data
    expected = pool2d_ref(x, pool, strides or pool, padding, mode)
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert symbolic_shape(cls(pool, strides=strides, padding=padding), (*hw, 3)) == (
        None,
        *got.shape[1:],
    )
    check_layer_gradients(layer, x)


@pytest.mark.parametrize(
    "cls, mode", [(layers.MaxPooling1D, "max"), (layers.AveragePooling1D, "average")]
)
def test_pooling1d(cls, mode):
    x = RNG.standard_normal((2, 9, 3))
    layer = cls(3, strides=2, padding="same", dtype="float64")
    expected = pool2d_ref(x[:, None], (1, 3), (1, 2), "same", mode)[:, 0]
    np.testing.assert_allclose(layer(x).data, expected, atol=1e-12)
    assert symbolic_shape(cls(3, strides=2, padding="same"), (9, 3)) == (None, 5, 3)
    check_layer_gradients(layer, x)


def test_max_pool_gradient_goes_to_the_first_maximum_like_tensorflow():
    x = ops.Tensor(np.array([[[[1.0], [3.0]], [[3.0], [0.0]]]]), requires_grad=True)
    ops.sum(layers.MaxPooling2D(2, dtype="float64")(x)).backward()
    np.testing.assert_array_equal(x.grad[0, :, :, 0], [[0.0, 1.0], [0.0, 0.0]])
    # Overlapping windows accumulate: the centre of a 3x3 image wins all four 2x2 windows.
    x = ops.Tensor(
        np.array([[0, 0, 0], [0, 5, 0], [0, 0, 0.0]])[None, :, :, None], requires_grad=True
    )
    ops.sum(layers.MaxPooling2D(2, strides=1, dtype="float64")(x)).backward()
    assert x.grad[0, 1, 1, 0] == 4 and x.grad.sum() == 4


def test_same_average_pool_counts_only_real_inputs():
    x = np.ones((1, 3, 3, 1), np.float32)
    out = layers.AveragePooling2D(2, strides=1, padding="same")(x).data
    np.testing.assert_allclose(out, np.ones_like(out))


@pytest.mark.parametrize(
    "cls, reduce, rank",
    [
        (layers.GlobalAveragePooling2D, np.mean, 2),
        (layers.GlobalMaxPooling2D, np.max, 2),
        (layers.GlobalAveragePooling1D, np.mean, 1),
        (layers.GlobalMaxPooling1D, np.max, 1),
    ],
)
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling(cls, reduce, rank, keepdims):
    shape = (2, 4, 5, 3)[: rank + 1] + (3,)
    x = RNG.standard_normal(shape)
    layer = cls(keepdims=keepdims, dtype="float64")
    axes = tuple(range(1, rank + 1))
    np.testing.assert_allclose(layer(x).data, reduce(x, axis=axes, keepdims=keepdims), atol=1e-12)
    expected = (None, *(1,) * rank, 3) if keepdims else (None, 3)
    assert symbolic_shape(cls(keepdims=keepdims), shape[1:]) == expected
    check_layer_gradients(layer, x)
    check_config_round_trip(layer)


def test_global_average_pooling1d_leaves_masked_steps_out():
    x = RNG.standard_normal((2, 4, 3))
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], bool)
    out = layers.GlobalAveragePooling1D(dtype="float64")(x, mask=mask).data
    np.testing.assert_allclose(out[0], x[0, :2].mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(out[1], x[1].mean(axis=0), atol=1e-12)


@pytest.mark.parametrize(
    "layer",
    [
        layers.MaxPooling2D(),
        layers.MaxPooling2D((3, 2), strides=1, padding="same"),
        layers.AveragePooling2D(2),
        layers.MaxPooling1D(),
        layers.AveragePooling1D(4, strides=2),
    ],
)
def test_pooling_config(layer):
    clone = check_config_round_trip(layer)
    assert list(clone.get_config())[3:] == ["pool_size", "padding", "strides", "data_format"]


def test_pooling_defaults_and_errors():
    config = layers.MaxPooling2D().get_config()
    assert config["pool_size"] == (2, 2) and config["strides"] == (2, 2)
    with pytest.raises(ValueError, match=r'"mp".*expected ndim=4, found ndim=3'):
        layers.MaxPooling2D(name="mp")(np.zeros((2, 4, 4), np.float32))
    with pytest.raises(ValueError, match="mp2.*zero or negative"):
        layers.MaxPooling2D(3, name="mp2")(keras.Input(shape=(2, 2, 1)))
    with pytest.raises(ValueError, match="pool_size"):
        layers.MaxPooling2D(0)
    with pytest.raises(ValueError, match="padding"):
        layers.AveragePooling2D(2, padding="full")
