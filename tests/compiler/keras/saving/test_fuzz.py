"""Fuzzing the loader with mutated files: it loads them or raises InvalidModelFileError.

Mutations act on every level of the format: raw bytes (bit flips, truncation, insertion,
deletion), the zip (members dropped, renamed, duplicated, recompressed), the h5 weights (bytes
mutated, then re-zipped with a valid CRC so that h5py sees them) and config.json (values
replaced by other JSON values, keys deleted). Bounded and deterministic (derandomize): 4 x 250
mutated files per run, over our own small model and the four Keras fixtures.
"""

import io
import json
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler import keras
from compiler.keras.saving import InvalidModelFileError
from tests.compiler.keras.saving import _craft
from tests.compiler.keras.saving._fixtures import NAMES, path

TRIED = {"count": 0}
_SETTINGS = settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def bases():
    return [_craft.saved_bytes(_craft.small_model())] + [path(name).read_bytes() for name in NAMES]


def _check_loads_or_refuses(data):
    TRIED["count"] += 1
    try:
        keras.saving.load_model(io.BytesIO(data))
    except InvalidModelFileError:
        pass


def _mutate_bytes(data, draw):
    data = bytearray(data)
    kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
    if kind == "flip":
        for _ in range(draw(st.integers(1, 16))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
    elif kind == "truncate":
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif kind == "insert":
        i = draw(st.integers(0, len(data)))
        data[i:i] = draw(st.binary(min_size=1, max_size=64))
    else:
        i = draw(st.integers(0, len(data) - 1))
        del data[i : i + draw(st.integers(1, 256))]
    return bytes(data)


@given(data=st.data())
@_SETTINGS
def test_raw_byte_mutations(bases, data):
    base = data.draw(st.sampled_from(bases))
    _check_loads_or_refuses(_mutate_bytes(base, data.draw))


@given(data=st.data())
@_SETTINGS
def test_zip_level_mutations(bases, data):
    entries = _craft.members(data.draw(st.sampled_from(bases)))
    names = list(entries)
    kind = data.draw(st.sampled_from(["drop", "rename", "duplicate", "deflate", "swap"]))
    name = data.draw(st.sampled_from(names))
    compression = zipfile.ZIP_STORED
    if kind == "drop":
        del entries[name]
    elif kind == "rename":
        entries[data.draw(st.sampled_from(["x/../config.json", "CONFIG.JSON", name + "/"]))] = (
            entries.pop(name)
        )
    elif kind == "swap":
        other = data.draw(st.sampled_from(names))
        entries[name], entries[other] = entries[other], entries[name]
    elif kind == "deflate":
        compression = zipfile.ZIP_DEFLATED
    if kind == "duplicate":
        buffer = io.BytesIO(_craft.rezip(entries))
        with zipfile.ZipFile(buffer, "a") as archive, pytest.warns(UserWarning):
            archive.writestr(name, data.draw(st.binary(max_size=64)))
        _check_loads_or_refuses(buffer.getvalue())
        return
    _check_loads_or_refuses(_craft.rezip(entries, compression))


@given(data=st.data())
@_SETTINGS
def test_h5_level_mutations(bases, data):
    entries = _craft.members(data.draw(st.sampled_from(bases)))
    entries["model.weights.h5"] = _mutate_bytes(entries["model.weights.h5"], data.draw)
    _check_loads_or_refuses(_craft.rezip(entries))


_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(
        [
            "Dense",
            "Lambda",
            "__lambda__",
            "keras.layers",
            "NotEqual",
            "keras.src.ops.numpy",
            "Functional",
        ]
    ),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*prefix, i))


@given(data=st.data())
@_SETTINGS
def test_json_level_mutations(bases, data):
    entries = _craft.members(data.draw(st.sampled_from(bases)))
    config = json.loads(entries["config.json"])
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.sampled_from(list(_paths(config))[1:]))
        parent = config
        for key in where[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and data.draw(st.booleans()):
            del parent[where[-1]]
        else:
            parent[where[-1]] = data.draw(_JSON_VALUES)
    entries["config.json"] = json.dumps(config).encode()
    _check_loads_or_refuses(_craft.rezip(entries))
