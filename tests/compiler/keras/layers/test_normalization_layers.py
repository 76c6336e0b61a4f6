"""LayerNormalization, GroupNormalization, UnitNormalization, Normalization, Resizing,
CenterCrop and ConvNeXt's LayerScale / StochasticDepth against real Keras 3: the same config
(serialized by us, rebuilt by Keras) and weights give the same outputs and the same config;
gradients against finite differences; ``.keras`` files both ways; bad arguments refused."""

import json

import numpy as np
import pytest

from compiler import keras as ours
from compiler.keras.applications import LayerScale, StochasticDepth
from compiler.keras.saving import serialize_keras_object
from tests._oracles import KERAS, require
from tests.compiler.keras.helpers import check_layer_gradients
from tests.compiler.keras.layers.reference import check_config_round_trip

real = require("keras", KERAS)
L = ours.layers
RNG = np.random.default_rng(21)


def _perturb(layer):
    """Random statistics and affine weights: fresh ones (0 / 1) hide mistakes."""
    for w in layer.weights:
        if w.dtype.kind != "f":
            continue
        if w.name in ("variance", "gamma", "variable"):
            w.assign(RNG.uniform(0.5, 1.5, w.shape))
        else:
            w.assign(RNG.normal(0.0, 0.5, w.shape))


def _keras_twin(layer):
    """Keras's layer from our serialized config, with our weights."""
    config = json.loads(json.dumps(serialize_keras_object(layer)))
    custom = {}
    if config["module"].startswith("keras.src.applications"):
        from keras.src.applications import convnext

        custom = {"LayerScale": convnext.LayerScale, "StochasticDepth": convnext.StochasticDepth}
    return real.saving.deserialize_keras_object(config, custom_objects=custom)


def _versus_keras(layer, x, rtol=1e-5, atol=1e-6):
    got = layer(x).data
    _perturb(layer)
    got = layer(x).data
    twin = _keras_twin(layer)
    if not twin.built:
        twin.build(x.shape)
    if layer.weights:
        twin.set_weights(layer.get_weights())
        if hasattr(twin, "finalize_state"):
            twin.finalize_state()
    want = np.asarray(twin(x))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    # Same config as Keras's own, once built, apart from the dtype policy's spelling.
    ours_config = json.loads(json.dumps(layer.get_config()))
    keras_config = json.loads(json.dumps(twin.get_config()))
    for config in (ours_config, keras_config):
        config.pop("dtype", None)
    assert ours_config == keras_config
    check_config_round_trip(layer)
    return got


def _x(*shape, scale=2.0, shift=0.5):
    return (RNG.standard_normal(shape) * scale + shift).astype(np.float32)


@pytest.mark.parametrize(
    "kwargs, shape",
    [
        ({}, (3, 5, 6)),
        ({"axis": [1, 2], "epsilon": 1e-5}, (2, 4, 5, 3)),
        ({"axis": 1}, (3, 4, 5)),
        ({"center": False}, (4, 8)),
        ({"scale": False, "epsilon": 0.1}, (2, 3, 3, 4)),
    ],
)
def test_layer_normalization_like_keras(kwargs, shape):
    _versus_keras(L.LayerNormalization(**kwargs), _x(*shape))


@pytest.mark.parametrize(
    "kwargs, shape",
    [
        ({"groups": 2}, (2, 4, 5, 6)),
        ({"groups": -1, "epsilon": 1e-5}, (2, 3, 4)),
        ({"groups": 1, "center": False}, (3, 4, 4, 4)),
        ({"groups": 3, "axis": 1}, (2, 6, 5)),
    ],
)
def test_group_normalization_like_keras(kwargs, shape):
    _versus_keras(L.GroupNormalization(**kwargs), _x(*shape))


@pytest.mark.parametrize("axis", [-1, [1, 2], 1])
def test_unit_normalization_like_keras(axis):
    x = _x(3, 4, 5)
    x[0] = 0.0  # an all-zero vector stays zero
    _versus_keras(L.UnitNormalization(axis=axis), x)


@pytest.mark.parametrize(
    "kwargs, shape",
    [
        ({}, (4, 3)),
        ({"mean": 2.0, "variance": 4.0}, (3, 5)),
        ({"mean": [1.0, -1.0, 0.5], "variance": [1.0, 2.0, 0.25]}, (2, 4, 4, 3)),
        ({"axis": None, "mean": 0.5, "variance": 9.0, "invert": True}, (3, 4)),
        ({"axis": (1, -1)}, (2, 3, 4)),
        ({"invert": True}, (2, 5, 5, 2)),
    ],
)
def test_normalization_like_keras(kwargs, shape):
    _versus_keras(L.Normalization(**kwargs), _x(*shape))


@pytest.mark.parametrize("axis", [-1, None, (1, 2)])
def test_normalization_adapt_like_keras(axis):
    data = _x(64, 3, 4, scale=3.0, shift=2.0)
    layer, twin = L.Normalization(axis=axis), real.layers.Normalization(axis=axis)
    layer.adapt(data)
    twin.adapt(data)
    for got, want in zip(layer.get_weights()[:2], twin.get_weights()[:2], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    x = _x(5, 3, 4)
    np.testing.assert_allclose(layer(x).data, np.asarray(twin(x)), rtol=1e-5, atol=1e-5)
    # Batches (Keras's running combination of means and variances; Keras itself needs
    # TensorFlow for this path): the statistics of the whole data.
    batches = [data[:20], data[20:50], data[50:]]
    combined = L.Normalization(axis=axis)
    combined.adapt(batches)
    for got, want in zip(combined.get_weights()[:2], layer.get_weights()[:2], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, shape",
    [
        ({"height": 7, "width": 9}, (2, 5, 6, 3)),
        ({"height": 3, "width": 4}, (2, 8, 9, 2)),
        ({"height": 10, "width": 4, "interpolation": "nearest"}, (2, 5, 7, 3)),
        ({"height": 6, "width": 6, "crop_to_aspect_ratio": True}, (2, 8, 12, 3)),
        ({"height": 6, "width": 4, "crop_to_aspect_ratio": True}, (1, 9, 5, 2)),
        ({"height": 6, "width": 6, "pad_to_aspect_ratio": True}, (2, 8, 12, 3)),
        ({"height": 8, "width": 4, "pad_to_aspect_ratio": True, "fill_value": 2.0}, (1, 6, 6, 2)),
    ],
)
def test_resizing_like_keras(kwargs, shape):
    _versus_keras(L.Resizing(**kwargs), _x(*shape))


@pytest.mark.parametrize("shape", [(2, 9, 8, 3), (2, 4, 5, 2), (1, 6, 3, 1)])
def test_center_crop_like_keras(shape):
    """Larger inputs are cropped; smaller ones are cropped to the ratio and resized."""
    _versus_keras(L.CenterCrop(5, 4), _x(*shape))


@pytest.mark.parametrize(
    "kwargs", [{"scale": 1 / 255}, {"scale": [0.5, 2.0, 1.0], "offset": [0.1, -0.1, 0.0]}]
)
def test_rescaling_like_keras(kwargs):
    _versus_keras(L.Rescaling(**kwargs), _x(2, 4, 4, 3))


def test_layer_scale_and_stochastic_depth_like_keras():
    x = _x(2, 3, 3, 6)
    _versus_keras(LayerScale(1e-6, 6), x)
    _versus_keras(StochasticDepth(0.3), x)


def test_stochastic_depth_drops_whole_samples_in_training():
    ours.utils.set_random_seed(0)
    x = np.ones((4000, 2, 3), np.float32)
    y = StochasticDepth(0.25)(x, training=True).data
    per_sample = y.reshape(4000, -1)
    assert set(np.unique(per_sample.min(axis=1))) <= {0.0, np.float32(1 / 0.75)}
    assert np.all(per_sample.min(axis=1) == per_sample.max(axis=1))
    assert abs((per_sample[:, 0] == 0).mean() - 0.25) < 0.03


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: L.LayerNormalization(dtype="float64"), (2, 3, 4)),
        (lambda: L.LayerNormalization(axis=[1, 2], dtype="float64"), (2, 3, 4)),
        (lambda: L.GroupNormalization(groups=2, dtype="float64"), (2, 3, 4)),
        (lambda: L.UnitNormalization(axis=[1, 2], dtype="float64"), (2, 3, 4)),
        (lambda: L.Normalization(mean=1.0, variance=4.0, dtype="float64"), (2, 3)),
        (lambda: L.Resizing(5, 3, dtype="float64"), (2, 3, 4, 2)),
        (lambda: L.Resizing(2, 5, interpolation="nearest", dtype="float64"), (1, 4, 3, 2)),
        (lambda: L.CenterCrop(4, 4, dtype="float64"), (2, 3, 5, 2)),
        (lambda: LayerScale(0.5, 4, dtype="float64"), (2, 3, 4)),
    ],
)
def test_gradients_match_finite_differences(make, shape):
    layer = make()
    x = RNG.standard_normal(shape) + 0.3
    layer(x)
    _perturb(layer)
    check_layer_gradients(layer, x)


def test_keras_files_both_ways(tmp_path):
    x = ours.Input((10, 12, 3))
    y = L.Resizing(8, 8, crop_to_aspect_ratio=True)(x)
    y = L.CenterCrop(6, 6)(y)
    y = L.Normalization(mean=[0.1, 0.2, 0.3], variance=[1.0, 2.0, 3.0])(y)
    y = L.Conv2D(8, 3)(y)
    y = L.GroupNormalization(groups=4)(y)
    y = L.LayerNormalization(epsilon=1e-6)(y)
    y = LayerScale(0.1, 8)(y)
    y = StochasticDepth(0.2)(y)
    y = L.UnitNormalization()(y)
    adapted = L.Normalization()
    adapted.adapt(_x(32, 4, 4, 8))
    y = adapted(y)
    model = ours.Model(x, y)
    for layer in model.layers:
        if type(layer).__name__ in ("GroupNormalization", "LayerNormalization", "LayerScale"):
            _perturb(layer)
    data = _x(2, 10, 12, 3)
    want = model.predict(data, verbose=0)
    path = tmp_path / "ours.keras"
    model.save(path)
    theirs = real.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(theirs.predict(data, verbose=0)), want, atol=2e-5)
    back = tmp_path / "theirs.keras"
    theirs.save(back)
    again = ours.models.load_model(back)
    np.testing.assert_allclose(again.predict(data, verbose=0), want, atol=2e-5)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: L.GroupNormalization(groups=0), "groups"),
        (lambda: L.Resizing(4, 4, interpolation="bicubic"), "interpolation"),
        (lambda: L.Resizing(4, 4, antialias=True), "antialias"),
        (lambda: L.Resizing(4, 4, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True), "Only one"),
        (lambda: L.Resizing(0, 4), "height"),
        (lambda: L.CenterCrop(4, -1), "width"),
        (lambda: L.Normalization(mean=1.0), "both `mean` and `variance`"),
        (lambda: L.Normalization(mean=[1.0, 2.0], variance=[1.0]), "same shape"),
    ],
)
def test_bad_arguments_are_value_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_shapes_name_the_layer():
    with pytest.raises(ValueError, match="multiple of the number of channels"):
        L.GroupNormalization(groups=4, name="gn")(np.zeros((1, 6), np.float32))
    with pytest.raises(ValueError, match="out of bounds"):
        L.LayerNormalization(axis=3, name="ln")(np.zeros((1, 6), np.float32))
    with pytest.raises(TypeError, match="axis"):
        L.LayerNormalization(axis="last")
    with pytest.raises(ValueError, match="build"):
        L.Normalization(mean=0.0, variance=1.0).call(ours.ops.as_tensor(np.zeros((1, 2))))


def test_a_model_of_these_layers_trains_and_compiles(tmp_path):
    """fit lowers the loss through every layer here; the trained model compiles to int8."""
    import compiler
    import runtime

    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (96, 12, 14, 3)).astype(np.float32)
    labels = (images[..., 0].mean(axis=(1, 2)) > images[..., 1].mean(axis=(1, 2))).astype(int)
    ours.utils.set_random_seed(1)
    x = ours.Input((12, 14, 3))
    y = L.Resizing(10, 10, crop_to_aspect_ratio=True)(x)
    normalization = L.Normalization()
    normalization.adapt(images)
    y = normalization(y)
    y = L.Conv2D(8, 3)(y)
    y = L.GroupNormalization(groups=2)(y)
    y = L.LayerNormalization()(y)
    y = LayerScale(0.5, 8)(y)
    y = StochasticDepth(0.1)(y)
    y = L.UnitNormalization()(y)
    y = L.Activation("relu")(y)
    y = L.GlobalAveragePooling2D()(y)
    model = ours.Model(x, L.Dense(2)(y))
    model.compile(
        optimizer=ours.optimizers.Adam(0.01),
        loss=ours.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(images, labels, epochs=20, batch_size=16, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.6 * losses[0], losses
    result = compiler.compile(
        model, out_dir=tmp_path, quantize="int8", calibration=images[:32], to="tflite"
    )
    interpreter = runtime.Interpreter(model_path=str(result.files["tflite"]))
    interpreter.resize_tensor_input(0, [8, 12, 14, 3])
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], images[:8])
    interpreter.invoke()
    logits = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    agree = (logits.argmax(1) == model.predict(images[:8], verbose=0).argmax(1)).mean()
    assert agree >= 0.75
