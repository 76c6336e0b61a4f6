"""Hostile and damaged files: one typed error naming the file and the problem, no code run."""

import io
import zipfile

import numpy as np
import pytest

from compiler import keras
from compiler.keras import saving
from compiler.keras.saving import InvalidModelFileError, UnknownObjectError, UnsafeObjectError
from tests.compiler.keras.saving import _craft


@pytest.fixture(scope="module")
def good():
    return _craft.saved_bytes(_craft.small_model())


def _load(data):
    return keras.saving.load_model(io.BytesIO(data))


def _refused(data, match):
    with pytest.raises(InvalidModelFileError, match=match) as info:
        _load(data)
    assert "<file object>" in str(info.value)
    return info.value


def test_good_file_loads(good):
    model = _load(good)
    assert model.predict(np.ones((2, 3), "float32"), verbose=0).shape == (2, 2)


def test_error_names_the_file(tmp_path, good):
    target = tmp_path / "broken.keras"
    target.write_bytes(good[: len(good) // 2])
    with pytest.raises(InvalidModelFileError) as info:
        keras.models.load_model(target)
    assert info.value.path == str(target) and str(target) in str(info.value)


def test_lambda_layer_is_refused(good):
    def add_lambda(config):
        entry = _craft.find_layer(config, "d2")
        entry["class_name"] = "Lambda"
        entry["config"] = {
            "name": "d2",
            "function": {"class_name": "__lambda__", "config": {"value": "ZXZpbA=="}},
        }

    error = _refused(_craft.with_config(good, add_lambda), "Lambda")
    assert isinstance(error.__cause__, UnsafeObjectError)


def test_serialized_python_lambda_is_refused():
    with pytest.raises(UnsafeObjectError, match="__lambda__"):
        saving.deserialize_keras_object({"class_name": "__lambda__", "config": {"value": "x"}})
    with pytest.raises(UnsafeObjectError, match="lambda"):
        saving.serialize_keras_object(lambda x: x)


@pytest.mark.parametrize(
    "module, class_name",
    [
        ("keras.layers", "NoSuchLayer"),
        ("os", "system"),
        ("builtins", "eval"),
        ("keras.layers", "__class__"),
    ],
)
def test_unknown_classes_are_refused_naming_class_and_module(good, module, class_name):
    def rename(config):
        entry = _craft.find_layer(config, "d2")
        entry["module"], entry["class_name"] = module, class_name

    error = _refused(_craft.with_config(good, rename), class_name)
    assert module in str(error) and isinstance(error.__cause__, UnknownObjectError)


def test_registered_custom_class_loads_and_unregistered_does_not(good):
    @saving.register_keras_serializable(package="TestPkg")
    class Doubler(keras.layers.Layer):
        def call(self, inputs):
            return inputs * 2.0

    a = keras.Input(shape=(3,), name="a")
    model = keras.Model(a, Doubler(name="double")(a))
    data = _craft.saved_bytes(model)
    again = _load(data)
    np.testing.assert_array_equal(
        again.predict(np.ones((1, 3), "float32"), verbose=0), [[2.0, 2.0, 2.0]]
    )
    del saving.get_custom_objects()["TestPkg>Doubler"]
    _refused(data, "Doubler")
    with saving.custom_object_scope({"TestPkg>Doubler": Doubler}):
        assert isinstance(_load(data).get_layer("double"), Doubler)


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/passwd", "a/../../b", "C:evil"])
def test_member_paths_escaping_the_archive_are_refused(good, name):
    entries = _craft.members(good)
    entries[name] = b"x"
    _refused(_craft.rezip(entries), "absolute path|'\\.\\.'")


def test_duplicate_members_are_refused(good):
    buffer = io.BytesIO(good)
    with zipfile.ZipFile(buffer, "a") as archive, pytest.warns(UserWarning, match="Duplicate"):
        archive.writestr("config.json", b"{}")
    _refused(buffer.getvalue(), "appears twice")


def test_zip_bomb_is_refused_before_decompressing(good):
    entries = _craft.members(good)
    entries["config.json"] = b" " * (60 << 20)  # deflates ~1000x
    data = _craft.rezip(entries, compression=zipfile.ZIP_DEFLATED)
    assert len(data) < 1 << 20
    _refused(data, "zip bomb|limit")


def test_declared_size_beyond_limit_is_refused(good, monkeypatch):
    from compiler.keras.saving import _archive

    monkeypatch.setitem(_archive.MEMBER_LIMITS, "model.weights.h5", 1000)
    _refused(good, "declares .* bytes \\(limit 1,000\\)")


def test_missing_members_and_non_zip(good):
    entries = _craft.members(good)
    del entries["model.weights.h5"]
    _refused(_craft.rezip(entries), "model.weights.h5' is missing")
    _refused(b"PK\x03\x04 not really a zip", "zip")
    _refused(b"", "zip")


@pytest.mark.parametrize(
    "text, match",
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[1, 2]", "class_name"),
        (b"[" * 100000 + b"]" * 100000, "JSON|Recursion|deep"),
    ],
)
def test_bad_config_json(good, text, match):
    entries = _craft.members(good)
    entries["config.json"] = text
    _refused(_craft.rezip(entries), match)


def test_weight_shape_is_checked_before_reading(good):
    def huge(h5_file):  # declares 4 TB in a file of a few KB
        _craft.replace_dataset(h5_file, "layers/dense/vars/0", (1 << 20, 1 << 20))

    _refused(_craft.with_weights(good, huge), r"layers/dense/vars/0.*shape \(1048576, 1048576\)")


def test_weight_dtype_and_count_are_checked(good):
    def to_strings(h5_file):
        del h5_file["layers/dense/vars/1"]
        h5_file["layers/dense/vars/1"] = np.array([b"a"] * 4)

    _refused(_craft.with_weights(good, to_strings), "dtype")

    def extra(h5_file):
        h5_file["layers/dense/vars/2"] = np.zeros(3, "float32")

    _refused(_craft.with_weights(good, extra), "holds 3 variables")

    def missing(h5_file):
        del h5_file["layers/dense_1"]

    _refused(_craft.with_weights(good, missing), "layers/dense_1/vars' is missing")


def test_absurd_layer_size_is_refused_before_allocating(good):
    def grow(config):
        _craft.find_layer(config, "d1")["config"]["units"] = 1 << 40
        _craft.find_layer(config, "d1")["build_config"] = {"input_shape": [None, 1 << 20]}

    _refused(_craft.with_config(good, grow), "bytes of weights")


def test_absurd_input_shape_is_refused(good):
    def grow(config):
        _craft.find_layer(config, "a")["config"]["batch_shape"] = [None, 1 << 20, 1 << 20]

    _refused(_craft.with_config(good, grow), "elements")


def test_cyclic_or_dangling_graph_is_an_error_not_a_hang(good):
    def cycle(config):
        entry = _craft.find_layer(config, "d1")
        entry["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = ["d2", 0, 0]

    _refused(_craft.with_config(good, cycle), "cannot be rebuilt")

    def dangling(config):
        config["config"]["output_layers"] = ["nope", 0, 0]

    _refused(_craft.with_config(good, dangling), "Unknown layer 'nope'")


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9, 0.999])
def test_truncated_files(good, cut):
    _refused(good[: int(len(good) * cut)], ".")


def test_bit_flip_in_weights_is_caught_by_the_crc(good):
    start = good.index(b"\x89HDF")
    data = bytearray(good)
    data[start + 2000] ^= 0x10
    _refused(bytes(data), "CRC|Bad")


def test_loading_never_imports_a_module_named_in_the_file(good):
    import sys

    def rename(config):
        entry = _craft.find_layer(config, "d2")
        entry["module"], entry["class_name"] = "keras.src.this_is_not_imported", "Dense"
        entry["registered_name"] = None

    _refused(_craft.with_config(good, rename), "this_is_not_imported")
    assert not any("this_is_not_imported" in name for name in sys.modules)


def test_error_messages_stay_short_for_huge_names(good):
    def rename(config):
        _craft.find_layer(config, "d2")["class_name"] = "X" * 100_000

    assert len(str(_refused(_craft.with_config(good, rename), "truncated"))) < 2200


def test_only_tabled_keras_operations_are_rebuilt(good):
    def rename(config):
        entry = _craft.find_layer(config, "d2")
        entry["module"], entry["class_name"] = "keras.src.ops.core", "Cond"

    _refused(_craft.with_config(good, rename), "Unknown class 'Cond'")
