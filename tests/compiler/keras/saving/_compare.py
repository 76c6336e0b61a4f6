"""Structural comparison of two ``.keras`` files: config.json, metadata keys, h5 layout."""

import io
import json
import zipfile

import h5py

# Values that legitimately differ between two saves of the same model.
_VOLATILE_KEYS = {"shared_object_id"}


def read_keras_file(path_or_bytes):
    """``(member infos, metadata dict, config dict, h5 layout)`` of a ``.keras`` file."""
    source = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    with zipfile.ZipFile(source) as archive:
        infos = [(i.filename, i.compress_type) for i in archive.infolist()]
        metadata = json.loads(archive.read("metadata.json"))
        config = json.loads(archive.read("config.json"))
        layout = h5_layout(archive.read("model.weights.h5"))
    return infos, metadata, config, layout


def h5_layout(data):
    """``{path: ("group", attrs) | ("dataset", shape, dtype, attrs)}`` of an h5 file's bytes."""
    layout = {}
    with h5py.File(io.BytesIO(data), "r") as h5_file:

        def visit(name, obj):
            attrs = {k: str(v) for k, v in obj.attrs.items()}
            if isinstance(obj, h5py.Dataset):
                layout[name] = ("dataset", obj.shape, str(obj.dtype), attrs)
            else:
                layout[name] = ("group", attrs)

        h5_file.visititems(visit)
    return layout


def strip_volatile(value):
    if isinstance(value, dict):
        return {k: strip_volatile(v) for k, v in value.items() if k not in _VOLATILE_KEYS}
    if isinstance(value, list):
        return [strip_volatile(v) for v in value]
    return value


def differences(expected, actual, path="config"):
    """Every place where two JSON values differ, as readable lines."""
    out = []
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in expected:
            if key not in actual:
                out.append(f"{path}.{key}: missing (expected {expected[key]!r})")
            else:
                out += differences(expected[key], actual[key], f"{path}.{key}")
        for key in actual:
            if key not in expected:
                out.append(f"{path}.{key}: unexpected {actual[key]!r}")
    elif isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            out.append(f"{path}: length {len(actual)}, expected {len(expected)}")
        for i, (e, a) in enumerate(zip(expected, actual)):
            out += differences(e, a, f"{path}[{i}]")
    elif expected != actual or type(expected) is not type(actual):
        out.append(f"{path}: {actual!r}, expected {expected!r}")
    return out
