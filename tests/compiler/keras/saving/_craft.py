"""Builders of hand-made (hostile) ``.keras`` files for the safety and fuzz tests."""

import io
import json
import zipfile

import h5py
import numpy as np

from compiler import keras
from compiler.keras import layers


def small_model():
    """A tiny functional model (Dense + Concatenate + Dense), quick to load."""
    keras.layers.layer.clear_session()
    a = keras.Input(shape=(3,), name="a")
    x = layers.Dense(4, activation="relu", name="d1")(a)
    y = layers.Dense(2, name="d2")(layers.Concatenate()([x, a]))
    return keras.Model(a, y, name="small")


def saved_bytes(model):
    buffer = io.BytesIO()
    model.save(buffer)
    return buffer.getvalue()


def members(data):
    """``{name: bytes}`` of a zip, in order."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def rezip(entries, compression=zipfile.ZIP_STORED):
    """A zip of ``{name: bytes}`` (valid CRCs), names written as given."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = compression
            archive.writestr(info, data)
    return buffer.getvalue()


def with_config(data, edit):
    """The file with ``edit(config_dict)`` applied to its config.json."""
    entries = members(data)
    config = json.loads(entries["config.json"])
    edited = edit(config)
    entries["config.json"] = json.dumps(config if edited is None else edited).encode()
    return rezip(entries)


def with_weights(data, edit):
    """The file with ``edit(h5py_file)`` applied to a copy of its model.weights.h5."""
    entries = members(data)
    buffer = io.BytesIO(entries["model.weights.h5"])
    with h5py.File(buffer, "r+") as h5_file:
        edit(h5_file)
    entries["model.weights.h5"] = buffer.getvalue()
    return rezip(entries)


def replace_dataset(h5_file, path, shape, dtype="float32", fill=False):
    del h5_file[path]
    if fill:
        h5_file.create_dataset(path, data=np.zeros(shape, dtype))
    else:  # declared only: no storage is allocated in the file
        h5_file.create_dataset(path, shape=shape, dtype=dtype)


def find_layer(config, name):
    return next(entry for entry in config["config"]["layers"] if entry["name"] == name)
