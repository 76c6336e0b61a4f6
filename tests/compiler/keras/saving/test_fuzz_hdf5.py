"""Structure-aware fuzzing of the loader: HDF5 features and names, not random bytes.

Each example applies one to three mutations that an attacker would write into the weights file
(external storage pointing at a secret file or a FIFO, absolute or ``../``; external links;
soft links, valid or leaving the file's objects; virtual datasets; filters: plugin IDs,
compression, shuffle; odd dtypes: sub-arrays of 1.6 GB, strings, references, compounds; chunks
larger than their dataset; hard-link cycles; unicode and odd HDF5 names), or gives layers and the
model names with ``/``, ``..``, NUL, unicode, thousands of characters.

Every file is loaded or refused with ``InvalidModelFileError`` in under 5 s of CPU (a 60 s alarm
turns a hang into a failure); a file with a feature that reaches outside it is always refused; a
loaded model never holds the secret's bytes; a model loaded with a hostile name is compiled and
every file it writes lies in the output directory. Deterministic (derandomize).
"""

import io
import os
import signal
import tempfile
import time

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import compiler
from compiler import keras
from compiler.keras.saving import InvalidModelFileError
from tests.compiler.keras.saving import _craft
from tests.compiler.keras.saving._fixtures import NAMES, path

SECRET = b"FUZZ-SECRET-MARKER" * 4  # 72 bytes; its first 16 would be four float32 values

_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Files a hostile weights file may point at, and the base models."""
    root = tmp_path_factory.mktemp("fuzz_hdf5")
    (root / "secret.bin").write_bytes(SECRET)
    os.mkfifo(root / "fifo")
    with h5py.File(root / "other.h5", "w") as h5_file:
        h5_file["x"] = np.frombuffer(SECRET[:16], "float32")
    (root / "work").mkdir()
    bases = [_craft.saved_bytes(_craft.small_model())] + [path(n).read_bytes() for n in NAMES]
    return _World((root, bases))


class _World(tuple):
    """``(root, bases)``, shown briefly in failure reports (the bases are whole files)."""

    def __repr__(self):
        return f"<fuzz world at {self[0]}>"


class _Alarm(Exception):
    pass


def _on_alarm(signum, frame):
    raise _Alarm("the loader ran for 60 s: a hang")


def _load_within_limits(data):
    """The model, or None when refused; fails on any other error, a hang or > 5 s of CPU."""
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(60)
    started = time.process_time()
    try:
        return keras.saving.load_model(io.BytesIO(data), compile=False)
    except InvalidModelFileError:
        return None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        assert time.process_time() - started < 5


def _objects(h5_file):
    groups, datasets = [], []

    def visit(name, obj):
        (groups if isinstance(obj, h5py.Group) else datasets).append(name)

    h5_file.visititems(visit)  # before any mutation: only hard links exist
    return groups or ["/"], datasets


def _targets(root):
    secret, fifo = str(root / "secret.bin"), str(root / "fifo")
    return [secret, fifo, "../secret.bin", "/dev/zero", "nowhere.bin", str(root / "other.h5")]


_ODD_DTYPES = [
    "(400000000,)f4",
    "(3,)f4",
    "c8",
    "S4",
    "string",
    "ref",
    "compound",
    "f2",
    "f8",
    "i1",
    "?",
]
_NAMES = st.sampled_from(["..", "ü" * 40, "x" * 300, " ", "a b", "\u202e", "vars", "0"])


def _dtype(name):
    if name == "string":
        return h5py.string_dtype()
    if name == "ref":
        return h5py.ref_dtype
    if name == "compound":
        return np.dtype([("a", "f4"), ("b", "i4")])
    return np.dtype(name)


def _mutation(draw, root, groups, datasets):
    """``(where, hostile, edit)``: ``edit(h5_file)`` puts an object at ``where`` (or, for a
    rename, moves ``where[0]`` to ``where[1]``); a file holding a hostile one must be refused."""
    kind = draw(
        st.sampled_from(
            [
                "external",
                "external_link",
                "soft_link",
                "virtual",
                "filter",
                "dtype",
                "chunks",
                "cycle",
                "rename",
            ]
        )
    )
    replace = bool(datasets) and draw(st.booleans())
    where = (
        draw(st.sampled_from(datasets))
        if replace
        else f"{draw(st.sampled_from(groups)).rstrip('/')}/{draw(_NAMES)}".lstrip("/")
    )
    shape = (draw(st.integers(1, 8)),)

    def clear(h5_file):
        if where in h5_file or h5_file.get(where, getlink=True) is not None:
            del h5_file[where]

    if kind == "external":
        target = draw(st.sampled_from(_targets(root)))
        offset = draw(st.sampled_from([0, 4, 1 << 40]))

        def edit(h5_file):
            clear(h5_file)
            h5_file.create_dataset(where, shape, "f4", external=[(target, offset, 4 * shape[0])])

        return where, True, edit
    if kind == "external_link":
        target = draw(st.sampled_from([str(root / "other.h5"), str(root / "fifo"), "nowhere.h5"]))

        def edit(h5_file):
            clear(h5_file)
            h5_file[where] = h5py.ExternalLink(target, "/x")

        return where, True, edit
    if kind == "soft_link":
        target = draw(
            st.sampled_from(["/" + d for d in datasets] + ["/nowhere", "..", "/" + where])
        )
        hostile = target in ("/nowhere", "..", "/" + where)

        def edit(h5_file):
            clear(h5_file)
            h5_file[where] = h5py.SoftLink(target)

        return where, hostile, edit
    if kind == "virtual":
        source = draw(st.sampled_from([str(root / "other.h5"), "."]))

        def edit(h5_file):
            clear(h5_file)
            layout = h5py.VirtualLayout(shape=(4,), dtype="f4")
            layout[:] = h5py.VirtualSource(source, "x", shape=(4,))
            h5_file.create_virtual_dataset(where, layout)

        return where, True, edit
    if kind == "filter":
        code = draw(st.sampled_from(["gzip", "lzf", 33333, 307, "shuffle", "fletcher32", "szip"]))
        hostile = code not in ("shuffle", "fletcher32")

        def edit(h5_file):
            clear(h5_file)
            if isinstance(code, int):  # a plugin's ID: written as optional, no plugin needed
                parent = h5_file.require_group(os.path.dirname(where) or "/")
                plist = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
                plist.set_chunk(shape)
                plist.set_filter(code, h5py.h5z.FLAG_OPTIONAL, (1,))
                space = h5py.h5s.create_simple(shape)
                name = os.path.basename(where).encode()
                h5py.h5d.create(parent.id, name, h5py.h5t.IEEE_F32LE, space, dcpl=plist)
            elif code in ("shuffle", "fletcher32"):
                h5_file.create_dataset(where, data=np.ones(shape, "f4"), **{code: True})
            else:
                h5_file.create_dataset(where, data=np.ones(shape, "f4"), compression=code)

        return where, hostile, edit
    if kind == "dtype":
        dtype = _dtype(draw(st.sampled_from(_ODD_DTYPES)))

        def edit(h5_file):
            clear(h5_file)
            h5_file.create_dataset(where, shape, dtype=dtype)

        return where, False, edit
    if kind == "chunks":

        def edit(h5_file):
            clear(h5_file)
            h5_file.create_dataset(where, shape, "f4", maxshape=(None,), chunks=(1 << 24,))

        return where, True, edit
    if kind == "cycle":
        group = draw(st.sampled_from(groups))
        link_name = draw(_NAMES)

        def edit(h5_file):
            if group != "/":
                h5_file[group][link_name] = h5_file[group]

        return None, False, edit
    moved = f"{os.path.dirname(where)}/{draw(_NAMES)}".lstrip("/")

    def edit(h5_file):
        h5_file.move(where, moved)

    return (where, moved), False, edit


def _record(hostile_at, where, hostile):
    """Which paths hold a hostile object once a mutation at ``where`` has been applied."""
    if isinstance(where, tuple):
        old, new = where
        for path in list(hostile_at):
            if path == old or path.startswith(old + "/"):
                hostile_at[new + path[len(old) :]] = hostile_at.pop(path)
        return
    if where is None:
        return
    for path in list(hostile_at):
        if path.startswith(where + "/"):  # the mutation replaced a whole group
            del hostile_at[path]
    hostile_at[where] = hostile


@given(data=st.data())
@_SETTINGS
def test_hdf5_structure_mutations(world, data, monkeypatch):
    root, bases = world
    monkeypatch.chdir(root / "work")  # so that "../secret.bin" names the secret
    entries = _craft.members(data.draw(st.sampled_from(bases)))
    buffer = io.BytesIO(entries["model.weights.h5"])
    hostile_at = {}
    with h5py.File(buffer, "r+") as h5_file:
        groups, datasets = _objects(h5_file)
        for _ in range(data.draw(st.integers(1, 3))):
            where, hostile, edit = _mutation(data.draw, root, groups, datasets)
            try:
                edit(h5_file)
            except (ValueError, KeyError, OSError, RuntimeError, TypeError):
                hostile_at.pop(where if isinstance(where, str) else None, None)  # cleared first
                continue  # HDF5 refused to write this combination (e.g. a name taken)
            _record(hostile_at, where, hostile)
    entries["model.weights.h5"] = buffer.getvalue()
    model = _load_within_limits(_craft.rezip(entries))
    if model is None:
        return
    assert not any(hostile_at.values()), "a file reaching outside itself was loaded"
    for variable in model.weights:
        assert SECRET[:8] not in np.asarray(variable.numpy()).tobytes()


_HOSTILE_NAMES = st.one_of(
    st.sampled_from(
        [
            "/tmp/x/ABS_NAME",
            "../../../../tmp/x/PWNED",
            "..",
            ".",
            "a\x00b",
            "\u202egnp.exe",
            "ü/..",
            "C:\\x\\y",
            "x" * 5000,
            "",
        ]
    ),
    st.text(alphabet=st.sampled_from("/.\\\x00aé✓ -_"), max_size=40),
)


@given(data=st.data())
@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_hostile_names_never_leave_the_output_directory(world, data):
    _, bases = world
    model_name = data.draw(_HOSTILE_NAMES)
    layer_name = data.draw(_HOSTILE_NAMES)

    def rename(config):
        config["config"]["name"] = model_name
        layer = data.draw(st.sampled_from(config["config"]["layers"]))
        layer["config"]["name"] = layer_name

    model = _load_within_limits(_craft.with_config(bases[0], rename))
    if "/" in model_name or "/" in layer_name:
        assert model is None, "Keras 3 refuses '/' in layer and model names"
    if model is None:
        return
    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, "out")
        result = compiler.compile(model, to="tflite", out_dir=out)
        assert os.listdir(scratch) == ["out"]
        assert sorted(os.listdir(out)) == [p.name for p in result.paths]
        assert all(str(p.parent) == out for p in result.paths)
