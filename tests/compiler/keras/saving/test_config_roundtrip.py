"""``get_config`` / ``from_config`` round trips of every registered layer, loss, optimizer, metric.

Each layer is serialized with ``serialize_keras_object``, passed through JSON, rebuilt with
``deserialize_keras_object`` (found by class name in ``compiler.keras.layers``), and must give
the same config; in a one-layer model it must also survive ``save`` / ``load_model`` with the
same weights and outputs. A layer class added to ``keras.layers`` is picked up automatically:
give it representative arguments in ``LAYER_SPECS`` unless its defaults build it.
"""

import io
import json

import numpy as np
import pytest

from compiler import keras
from compiler.keras import layers, losses, metrics, optimizers
from compiler.keras.layers.layer import Layer
from compiler.keras.saving import deserialize_keras_object, serialize_keras_object

_SEQ, _IMG = (6, 2), (6, 6, 2)
# name -> (kwargs factory, input shape(s) without batch or None for a config-only check)
LAYER_SPECS = {
    "InputLayer": (lambda: {"shape": (3,)}, None),
    "Dense": (lambda: {"units": 3, "activation": "relu"}, (5,)),
    "ELU": (lambda: {"alpha": 0.5}, (4,)),
    "LeakyReLU": (lambda: {"negative_slope": 0.2}, (4,)),
    "PReLU": (lambda: {"alpha_initializer": "ones", "shared_axes": [1]}, (3, 4)),
    "ReLU": (lambda: {"max_value": 6.0}, (4,)),
    "Softmax": (lambda: {"axis": -1}, (4,)),
    "Activation": (lambda: {"activation": "tanh"}, (4,)),
    "Conv1D": (lambda: {"filters": 3, "kernel_size": 2, "padding": "same"}, _SEQ),
    "Conv2D": (lambda: {"filters": 3, "kernel_size": 3, "strides": 2}, _IMG),
    "Conv2DTranspose": (
        lambda: {"filters": 3, "kernel_size": 3, "strides": 2, "output_padding": 1},
        _IMG,
    ),
    "DepthwiseConv1D": (lambda: {"kernel_size": 2, "depth_multiplier": 2}, _SEQ),
    "DepthwiseConv2D": (lambda: {"kernel_size": 3, "depth_multiplier": 2}, _IMG),
    "SeparableConv1D": (lambda: {"filters": 4, "kernel_size": 2}, _SEQ),
    "SeparableConv2D": (lambda: {"filters": 4, "kernel_size": 3}, _IMG),
    "Identity": (lambda: {}, (3,)),
    "Masking": (lambda: {"mask_value": 0.0}, (4, 3)),
    "Add": (lambda: {}, [(3,), (3,)]),
    "Average": (lambda: {}, [(3,), (3,)]),
    "Maximum": (lambda: {}, [(3,), (3,)]),
    "Minimum": (lambda: {}, [(3,), (3,)]),
    "Multiply": (lambda: {}, [(3,), (3,)]),
    "Subtract": (lambda: {}, [(3,), (3,)]),
    "Concatenate": (lambda: {"axis": -1}, [(3,), (2,)]),
    "Dot": (lambda: {"axes": 1}, [(3,), (3,)]),
    "BatchNormalization": (lambda: {"momentum": 0.9, "epsilon": 1e-3}, (4,)),
    "AveragePooling1D": (lambda: {"pool_size": 2}, _SEQ),
    "AveragePooling2D": (lambda: {"pool_size": 2}, _IMG),
    "MaxPooling1D": (lambda: {"pool_size": 2}, _SEQ),
    "MaxPooling2D": (lambda: {"pool_size": 2, "padding": "same"}, _IMG),
    "GlobalAveragePooling1D": (lambda: {}, _SEQ),
    "GlobalAveragePooling2D": (lambda: {"keepdims": True}, _IMG),
    "GlobalMaxPooling1D": (lambda: {}, _SEQ),
    "GlobalMaxPooling2D": (lambda: {}, _IMG),
    "Rescaling": (lambda: {"scale": 1 / 255, "offset": 0.5}, (3,)),
    "Resizing": (lambda: {"height": 3, "width": 5, "crop_to_aspect_ratio": True}, _IMG),
    "CenterCrop": (lambda: {"height": 2, "width": 3}, _IMG),
    "Normalization": (lambda: {"mean": [0.5, 1.0, 2.0], "variance": [1.0, 2.0, 4.0]}, (3,)),
    "GroupNormalization": (lambda: {"groups": 2, "epsilon": 1e-5}, (4,)),
    "LayerNormalization": (lambda: {"axis": -1, "epsilon": 1e-6, "center": False}, (4,)),
    "UnitNormalization": (lambda: {"axis": [1, 2]}, (3, 4)),
    "Dropout": (lambda: {"rate": 0.3}, (3,)),
    "GaussianNoise": (lambda: {"stddev": 0.1}, (3,)),
    "Cropping1D": (lambda: {"cropping": (1, 1)}, _SEQ),
    "Cropping2D": (lambda: {"cropping": ((1, 0), (0, 1))}, _IMG),
    "Flatten": (lambda: {}, (3, 2)),
    "Permute": (lambda: {"dims": (2, 1)}, (3, 2)),
    "RepeatVector": (lambda: {"n": 3}, (4,)),
    "Reshape": (lambda: {"target_shape": (2, 3)}, (6,)),
    "UpSampling1D": (lambda: {"size": 2}, (3, 2)),
    "UpSampling2D": (lambda: {"size": (2, 3), "interpolation": "bilinear"}, (3, 3, 2)),
    "ZeroPadding1D": (lambda: {"padding": 1}, (3, 2)),
    "ZeroPadding2D": (lambda: {"padding": ((1, 2), (2, 1))}, (3, 3, 2)),
    "Embedding": (lambda: {"input_dim": 10, "output_dim": 4}, "int:5"),
    "RNN": (lambda: {"cell": layers.LSTMCell(4)}, (5, 3)),
    "SimpleRNNCell": (lambda: {"units": 4}, None),
    "LSTMCell": (lambda: {"units": 4}, None),
    "GRUCell": (lambda: {"units": 4}, None),
    "SimpleRNN": (lambda: {"units": 4}, (5, 3)),
    "LSTM": (lambda: {"units": 4, "return_sequences": True}, (5, 3)),
    "GRU": (lambda: {"units": 4}, (5, 3)),
    "Bidirectional": (lambda: {"layer": layers.LSTM(4, return_sequences=True)}, (5, 3)),
    "TimeDistributed": (lambda: {"layer": layers.Dense(2)}, (5, 3)),
    "EinsumDense": (
        lambda: {"equation": "abc,cde->abde", "output_shape": (None, 2, 3), "bias_axes": "de"},
        (5, 6),
    ),
    # Called on (query, value), not on one input: the config and file round trips of a built
    # MultiHeadAttention are in tests/compiler/keras/layers/test_attention.py.
    "MultiHeadAttention": (lambda: {"num_heads": 2, "key_dim": 3, "output_shape": 4}, None),
    "GroupQueryAttention": (
        lambda: {"head_dim": 2, "num_query_heads": 4, "num_key_value_heads": 2},
        None,
    ),
    "Attention": (lambda: {"use_scale": True, "score_mode": "concat"}, [(4, 6), (5, 6)]),
    "AdditiveAttention": (lambda: {"use_scale": True}, [(4, 6), (5, 6)]),
}
# Base classes that are not layers one instantiates.
_ABSTRACT = {"Layer", "BaseConv"}


def _layer_names():
    return [
        name
        for name in layers.__all__
        if isinstance(getattr(layers, name), type)
        and issubclass(getattr(layers, name), Layer)
        and name not in _ABSTRACT
    ]


def _json(value):
    return json.loads(json.dumps(value))


def _inputs(shape):
    if shape == "int:5":
        return keras.Input(shape=(5,), dtype="int32"), np.random.default_rng(0).integers(
            0, 10, (3, 5)
        ).astype("int32")
    if isinstance(shape, list):
        pairs = [_inputs(s) for s in shape]
        return [p[0] for p in pairs], [p[1] for p in pairs]
    return keras.Input(shape=shape), np.random.default_rng(1).standard_normal((3, *shape)).astype(
        "float32"
    )


@pytest.mark.parametrize("name", _layer_names())
def test_layer_config_round_trip_and_save_load(name):
    cls = getattr(layers, name)
    factory, shape = LAYER_SPECS.get(name, (dict, None))
    try:
        layer = cls(**factory())
    except TypeError as error:
        pytest.fail(f"{name}: add representative arguments to LAYER_SPECS ({error})")
    if shape is not None:
        symbolic, data = _inputs(shape)
        model = keras.Model(symbolic, layer(symbolic))
    config = _json(serialize_keras_object(layer))
    assert config["class_name"] == name and config["module"] == "keras.layers"
    again = deserialize_keras_object(config)
    assert type(again) is cls
    assert _json(serialize_keras_object(again)) == config
    assert [tuple(w.shape) for w in again.weights] == [tuple(w.shape) for w in layer.weights]
    if shape is None:
        return
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    loaded = keras.saving.load_model(buffer)
    for a, b in zip(model.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(model.predict(data, verbose=0), loaded.predict(data, verbose=0))


def _classes(module, base, skip):
    return [
        name
        for name in module.__all__
        if isinstance(getattr(module, name), type)
        and issubclass(getattr(module, name), base)
        and name not in skip
    ]


def _round_trip(obj):
    config = _json(serialize_keras_object(obj))
    again = deserialize_keras_object(config)
    assert type(again) is type(obj)
    assert _json(serialize_keras_object(again)) == config
    return config, again


@pytest.mark.parametrize("name", _classes(losses, losses.Loss, {"Loss", "LossFunctionWrapper"}))
def test_loss_round_trip(name):
    config, again = _round_trip(getattr(losses, name)())
    assert config["module"] == "keras.losses"
    y_true = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], "float32")
    y_pred = np.array([[0.2, 0.7, 0.1], [0.6, 0.3, 0.1]], "float32")
    if name == "SparseCategoricalCrossentropy":
        y_true = np.array([1, 0])
    original = getattr(losses, name)()(y_true, y_pred)
    np.testing.assert_array_equal(np.asarray(again(y_true, y_pred).data), np.asarray(original.data))


@pytest.mark.parametrize("name", _classes(optimizers, optimizers.Optimizer, {"Optimizer"}))
def test_optimizer_round_trip(name):
    config, again = _round_trip(getattr(optimizers, name)(learning_rate=0.02, clipnorm=1.0))
    assert config["module"] == "keras.optimizers"
    # Keras reports the learning rate as the float32 value of its variable, as we do.
    assert config["config"]["learning_rate"] == float(np.float32(0.02))
    assert (
        again.get_config()
        == getattr(optimizers, name)(learning_rate=0.02, clipnorm=1.0).get_config()
    )


@pytest.mark.parametrize("name", _classes(metrics, metrics.Metric, {"Metric", "MeanMetricWrapper"}))
def test_metric_round_trip(name):
    config, _ = _round_trip(getattr(metrics, name)())
    assert config["module"] == "keras.metrics"


def test_functions_round_trip_by_name():
    config = serialize_keras_object(losses.mean_squared_error)
    assert config == {
        "module": "keras.losses",
        "class_name": "function",
        "config": "mean_squared_error",
        "registered_name": "mean_squared_error",
    }
    assert deserialize_keras_object(config) is losses.mean_squared_error
    assert deserialize_keras_object(serialize_keras_object(keras.activations.relu)) is (
        keras.activations.relu
    )


def test_model_get_config_from_config_round_trip():
    a = keras.Input(shape=(4,), name="a")
    shared = layers.Dense(3, name="shared")
    functional = keras.Model(a, layers.Add()([shared(a), shared(a)]), name="f")
    sequential = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(2)], name="s")
    for model in (functional, sequential):
        config = _json(model.get_config())
        again = type(model).from_config(config)
        assert type(again) is type(model)
        assert _json(again.get_config()) == config
        assert [tuple(w.shape) for w in again.weights] == [tuple(w.shape) for w in model.weights]
