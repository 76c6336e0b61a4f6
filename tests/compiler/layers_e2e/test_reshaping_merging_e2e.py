"""Reshaping, merging (Dot as one BATCH_MATMUL) and 1-D convolution layers through the whole
product.

Each small frontend model is compiled to float and int8 ``.tflite`` / ``.onnx``: LiteRT,
onnxruntime and our runtime run the float files like the frontend (1e-5 of the output's
scale); our runtime is bit-exact with LiteRT's reference kernels on the int8 ``.tflite``; the
int8 ``.onnx`` opens in onnxruntime at its default optimization level and both int8 files stay
close to float.
"""

import numpy as np
import pytest

import compiler
from compiler import keras
from tests._oracles import LITERT, ONNXRUNTIME, require
from tests.compiler.zoo._harness import (
    cosine,
    relative_error,
    run_litert,
    run_onnx,
    run_ours,
)

require("ai_edge_litert.interpreter", LITERT)
require("onnxruntime", ONNXRUNTIME)

L = keras.layers


def _two(cls, **kwargs):
    return lambda x: cls(**kwargs)([L.Conv2D(4, 1)(x), L.Conv2D(4, 1)(x)])


CASES = {
    "Conv1D": ((16, 3), lambda x: L.Conv1D(4, 3, padding="same", activation="relu")(x)),
    "SeparableConv1D": ((16, 3), lambda x: L.SeparableConv1D(4, 3, strides=2)(x)),
    "DepthwiseConv1D": ((16, 3), lambda x: L.DepthwiseConv1D(3, depth_multiplier=2)(x)),
    "UpSampling2D-nearest": ((5, 6, 3), lambda x: L.UpSampling2D((2, 3))(L.Conv2D(4, 1)(x))),
    "UpSampling2D-bilinear": (
        (5, 6, 3),
        lambda x: L.UpSampling2D((2, 3), interpolation="bilinear")(L.Conv2D(4, 1)(x)),
    ),
    "Cropping2D": ((6, 6, 3), lambda x: L.Cropping2D(((1, 2), (0, 1)))(L.Conv2D(4, 1)(x))),
    "Permute": ((6, 5, 3), lambda x: L.Permute((2, 1, 3))(L.Conv2D(4, 1)(x))),
    "RepeatVector": ((5,), lambda x: L.RepeatVector(3)(L.Dense(4)(x))),
    "Maximum": ((6, 6, 3), _two(L.Maximum)),
    "Minimum": ((6, 6, 3), _two(L.Minimum)),
    "Average": ((6, 6, 3), _two(L.Average)),
    "Subtract": ((6, 6, 3), _two(L.Subtract)),
    "Dot-vectors": ((5,), lambda x: L.Dot(axes=1)([L.Dense(4)(x), L.Dense(4)(x)])),
    "Dot-last-axes": ((6, 5), lambda x: L.Dot(axes=(2, 2))([L.Dense(4)(x), L.Dense(4)(x)])),
    "Dot-first-axes": ((6, 5), lambda x: L.Dot(axes=(1, 1))([L.Dense(4)(x), L.Dense(3)(x)])),
    "Dot-rank-2-and-3": (
        (6, 5),
        lambda x: L.Dot(axes=(1, 1))([L.Dense(6)(L.Flatten()(x)), L.Dense(3)(x)]),
    ),
}


def _model(name):
    shape, body = CASES[name]
    keras.utils.set_random_seed(5)
    x = keras.Input(shape)
    return keras.Model(x, body(x)), shape


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_float_and_int8_in_both_formats(name, tmp_path):
    model, shape = _model(name)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, *shape)).astype(np.float32)
    want = model.predict(x, verbose=0)
    floats = compiler.compile(model, out_dir=tmp_path, stem="m").files
    for where, got in (
        ("litert", run_litert(floats["tflite"], x)),
        ("onnxruntime", run_onnx(floats["onnx"], x)),
        ("ours", run_ours(floats["tflite"], x)),
    ):
        assert relative_error(got, want) <= 1e-5, where
    calibration = rng.standard_normal((32, *shape)).astype(np.float32)
    ints = compiler.compile(
        model, out_dir=tmp_path, stem="m", quantize="int8", calibration=calibration
    ).files
    reference = run_litert(ints["tflite"], x, reference=True)
    np.testing.assert_array_equal(run_ours(ints["tflite"], x), reference)
    assert cosine(reference, want) > 0.99
    assert cosine(run_onnx(ints["onnx"], x), want) > 0.99


def test_dot_with_normalize_is_refused_by_name(tmp_path):
    from compiler.lower import UnsupportedLayerError

    x = keras.Input((5,))
    model = keras.Model(x, L.Dot(axes=1, normalize=True, name="cosine")([x, L.Dense(5)(x)]))
    with pytest.raises(UnsupportedLayerError, match="cosine.*normalize"):
        compiler.compile(model, out_dir=tmp_path)


@pytest.mark.parametrize("size", [2, (2, 3), (3, 1)])
def test_bilinear_up_sampling_matches_real_keras_both_ways(size, tmp_path):
    from tests._oracles import KERAS
    from tests.compiler.keras.helpers import check_layer_gradients

    real = require("keras", KERAS)
    layer = L.UpSampling2D(size, interpolation="bilinear", name="up")
    ours = keras.Sequential([keras.Input((4, 5, 2)), layer])
    theirs = real.Sequential(
        [real.Input((4, 5, 2)), real.layers.UpSampling2D(size, interpolation="bilinear", name="up")]
    )
    x = np.random.default_rng(0).standard_normal((2, 4, 5, 2)).astype(np.float32)
    want = np.asarray(theirs(x))
    np.testing.assert_allclose(ours.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)
    config = layer.get_config()
    assert config == {**theirs.layers[0].get_config(), "dtype": config["dtype"]}
    ours.save(tmp_path / "ours.keras")
    np.testing.assert_allclose(
        np.asarray(real.saving.load_model(tmp_path / "ours.keras")(x)), want, rtol=1e-5, atol=1e-6
    )
    theirs.save(tmp_path / "theirs.keras")
    back = keras.models.load_model(tmp_path / "theirs.keras")
    np.testing.assert_allclose(back.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)
    check_layer_gradients(L.UpSampling2D(size, interpolation="bilinear", dtype="float64"), x)


def test_up_sampling_refuses_interpolations_tflite_lacks():
    with pytest.raises(ValueError, match="bicubic"):
        L.UpSampling2D(2, interpolation="bicubic")
