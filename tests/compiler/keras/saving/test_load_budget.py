"""One memory budget per load: sizes declared by a file are charged before anything is allocated.

Hostile cases from the security review: a ``__numpy__`` value whose dtype is a sub-array
(``(400000000,)f4``: 1.6 GB per element), a zip member of 40 MB declaring 3 GiB; plus names that
Keras 3 refuses (``/``).
"""

import io
import json
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest

from compiler import keras
from compiler.keras import saving
from compiler.keras.saving import InvalidModelFileError, serialization
from compiler.keras.saving._guard import DEFAULT_MAX_LOAD_BYTES, LoadBudgetError, load_budget
from tests.compiler.keras.saving import _craft


@pytest.fixture(scope="module")
def good():
    return _craft.saved_bytes(_craft.small_model())


def _numpy(value, dtype):
    return {"class_name": "__numpy__", "config": {"value": value, "dtype": dtype}}


def _with_call_argument(data, value):
    """The file with ``value`` as a keyword argument of the call that made layer ``d2``."""

    def edit(config):
        _craft.find_layer(config, "d2")["inbound_nodes"][0]["kwargs"]["x"] = value

    return _craft.with_config(data, edit)


def _load(data, **kwargs):
    return keras.saving.load_model(io.BytesIO(data), **kwargs)


def test_sub_array_dtype_is_refused_before_allocating(good):
    data = _with_call_argument(good, _numpy([1.0] * 40, "(400000000,)f4"))
    tracemalloc.start()
    try:
        with pytest.raises(InvalidModelFileError, match=r"__numpy__ dtype '\(400000000,\)f4'"):
            _load(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 << 20


@pytest.mark.parametrize("dtype", ["object", "O", "V8", "<U10", "float32,float32", "M8[s]", 5])
def test_only_plain_numeric_dtypes_are_accepted(dtype):
    with pytest.raises(ValueError, match="__numpy__ dtype"):
        saving.deserialize_keras_object(_numpy([1, 2], dtype))


def test_plain_numpy_values_still_load():
    value = saving.deserialize_keras_object(_numpy([[1, 2], [3, 4]], "int32"))
    np.testing.assert_array_equal(value, np.array([[1, 2], [3, 4]], "int32"))
    assert saving.deserialize_keras_object(_numpy(2.5, "float64")) == 2.5


def test_numpy_value_size_and_depth_are_checked_before_allocating(monkeypatch):
    monkeypatch.setattr(serialization, "_MAX_NUMPY_ELEMENTS", 100)
    with pytest.raises(ValueError, match="more than 100 elements"):
        saving.deserialize_keras_object(_numpy([[0.0] * 60, [0.0] * 60], "float32"))
    deep = 0.0
    for _ in range(40):
        deep = [deep]
    with pytest.raises(ValueError, match="nested too deep"):
        saving.deserialize_keras_object(_numpy(deep, "float32"))
    with pytest.raises(ValueError, match="holds"):
        saving.deserialize_keras_object(_numpy([1.0, "x"], "float32"))


def test_numpy_values_are_charged_to_the_load_budget(good):
    value = _numpy([0.0] * 1000, "float64")  # 8,000 bytes
    with load_budget(7999, "test"), pytest.raises(LoadBudgetError, match="1,000 float64"):
        saving.deserialize_keras_object(value)
    with load_budget(8000, "test") as budget:
        saving.deserialize_keras_object(value)
    assert budget.used == 8000
    data = _with_call_argument(good, value)
    used = _budget_used(data)
    # Only the tiny model's variables and values (~500 bytes) are charged after the value.
    with pytest.raises(InvalidModelFileError, match="__numpy__ value of 1,000 float64"):
        _load(data, max_bytes=used - 4000)


def _budget_used(data):
    """What loading ``data`` charges to its budget in all."""
    import contextlib

    from compiler.keras.saving import saving_api

    seen = []
    real = saving_api.load_budget

    @contextlib.contextmanager
    def recording(limit, source):
        with real(limit, source) as budget:
            seen.append(budget)
            yield budget

    saving_api.load_budget = recording
    try:
        _load(data)
    finally:
        saving_api.load_budget = real
    return seen[0].used


def _declare_size(data, member, declared, compress_type=zipfile.ZIP_DEFLATED):
    """Rewrites the central-directory entry of ``member``: method and uncompressed size."""
    data = bytearray(data)
    name = member.encode()
    start = 0
    while True:
        start = data.index(b"PK\x01\x02", start)
        name_length = struct.unpack_from("<H", data, start + 28)[0]
        if bytes(data[start + 46 : start + 46 + name_length]) == name:
            break
        start += 4
    struct.pack_into("<H", data, start + 10, compress_type)
    struct.pack_into("<I", data, start + 24, declared)
    return bytes(data)


def test_weights_member_declaring_3_gib_in_40_mb_is_refused_before_decompressing(good, monkeypatch):
    entries = _craft.members(good)
    entries["model.weights.h5"] = bytes(40 << 20)
    data = _declare_size(_craft.rezip(entries), "model.weights.h5", 3 << 30)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:  # what a reader sees in the directory
        info = archive.getinfo("model.weights.h5")
        assert (info.file_size, info.compress_size) == (3 << 30, 40 << 20)
    opened = []
    real_open = zipfile.ZipFile.open

    def recording_open(self, name, *args, **kwargs):
        opened.append(getattr(name, "filename", name))
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", recording_open)
    with pytest.raises(InvalidModelFileError, match="member 'model.weights.h5'.*budget") as info:
        _load(data)
    assert f"{DEFAULT_MAX_LOAD_BYTES:,}" in str(info.value)
    assert opened == []  # nothing was decompressed, not even config.json


def test_max_bytes_bounds_the_whole_load_and_a_generous_one_loads(good, tmp_path):
    with pytest.raises(InvalidModelFileError, match="budget of 1,000 bytes"):
        _load(good, max_bytes=1000)
    assert _load(good, max_bytes=10 * len(good)).name == "small"
    model = _craft.small_model()
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    with pytest.raises(InvalidModelFileError, match="the weight values"):
        saving.load_weights(model, path, max_bytes=40)
    model.load_weights(path)


@pytest.mark.parametrize("where", ["d1", "small"])
@pytest.mark.parametrize("name", ["/tmp/x/ABS_NAME", "../../../../tmp/x/PWNED", "a/b"])
def test_names_with_a_slash_are_refused_as_keras_3_does(good, where, name):
    def rename(config):
        if where == "small":
            config["config"]["name"] = name
            config["name"] = name
        else:
            _craft.find_layer(config, where)["config"]["name"] = name

    with pytest.raises(InvalidModelFileError, match="cannot contain character `/`"):
        _load(_craft.with_config(good, rename))


@pytest.mark.parametrize("name", ["..", "a\x00b", "ünï-côdé ✓", "x" * 5000])
def test_names_keras_3_accepts_still_load(good, name):
    def rename(config):
        config["config"]["name"] = name

    assert _load(_craft.with_config(good, rename)).name == name


def test_non_string_names_are_refused(good):
    def rename(config):
        config["config"]["name"] = {"class_name": "X", "config": {}}

    with pytest.raises(InvalidModelFileError, match="must be a string"):
        _load(_craft.with_config(good, rename))


def test_config_json_member_is_charged_too(good):
    entries = _craft.members(good)
    config = json.loads(entries["config.json"])
    config["padding"] = " " * 5000
    entries["config.json"] = json.dumps(config).encode()
    with pytest.raises(InvalidModelFileError, match="member 'config.json'"):
        _load(_craft.rezip(entries), max_bytes=5000)


_RESIDENT_PROBE = """
import io, resource, sys
from compiler import keras
from compiler.keras.saving import InvalidModelFileError
for path in sys.argv[1:]:
    try:
        keras.saving.load_model(path)
        print("LOADED", path)
    except InvalidModelFileError:
        pass
# VmHWM is this process's own peak: ru_maxrss would also count the parent's size, which Linux
# carries into a child across (v)fork + exec (a parent that imported JAX reads as 700 MB).
peak = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")]
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("MAXRSS_KB", peak[0].split()[1] if peak else own)
"""


def test_hostile_files_stay_far_below_1_gb_resident(good, tmp_path):
    import subprocess
    import sys

    entries = _craft.members(good)
    entries["model.weights.h5"] = bytes(40 << 20)
    bomb = tmp_path / "bomb.keras"
    bomb.write_bytes(_declare_size(_craft.rezip(entries), "model.weights.h5", 3 << 30))
    sub_array = tmp_path / "sub_array.keras"
    sub_array.write_bytes(_with_call_argument(good, _numpy([1.0] * 40, "(400000000,)f4")))
    result = subprocess.run(
        [sys.executable, "-c", _RESIDENT_PROBE, str(bomb), str(sub_array)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and "LOADED" not in result.stdout, result.stderr[-2000:]
    resident_kb = int(result.stdout.split("MAXRSS_KB")[1])
    # The interpreter with numpy, h5py and the frontend is ~150 MB; the 40 MB file is read whole.
    assert resident_kb < 400 << 10, result.stdout


def test_json_objects_are_charged_before_parsing(good):
    """``[[],[],...]``: ~21 bytes of Python objects per byte of JSON."""
    entries = _craft.members(good)
    config = json.loads(entries["config.json"])
    config["padding"] = "@PAD@"
    text = json.dumps(config).replace('"@PAD@"', "[" + "[]," * 100_000 + "[]]")
    entries["config.json"] = text.encode()
    data = _craft.rezip(entries)
    tracemalloc.start()
    try:
        with pytest.raises(InvalidModelFileError, match="parsing config.json") as info:
            _load(data, max_bytes=len(data) + 24 * 100_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(info.value.__cause__, LoadBudgetError)
    assert peak < 3 * len(data)  # refused before json.loads made its 300,000-byte lists
    assert _load(data).name == "small"  # the default budget takes it
