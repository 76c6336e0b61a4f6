"""The real Keras 3 fixture lstm_text.keras: Input(20 int32) -> Embedding(100, 8) -> LSTM(16) ->
Dense(4, softmax) must reproduce lstm_text.io.npz (x0 -> y0) within 1e-5."""

import io
import json
import zipfile

import h5py
import numpy as np

from compiler import keras
from compiler.keras import layers
from tests.fixtures import KERAS3

FIXTURES = KERAS3
MODEL = FIXTURES / "lstm_text.keras"
IO = FIXTURES / "lstm_text.io.npz"


def _archive():
    with zipfile.ZipFile(MODEL) as z:
        config = json.loads(z.read("config.json"))
        weights = z.read("model.weights.h5")
    layer_configs = {entry["name"]: entry for entry in config["config"]["layers"]}
    return layer_configs, h5py.File(io.BytesIO(weights), "r")


def _without_axes(config):
    # Keras 3.12+ writes input_axes / output_axes in GlorotUniform's config; these tests are
    # about the recurrent layers, not the initializers' argument lists.
    config = json.loads(json.dumps(config))
    for value in config.values():
        if isinstance(value, dict) and value.get("module") == "keras.initializers":
            value["config"].pop("input_axes", None)
            value["config"].pop("output_axes", None)
    return config


def test_hand_built_model_reproduces_keras_output():
    configs, h5 = _archive()
    with h5:
        emb = layers.Embedding.from_config(_without_axes(configs["embedding"]["config"]))
        lstm = layers.LSTM.from_config(_without_axes(configs["lstm"]["config"]))
        dense = layers.Dense(4, activation="softmax", name="dense")
        tokens = keras.Input(batch_shape=(1, 20), dtype="int32", name="tokens")
        model = keras.Model(tokens, dense(lstm(emb(tokens))))
        emb.set_weights([h5["layers/embedding/vars/0"][()]])
        # The LSTM's weights belong to its cell, as in Keras: layers/lstm/cell/vars/0..2.
        lstm.set_weights([h5[f"layers/lstm/cell/vars/{i}"][()] for i in range(3)])
        dense.set_weights([h5[f"layers/dense/vars/{i}"][()] for i in range(2)])
        assert h5["layers/lstm/cell/vars"].attrs["name"] == lstm.cell.name == "lstm_cell"
    data = np.load(IO)
    out = model(data["x0"])
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, data["y0"], rtol=0, atol=1e-5)
    # The config we write is Keras's, key for key and in Keras's order.
    reference = _without_axes(configs["lstm"]["config"])
    mine = lstm.get_config()
    assert list(mine) == list(reference)
    for key in reference:
        if key.endswith("initializer"):
            assert mine[key]["class_name"] == reference[key]["class_name"]
        elif key != "dtype":
            assert mine[key] == reference[key], key
    assert list(emb.get_config()) == list(configs["embedding"]["config"])


def test_load_model_reproduces_keras_output():
    model = keras.models.load_model(MODEL)
    assert [w.shape for w in model.get_layer("lstm").weights] == [(8, 64), (16, 64), (64,)]
    data = np.load(IO)
    np.testing.assert_allclose(np.asarray(model(data["x0"]).data), data["y0"], rtol=0, atol=1e-5)


def test_recurrent_model_save_load_round_trip(tmp_path):
    tokens = keras.Input((6,), dtype="int32")
    x = layers.Embedding(20, 4, mask_zero=True)(tokens)
    x = layers.Bidirectional(layers.LSTM(3, return_sequences=True))(x)
    x = layers.GRU(3, reset_after=False)(x)
    x = layers.SimpleRNN(2)(layers.RepeatVector(2)(x))
    model = keras.Model(tokens, layers.Dense(2)(x))
    ids = np.array([[1, 2, 3, 0, 0, 0], [4, 5, 6, 7, 8, 9]])
    path = tmp_path / "rnn.keras"
    model.save(path)
    with zipfile.ZipFile(path) as z, h5py.File(io.BytesIO(z.read("model.weights.h5"))) as h5:
        assert h5["layers/bidirectional/forward_layer/cell/vars/1"].shape == (3, 12)
        assert h5["layers/gru/cell/vars/2"].shape == (9,)
    again = keras.models.load_model(path)
    np.testing.assert_array_equal(again(ids).data, model(ids).data)
