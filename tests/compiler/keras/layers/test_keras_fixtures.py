"""Layers against models made by real Keras 3: configs key for key, outputs within 1e-5.

The fixtures' ``config.json`` and ``model.weights.h5`` are read directly (not through the
``.keras`` loader): each layer is rebuilt with ``from_config`` of Keras's own config, wired by
hand along the config's ``inbound_nodes``, given the weights ``layers/<name>/vars/<i>``, and run
on the inputs of ``NAME.io.npz``.
"""

import json
import zipfile

import h5py
import numpy as np
import pytest

from compiler.keras import layers
from tests.fixtures import KERAS3

FIXTURES = KERAS3
MINE = {
    "Conv2D",
    "DepthwiseConv2D",
    "ZeroPadding2D",
    "Add",
    "Multiply",
    "AveragePooling2D",
    "MaxPooling2D",
    "Concatenate",
    "GlobalAveragePooling2D",
    "Flatten",
    "Dropout",
}


def _load(name):
    path = FIXTURES / f"{name}.keras"
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
        with archive.open("model.weights.h5") as f, h5py.File(f) as h5:
            weights = {
                layer: [
                    np.array(h5[f"layers/{layer}/vars/{i}"])
                    for i in range(len(h5[f"layers/{layer}/vars"]))
                ]
                for layer in h5["layers"]
            }
    return config, weights


def _keras_config(entry):
    config = dict(entry["config"])
    # Keras marks dtype policies shared between layers with an id: not part of the config.
    config["dtype"] = {k: v for k, v in config["dtype"].items() if k != "shared_object_id"}
    return config


def _build_layer(entry):
    return getattr(layers, entry["class_name"]).from_config(_keras_config(entry))


def _history(arg):
    if isinstance(arg, list):
        return [_history(a) for a in arg]
    return arg["config"]["keras_history"][0]


@pytest.mark.parametrize("name", ["ops_zoo", "slide_cnn"])
def test_our_configs_equal_keras_configs_for_every_layer(name):
    config, _ = _load(name)
    checked = 0
    for entry in config["config"]["layers"]:
        if entry["class_name"] not in MINE:
            continue
        layer = _build_layer(entry)
        ours = json.loads(json.dumps(layer.get_config()))
        assert ours == _keras_config(entry), entry["class_name"]
        assert list(ours) == list(entry["config"]), entry["class_name"]
        checked += 1
    assert checked >= (10 if name == "ops_zoo" else 5)


def _check_build_config(layer, entry):
    """Keras records the build shape only for layers not built in ``__init__``."""
    if entry["class_name"] in MINE:
        assert layer.get_build_config() == entry.get("build_config"), entry["class_name"]


def _run_functional(config, weights, x):
    values = {}
    for entry in config["config"]["layers"]:
        if entry["class_name"] == "InputLayer":
            values[entry["config"]["name"]] = x
            continue
        layer = _build_layer(entry)
        node = entry["inbound_nodes"][0]
        sources = _history(node["args"][0])
        inputs = [values[s] for s in sources] if isinstance(sources, list) else values[sources]
        layer(inputs)  # builds
        if weights.get(layer.name):
            layer.set_weights(weights[layer.name])
        values[layer.name] = layer(inputs)
        _check_build_config(layer, entry)
    output = config["config"]["output_layers"]
    return values[output[0] if isinstance(output[0], str) else output[0][0]]


def test_ops_zoo_outputs_match_keras():
    config, weights = _load("ops_zoo")
    io = np.load(FIXTURES / "ops_zoo.io.npz")
    out = _run_functional(config, weights, io["x0"])
    np.testing.assert_allclose(out.data, io["y0"], atol=1e-5)


def test_slide_cnn_outputs_match_keras():
    config, weights = _load("slide_cnn")
    io = np.load(FIXTURES / "slide_cnn.io.npz")
    h = io["x0"]
    for entry in config["config"]["layers"]:
        if entry["class_name"] == "InputLayer":
            continue
        layer = _build_layer(entry)
        layer(h)
        if weights.get(layer.name):
            layer.set_weights(weights[layer.name])
        h = layer(h)
        _check_build_config(layer, entry)
    assert sum(w.size for v in weights.values() for w in v) == 34826
    np.testing.assert_allclose(h.data, io["y0"], atol=1e-5)
