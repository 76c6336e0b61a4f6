"""Files we write load back identically: config, weights, compile state, optimizer state."""

import io
import json
import os
import zipfile

import numpy as np
import pytest

from compiler import keras
from compiler.keras import layers
from compiler.keras.saving import InvalidModelFileError, _weights


def _functional():
    a = keras.Input(shape=(6,), name="a")
    b = keras.Input(shape=(6,), name="b")
    shared = layers.Dense(5, activation="tanh", name="shared")
    merged = layers.Concatenate()([shared(a), shared(b)])
    inner = keras.Sequential(
        [keras.Input(shape=(10,)), layers.Dense(4, activation="relu")], name="inner"
    )
    hidden = inner(merged)
    return keras.Model(
        [a, b],
        [
            layers.Dense(3, activation="softmax", name="cls")(hidden),
            layers.Dense(1, name="reg")(hidden),
        ],
        name="two_heads",
    )


def _inputs(n=8, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((n, 6)).astype("float32") for _ in range(2)]


def _reload(model):
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    return keras.saving.load_model(buffer), buffer.getvalue()


def _config(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return json.loads(archive.read("config.json"))


def test_functional_model_with_shared_and_nested_layers_round_trips():
    model = _functional()
    again, data = _reload(model)
    assert [w.path for w in again.weights] == [w.path for w in model.weights]
    for a, b in zip(model.weights, again.weights, strict=True):
        np.testing.assert_array_equal(a.data, b.data)
    for a, b in zip(
        model.predict(_inputs(), verbose=0), again.predict(_inputs(), verbose=0), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    resaved = io.BytesIO()
    again.save(resaved)
    assert _config(resaved.getvalue()) == _config(data)


def test_shared_layer_nodes_and_io_structure_in_config():
    config = _config(_reload(_functional())[1])["config"]
    shared = next(entry for entry in config["layers"] if entry["name"] == "shared")
    histories = [node["args"][0]["config"]["keras_history"] for node in shared["inbound_nodes"]]
    assert histories == [["a", 0, 0], ["b", 0, 0]]
    assert config["input_layers"] == [["a", 0, 0], ["b", 0, 0]]
    assert config["output_layers"] == [["cls", 0, 0], ["reg", 0, 0]]
    inner = next(entry for entry in config["layers"] if entry["name"] == "inner")
    assert inner["class_name"] == "Sequential" and inner["module"] == "keras"


def test_weights_paths_follow_keras_layout():
    entries = _weights.saveable_entries(_functional())
    paths = [e.path for e in entries]
    assert paths[0] == "" and "layers/dense" in paths and "layers/dense_1" in paths
    assert "layers/sequential/layers/dense" in paths  # nested model, by class name
    assert _weights.to_snake_case("DepthwiseConv2D") == "depthwise_conv2d"
    assert _weights.to_snake_case("LSTM") == "lstm"


def _trained(epochs):
    keras.utils.set_random_seed(7)
    model = keras.Sequential(
        [
            keras.Input(shape=(4,)),
            layers.Dense(8, activation="relu"),
            layers.Dense(3, activation="softmax"),
        ],
        name="clf",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    rng = np.random.default_rng(1)
    x = rng.standard_normal((32, 4)).astype("float32")
    y = rng.integers(0, 3, 32)
    model.fit(x, y, epochs=epochs, batch_size=8, shuffle=False, verbose=0)
    return model, x, y


def test_compile_state_and_optimizer_state_round_trip():
    model, _, _ = _trained(epochs=2)
    again, data = _reload(model)
    assert again.compiled
    assert _config(data)["compile_config"] == json.loads(json.dumps(model.get_compile_config()))
    assert again.optimizer.get_config() == model.optimizer.get_config()
    assert type(again.optimizer) is type(model.optimizer)
    assert _config(data)["compile_config"]["optimizer"]["class_name"] == "Adam"
    assert len(again.optimizer.variables) == len(model.optimizer.variables) > 2
    for a, b in zip(model.optimizer.variables, again.optimizer.variables, strict=True):
        np.testing.assert_array_equal(a.data, b.data)
    assert int(again.optimizer.iterations.data) == 8


def test_compile_config_survives_a_second_round_trip():
    model, _, _ = _trained(epochs=1)
    again, data = _reload(model)
    second = _reload(again)[1]
    first_cc, second_cc = _config(data)["compile_config"], _config(second)["compile_config"]
    assert second_cc == first_cc


def test_training_resumes_from_saved_optimizer_state():
    uninterrupted, x, y = _trained(epochs=1)
    uninterrupted.fit(x[:8], y[:8], epochs=1, batch_size=8, shuffle=False, verbose=0)
    interrupted, _, _ = _trained(epochs=1)
    resumed, _ = _reload(interrupted)
    resumed.fit(x[:8], y[:8], epochs=1, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(uninterrupted.weights, resumed.weights, strict=True):
        np.testing.assert_allclose(a.data, b.data, rtol=0, atol=1e-7)
    for a, b in zip(uninterrupted.optimizer.variables, resumed.optimizer.variables, strict=True):
        np.testing.assert_allclose(a.data, b.data, rtol=0, atol=1e-7)


def test_load_without_compile_leaves_model_uncompiled():
    model, _, _ = _trained(epochs=1)
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    again = keras.saving.load_model(buffer, compile=False)
    assert not again.compiled
    for a, b in zip(model.weights, again.weights, strict=True):
        np.testing.assert_array_equal(a.data, b.data)


def test_uncompiled_model_writes_empty_compile_config():
    data = _reload(_functional())[1]
    assert _config(data)["compile_config"] == {}
    assert _config(data)["build_config"] == {"input_shape": None}


def test_save_weights_load_weights(tmp_path):
    model, x, _ = _trained(epochs=1)
    target = tmp_path / "clf.weights.h5"
    model.save_weights(target)
    fresh, _, _ = _trained(epochs=0)
    fresh.load_weights(target)
    for a, b in zip(model.weights, fresh.weights, strict=True):
        np.testing.assert_array_equal(a.data, b.data)
    for a, b in zip(model.optimizer.variables, fresh.optimizer.variables, strict=True):
        np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(model.predict(x, verbose=0), fresh.predict(x, verbose=0))


def test_load_weights_from_keras_file(tmp_path):
    model = _functional()
    model.save(tmp_path / "m.keras")
    other = _functional()
    other.load_weights(tmp_path / "m.keras")
    for a, b in zip(model.weights, other.weights, strict=True):
        np.testing.assert_array_equal(a.data, b.data)


def test_load_weights_into_a_different_model_names_the_mismatch(tmp_path):
    model, _, _ = _trained(epochs=0)
    model.save_weights(tmp_path / "w.weights.h5")
    other = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(9), layers.Dense(3)])
    before = [w.data.copy() for w in other.weights]
    with pytest.raises(InvalidModelFileError, match=r"layers/dense/vars/0.*shape \(4, 8\)"):
        other.load_weights(tmp_path / "w.weights.h5")
    for a, b in zip(before, other.weights, strict=True):
        np.testing.assert_array_equal(a, b.data)  # nothing half-loaded
    with pytest.warns(UserWarning, match="do not match"):
        other.load_weights(tmp_path / "w.weights.h5", skip_mismatch=True)


def test_same_model_same_bytes(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    model = _functional()
    first, second = io.BytesIO(), io.BytesIO()
    model.save(first)
    model.save(second)
    assert first.getvalue() == second.getvalue()
    with zipfile.ZipFile(first) as archive:
        metadata = json.loads(archive.read("metadata.json"))
    assert metadata["date_saved"] == "2023-11-14@22:13:20"


def test_save_is_atomic_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    model = _functional()
    target = tmp_path / "m.keras"
    model.save(target)
    original = target.read_bytes()

    def explode(h5_file, model):
        raise RuntimeError("disk full")

    monkeypatch.setattr(_weights, "write_weights", explode)
    with pytest.raises(RuntimeError, match="disk full"):
        model.save(target)
    monkeypatch.undo()
    assert target.read_bytes() == original
    assert os.listdir(tmp_path) == ["m.keras"]


def test_save_errors(tmp_path):
    model = _functional()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OSError):
        model.save(blocker / "m.keras")  # parent is a file: not writable
    with pytest.raises(ValueError, match=r"\.keras"):
        model.save(tmp_path / "m.h5")
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        model.save_weights(tmp_path / "m.h5")
    model.save(tmp_path / "m.keras")
    with pytest.raises(FileExistsError):
        model.save(tmp_path / "m.keras", overwrite=False)
    with pytest.raises(FileNotFoundError):
        keras.models.load_model(tmp_path / "missing.keras")


def _branchy():
    x, y = keras.Input(shape=(4,), name="x"), keras.Input(shape=(4,), name="y")
    a = layers.Dense(4, name="a")(x)
    b = layers.Dense(4, name="b")(a)
    c = layers.Dense(4, name="c")(y)
    s = layers.Add(name="s")([c, b])
    d = layers.Dense(4, name="d")(x)
    return keras.Model([x, y], [layers.Add(name="o")([s, d]), a], name="branchy")


def test_functional_layers_are_written_in_keras_order():
    # The order real Keras 3.15 gives this graph's `model.layers` (checked against it): weights
    # are named by position in it (a -> layers/dense, c -> layers/dense_1, ...).
    model = _branchy()
    expected = ["x", "y", "a", "c", "b", "s", "d", "o"]
    assert [entry["name"] for entry in _config(_reload(model)[1])["config"]["layers"]] == expected
    paths = {entry.name: entry.path for entry in _weights.saveable_entries(model)}
    assert [paths[n] for n in "acbd"] == [f"layers/dense{s}" for s in ("", "_1", "_2", "_3")]
    again = _reload(model)[0]
    for name in "abcd":
        np.testing.assert_array_equal(
            again.get_layer(name).kernel.data, model.get_layer(name).kernel.data
        )


def test_nested_functional_model_round_trips():
    inner_input = keras.Input(shape=(4,), name="ii")
    inner = keras.Model(inner_input, layers.Dense(3, name="id")(inner_input), name="inner_f")
    x = keras.Input(shape=(4,), name="x")
    total = layers.Add()([inner(x), inner(layers.Dense(4, name="pre")(x))])
    model = keras.Model(x, layers.Dense(2, name="head")(total), name="outer")
    again, data = _reload(model)
    add = next(e for e in _config(data)["config"]["layers"] if e["class_name"] == "Add")
    assert [t["config"]["keras_history"] for t in add["inbound_nodes"][0]["args"][0]] == [
        ["inner_f", 0, 0],
        ["inner_f", 1, 0],
    ]
    feed = np.random.default_rng(2).standard_normal((5, 4)).astype("float32")
    np.testing.assert_array_equal(model.predict(feed, verbose=0), again.predict(feed, verbose=0))
    assert "layers/functional/layers/dense" in [e.path for e in _weights.saveable_entries(model)]


def test_keras_operation_nodes_round_trip():
    # Keras writes the mask of Embedding(mask_zero=True) as a NotEqual graph node feeding the next
    # layer's `mask`; such nodes are rebuilt from a fixed table and carry no weights.
    from compiler.keras.saving._operations import OPERATIONS

    tokens = keras.Input(shape=(6,), dtype="int32", name="tok")
    embed, lstm, head = layers.Embedding(20, 4), layers.LSTM(3), layers.Dense(2)
    mask = OPERATIONS["NotEqual"](name="not_equal")(tokens, 0)
    model = keras.Model(tokens, head(lstm(embed(tokens), mask=mask)), name="masked")
    again, data = _reload(model)
    entry = next(e for e in _config(data)["config"]["layers"] if e["name"] == "not_equal")
    assert (entry["module"], entry["class_name"], entry["config"]) == (
        "keras.src.ops.numpy",
        "NotEqual",
        {"name": "not_equal"},
    )
    assert "layers/not_equal" not in [e.path for e in _weights.saveable_entries(model)]
    feed = np.array([[3, 5, 7, 0, 0, 0], [1, 2, 3, 4, 5, 6]], "int32")
    masked = again.predict(feed, verbose=0)
    np.testing.assert_array_equal(model.predict(feed, verbose=0), masked)
    unmasked = keras.Model(tokens, head(lstm(embed(tokens)))).predict(feed, verbose=0)
    assert not np.allclose(masked[0], unmasked[0])  # the reloaded mask is applied
    np.testing.assert_allclose(masked[1], unmasked[1], rtol=0, atol=1e-6)
