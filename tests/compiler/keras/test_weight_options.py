"""Every layer's regularizer, constraint and activity-regularizer arguments against real Keras 3.

For each layer that takes them in Keras 3, the same arguments give the same config, the same
regularizer and constraint on the same variables, and the same ``layer.losses`` values for the
same weights and inputs.
"""

import json

import numpy as np
import pytest

from compiler import keras as ours
from tests._oracles import KERAS, require
from tests.compiler.keras.saving import _compare

real = require("keras", KERAS)

# name -> (input shape or "int", constructor arguments, weight-option prefixes)
LAYERS = {
    "Dense": ((3,), {"units": 4}, ["kernel", "bias"]),
    "Conv1D": ((6, 2), {"filters": 3, "kernel_size": 2}, ["kernel", "bias"]),
    "Conv2D": ((5, 5, 2), {"filters": 3, "kernel_size": 2}, ["kernel", "bias"]),
    "Conv2DTranspose": ((4, 4, 2), {"filters": 3, "kernel_size": 2}, ["kernel", "bias"]),
    "DepthwiseConv1D": ((6, 2), {"kernel_size": 2}, ["depthwise", "bias"]),
    "DepthwiseConv2D": ((5, 5, 2), {"kernel_size": 2}, ["depthwise", "bias"]),
    "SeparableConv1D": (
        (6, 2),
        {"filters": 3, "kernel_size": 2},
        ["depthwise", "pointwise", "bias"],
    ),
    "SeparableConv2D": (
        (5, 5, 2),
        {"filters": 3, "kernel_size": 2},
        ["depthwise", "pointwise", "bias"],
    ),
    "EinsumDense": (
        (3,),
        {"equation": "ab,bc->ac", "output_shape": 4, "bias_axes": "c"},
        ["kernel", "bias"],
    ),
    "Embedding": ("int", {"input_dim": 10, "output_dim": 3}, ["embeddings"]),
    "BatchNormalization": ((4,), {}, ["beta", "gamma"]),
    "LayerNormalization": ((4,), {}, ["beta", "gamma"]),
    "GroupNormalization": ((4,), {"groups": 2}, ["beta", "gamma"]),
    "PReLU": ((4,), {}, ["alpha"]),
    "SimpleRNN": ((5, 3), {"units": 4}, ["kernel", "recurrent", "bias"]),
    "LSTM": ((5, 3), {"units": 4}, ["kernel", "recurrent", "bias"]),
    "GRU": ((5, 3), {"units": 4}, ["kernel", "recurrent", "bias"]),
}

# Keras 3.15's SimpleRNN accepts `activity_regularizer` and drops it (it never reaches the base
# Layer); ours implements it (tested on its own below), so the comparisons leave it out there.
_KERAS_DROPS_ACTIVITY = {"SimpleRNN"}

# A different regularizer and constraint for each weight, so a mix-up shows.
_REGULARIZERS = [("L2", {"l2": 0.03}), ("L1", {"l1": 0.02}), ("L1L2", {"l1": 0.01, "l2": 0.05})]
_CONSTRAINTS = [
    ("MaxNorm", {"max_value": 0.7, "axis": 0}),
    ("NonNeg", {}),
    ("UnitNorm", {"axis": 0}),
]


def _kwargs(lib, name):
    _, base, prefixes = LAYERS[name]
    kwargs = dict(base)
    for i, prefix in enumerate(prefixes):
        reg_name, reg_config = _REGULARIZERS[i % len(_REGULARIZERS)]
        con_name, con_config = _CONSTRAINTS[i % len(_CONSTRAINTS)]
        kwargs[f"{prefix}_regularizer"] = getattr(lib.regularizers, reg_name)(**reg_config)
        kwargs[f"{prefix}_constraint"] = getattr(lib.constraints, con_name)(**con_config)
    if name not in _KERAS_DROPS_ACTIVITY:
        kwargs["activity_regularizer"] = lib.regularizers.L2(0.004)
    return kwargs


def _data(name, seed=0):
    shape = LAYERS[name][0]
    rng = np.random.default_rng(seed)
    if shape == "int":
        return rng.integers(0, 10, (4, 5)).astype("int32")
    return rng.standard_normal((4, *shape)).astype("float32")


def _built(lib, name):
    layer = getattr(lib.layers, name)(**_kwargs(lib, name), name="probe")
    layer(_data(name))
    return layer


def _built_symbolically(lib, name):
    shape = LAYERS[name][0]
    if shape == "int":
        symbolic = lib.Input(shape=(5,), dtype="int32")
    else:
        symbolic = lib.Input(shape=shape)
    layer = getattr(lib.layers, name)(**_kwargs(lib, name), name="probe")
    lib.Model(symbolic, layer(symbolic))
    return layer


def _to_float(value):
    return float(np.asarray(getattr(value, "data", value)))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_config_matches_keras(name):
    configs = []
    for lib, serialize in (
        (real, real.saving.serialize_keras_object),
        (ours, ours.saving.serialize_keras_object),
    ):
        layer = _built_symbolically(lib, name)
        configs.append(_compare.strip_volatile(json.loads(json.dumps(serialize(layer)))))
    assert _compare.differences(configs[0], configs[1], name) == []


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_variables_carry_the_options_and_losses_match_keras(name):
    theirs, mine = _built(real, name), _built(ours, name)
    rng = np.random.default_rng(1)
    weights = [rng.standard_normal(w.shape).astype("float32") for w in theirs.get_weights()]
    if name == "BatchNormalization":  # a positive moving variance
        weights[-1] = np.abs(weights[-1]) + 0.5
    theirs.set_weights(weights)
    mine.set_weights(weights)

    def options(layer):
        return [
            (
                v.path.split("/")[-1],
                real.saving.serialize_keras_object(v.regularizer)
                if layer is theirs
                else ours.saving.serialize_keras_object(v.regularizer),
                real.saving.serialize_keras_object(v.constraint)
                if layer is theirs
                else ours.saving.serialize_keras_object(v.constraint),
            )
            for v in layer.trainable_weights
        ]

    assert options(mine) == options(theirs)
    data = _data(name, seed=2)
    theirs(data, training=True)
    mine(data, training=True)
    expected = [_to_float(loss) for loss in theirs.losses]
    got = [_to_float(loss) for loss in mine.losses]
    activity = name not in _KERAS_DROPS_ACTIVITY
    assert len(got) == len(expected) == activity + len(LAYERS[name][2])
    np.testing.assert_allclose(got, expected, rtol=2e-5)


def test_simple_rnn_implements_its_activity_regularizer():
    layer = ours.layers.SimpleRNN(4, activity_regularizer=ours.regularizers.L1(0.1))
    data = _data("SimpleRNN")
    out = layer(data)
    assert len(layer.losses) == 1
    expected = 0.1 * np.abs(out.data).sum() / data.shape[0]
    np.testing.assert_allclose(_to_float(layer.losses[0]), expected, rtol=1e-6)
    config = layer.get_config()
    assert config["activity_regularizer"]["class_name"] == "L1"
    assert (
        ours.layers.SimpleRNN.from_config(config).activity_regularizer.l1
        == layer.activity_regularizer.l1
    )


_ATTENTION = {
    "MultiHeadAttention": {"num_heads": 2, "key_dim": 3},
    "GroupQueryAttention": {"head_dim": 3, "num_query_heads": 4, "num_key_value_heads": 2},
}


def _attention(lib, name, symbolic):
    kwargs = dict(
        _ATTENTION[name],
        kernel_regularizer=lib.regularizers.L2(0.03),
        bias_regularizer=lib.regularizers.L1(0.02),
        activity_regularizer=lib.regularizers.L2(0.004),
        kernel_constraint=lib.constraints.MaxNorm(0.7),
        bias_constraint=lib.constraints.NonNeg(),
    )
    layer = getattr(lib.layers, name)(**kwargs, name="probe")
    if symbolic:
        query, value = lib.Input((4, 5)), lib.Input((3, 5))
        lib.Model([query, value], layer(query, value))
    return layer


@pytest.mark.parametrize("name", sorted(_ATTENTION))
def test_attention_options_match_keras(name):
    configs = [
        _compare.strip_volatile(
            json.loads(json.dumps(lib.saving.serialize_keras_object(_attention(lib, name, True))))
        )
        for lib in (real, ours)
    ]
    assert _compare.differences(configs[0], configs[1], name) == []
    rng = np.random.default_rng(3)
    query = rng.standard_normal((2, 4, 5)).astype("float32")
    value = rng.standard_normal((2, 3, 5)).astype("float32")
    theirs, mine = _attention(real, name, False), _attention(ours, name, False)
    theirs(query, value)
    mine(query, value)
    weights = [rng.standard_normal(w.shape).astype("float32") for w in theirs.get_weights()]
    theirs.set_weights(weights)
    mine.set_weights(weights)
    assert [type(v.constraint).__name__ for v in mine.trainable_weights] == [
        type(v.constraint).__name__ for v in theirs.trainable_weights
    ]
    theirs(query, value)
    mine(query, value)
    expected = sorted(_to_float(loss) for loss in theirs.losses)
    got = sorted(_to_float(loss) for loss in mine.losses)
    assert len(got) == len(expected)
    np.testing.assert_allclose(got, expected, rtol=2e-5)
