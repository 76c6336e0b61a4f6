"""Flatten, Reshape, ZeroPadding, Cropping, UpSampling, Permute, RepeatVector."""

import numpy as np
import pytest

from compiler import keras
from compiler.keras import layers
from tests.compiler.keras.helpers import check_layer_gradients
from tests.compiler.keras.layers.reference import check_config_round_trip, symbolic_shape

RNG = np.random.default_rng(11)


@pytest.mark.parametrize(
    "layer, sample_shape, reference",
    [
        (layers.Flatten(dtype="float64"), (3, 4, 2), lambda x: x.reshape(len(x), -1)),
        (layers.Reshape((4, 6), dtype="float64"), (3, 4, 2), lambda x: x.reshape(len(x), 4, 6)),
        (layers.Reshape((-1, 3), dtype="float64"), (3, 4, 2), lambda x: x.reshape(len(x), 8, 3)),
        (
            layers.ZeroPadding2D(dtype="float64"),
            (3, 4, 2),
            lambda x: np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0))),
        ),
        (
            layers.ZeroPadding2D((2, 0), dtype="float64"),
            (3, 4, 2),
            lambda x: np.pad(x, ((0, 0), (2, 2), (0, 0), (0, 0))),
        ),
        (
            layers.ZeroPadding2D(((1, 2), (2, 1)), dtype="float64"),
            (3, 4, 2),
            lambda x: np.pad(x, ((0, 0), (1, 2), (2, 1), (0, 0))),
        ),
        (
            layers.ZeroPadding1D((0, 2), dtype="float64"),
            (3, 2),
            lambda x: np.pad(x, ((0, 0), (0, 2), (0, 0))),
        ),
        (layers.Cropping2D(((1, 0), (1, 2)), dtype="float64"), (3, 4, 2), lambda x: x[:, 1:, 1:2]),
        (layers.Cropping1D((1, 1), dtype="float64"), (4, 2), lambda x: x[:, 1:3]),
        (
            layers.UpSampling2D((2, 3), dtype="float64"),
            (3, 4, 2),
            lambda x: x.repeat(2, axis=1).repeat(3, axis=2),
        ),
        (layers.UpSampling1D(3, dtype="float64"), (3, 2), lambda x: x.repeat(3, axis=1)),
        (layers.Permute((2, 1), dtype="float64"), (3, 4), lambda x: x.transpose(0, 2, 1)),
        (layers.Permute((3, 1, 2), dtype="float64"), (3, 4, 2), lambda x: x.transpose(0, 3, 1, 2)),
        (
            layers.RepeatVector(3, dtype="float64"),
            (4,),
            lambda x: np.broadcast_to(x[:, None], (len(x), 3, 4)),
        ),
    ],
)
def test_reshaping_layer(layer, sample_shape, reference):
    x = RNG.standard_normal((2, *sample_shape))
    got = layer(x).data
    np.testing.assert_array_equal(got, reference(x))
    clone = check_config_round_trip(layer)
    assert symbolic_shape(clone, sample_shape) == (None, *got.shape[1:])
    check_layer_gradients(layer, x)


def test_flatten_of_unknown_dims_and_rank_one():
    assert symbolic_shape(layers.Flatten(), (None, 3)) == (None, None)
    assert layers.Flatten()(np.zeros((4,), np.float32)).shape == (4, 1)


def test_reshape_errors_name_the_layer_and_both_shapes():
    with pytest.raises(ValueError, match=r"rs.*\(3, 4\).*12 values.*\(5, -1\)"):
        layers.Reshape((5, -1), name="rs")(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match=r"rs2.*\(2, 3\).*\(7,\)"):
        layers.Reshape((7,), name="rs2")(keras.Input(shape=(2, 3)))
    with pytest.raises(ValueError, match="more than one `-1`"):
        layers.Reshape((-1, -1))


def test_reshaping_config_keys():
    assert layers.Reshape((2, -1)).get_config()["target_shape"] == (2, -1)
    assert layers.ZeroPadding2D(((1, 2), (2, 1))).get_config()["padding"] == ((1, 2), (2, 1))
    assert layers.ZeroPadding2D(1).get_config()["padding"] == ((1, 1), (1, 1))
    assert layers.ZeroPadding1D(2).get_config()["padding"] == (2, 2)
    assert layers.Cropping2D(1).get_config()["cropping"] == ((1, 1), (1, 1))
    assert layers.UpSampling2D().get_config()["interpolation"] == "nearest"
    assert layers.Permute((2, 1)).get_config()["dims"] == (2, 1)
    assert layers.Flatten().get_config()["data_format"] == "channels_last"


def test_reshaping_errors():
    with pytest.raises(ValueError, match="crop.*removes all"):
        layers.Cropping2D(((2, 2), (0, 0)), name="crop")(np.zeros((1, 4, 4, 1), np.float32))
    with pytest.raises(ValueError, match="padding"):
        layers.ZeroPadding2D((1, 2, 3))
    with pytest.raises(ValueError, match="dims"):
        layers.Permute((1, 3))
    with pytest.raises(ValueError, match=r'"rv".*expected ndim=2, found ndim=3'):
        layers.RepeatVector(2, name="rv")(np.zeros((1, 2, 3), np.float32))
    with pytest.raises(ValueError, match="interpolation"):
        layers.UpSampling2D(interpolation="bicubic")
