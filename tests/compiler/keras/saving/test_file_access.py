"""Loading reads the named file and nothing else: HDF5 features that reach other files are refused.

Each hostile weights file is made here, pointing at a "secret" file or FIFO made in ``tmp_path``.
Evidence that nothing else was opened: the secret's bytes never reach the model, a FIFO (whose
opening would block for ever) is never opened, ``strace`` lists the paths the process opened,
and ``h5py.File`` is only ever given the named file.
"""

import io
import os
import shutil
import subprocess
import sys
import textwrap
import time

import h5py
import numpy as np
import pytest

from compiler import keras
from compiler.keras.saving import InvalidModelFileError
from compiler.keras.saving._h5_structure import H5StructureError
from tests import _oracles as oracles
from tests.compiler.keras.saving import _craft

SECRET = b"TOP-SECRET-PASSWORD-LINE" + b"!" * 16  # 40 bytes: ten float32 values

BIAS = "layers/dense/vars/1"  # the first Dense's bias: 4 float32 values


@pytest.fixture(scope="module")
def good():
    return _craft.saved_bytes(_craft.small_model())


@pytest.fixture
def secret(tmp_path):
    path = tmp_path / "secret.bin"
    path.write_bytes(SECRET)
    return path


def _load(data):
    return keras.saving.load_model(io.BytesIO(data))


def _refused(data, match):
    started = time.monotonic()
    with pytest.raises(InvalidModelFileError, match=match) as info:
        _load(data)
    assert time.monotonic() - started < 5
    assert isinstance(info.value.__cause__, H5StructureError)
    return info.value


def _external_bias(target):
    def edit(h5_file):
        del h5_file[BIAS]
        h5_file.create_dataset(BIAS, shape=(4,), dtype="float32", external=[(target, 0, 16)])

    return edit


def test_external_storage_with_an_absolute_path_is_refused(good, secret):
    error = _refused(_craft.with_weights(good, _external_bias(str(secret))), "external storage")
    assert BIAS in str(error) and str(secret) in str(error)


def test_external_storage_with_a_relative_path_is_refused(good, secret, tmp_path, monkeypatch):
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")  # HDF5 resolves relative names from the working dir
    _refused(_craft.with_weights(good, _external_bias("../secret.bin")), "external storage")


def test_the_hole_was_real_h5py_reads_external_storage(good, secret):
    """Without the check, the secret's bytes become the bias (what this guards against)."""
    entries = _craft.members(_craft.with_weights(good, _external_bias(str(secret))))
    with h5py.File(io.BytesIO(entries["model.weights.h5"]), "r") as h5_file:
        assert h5_file[BIAS][()].tobytes() == SECRET[:16]


def test_external_link_is_refused(good, tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as h5_file:
        h5_file["x"] = np.ones(4, "float32")

    def edit(h5_file):
        del h5_file[BIAS]
        h5_file[BIAS] = h5py.ExternalLink(str(other), "/x")

    error = _refused(_craft.with_weights(good, edit), "external link")
    assert str(other) in str(error)


def test_virtual_dataset_is_refused(good, tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as h5_file:
        h5_file["x"] = np.ones(4, "float32")

    def edit(h5_file):
        del h5_file[BIAS]
        layout = h5py.VirtualLayout(shape=(4,), dtype="float32")
        layout[:] = h5py.VirtualSource(str(other), "x", shape=(4,))
        h5_file.create_virtual_dataset(BIAS, layout)

    _refused(_craft.with_weights(good, edit), "virtual dataset")


@pytest.mark.parametrize("target", ["/nowhere", "../../etc", "/layers/dense/vars/link2"])
def test_soft_links_leaving_the_files_objects_are_refused(good, target):
    def edit(h5_file):
        del h5_file[BIAS]
        h5_file[BIAS] = h5py.SoftLink(target)
        h5_file["layers/dense/vars/link2"] = h5py.SoftLink("/" + BIAS)  # a chain / a cycle

    _refused(_craft.with_weights(good, edit), "soft link")


def test_soft_link_to_an_object_of_the_file_loads(good):
    def edit(h5_file):
        h5_file.move(BIAS, "stash")
        h5_file[BIAS] = h5py.SoftLink("/stash")

    model = _load(_craft.with_weights(good, edit))
    np.testing.assert_array_equal(model.get_layer("d1").bias.numpy(), np.zeros(4, "float32"))


def _filtered_bias(code, flags):
    def edit(h5_file):
        del h5_file[BIAS]
        group = h5_file["layers/dense/vars"]
        plist = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        plist.set_chunk((4,))
        plist.set_filter(code, flags, (1, 2))
        space = h5py.h5s.create_simple((4,))
        h5py.h5d.create(group.id, b"1", h5py.h5t.IEEE_F32LE, space, dcpl=plist)

    return edit


def test_unknown_filter_is_refused_before_hdf5_looks_for_a_plugin(good):
    error = _refused(_craft.with_weights(good, _filtered_bias(33333, h5py.h5z.FLAG_OPTIONAL)), "")
    assert "filter 33333" in str(error) and BIAS in str(error)


@pytest.mark.parametrize("compression", ["gzip", "lzf"])
def test_compression_filters_are_refused(good, compression):
    def edit(h5_file):
        del h5_file[BIAS]
        h5_file.create_dataset(BIAS, data=np.zeros(4, "float32"), compression=compression)

    _refused(_craft.with_weights(good, edit), "filter")


def test_shuffle_and_fletcher32_load(good):
    def edit(h5_file):
        del h5_file[BIAS]
        h5_file.create_dataset(BIAS, data=np.full(4, 0.5, "float32"), shuffle=True, fletcher32=True)

    model = _load(_craft.with_weights(good, edit))
    np.testing.assert_array_equal(model.get_layer("d1").bias.numpy(), np.full(4, 0.5, "float32"))


def test_chunks_larger_than_their_dataset_are_refused(good):
    def edit(h5_file):
        del h5_file[BIAS]
        h5_file.create_dataset(BIAS, shape=(4,), maxshape=(None,), chunks=(1 << 20,), dtype="f4")

    _refused(_craft.with_weights(good, edit), "chunks of")


def test_hard_link_cycle_is_walked_once(good):
    def edit(h5_file):
        group = h5_file.create_group("extra")
        group["loop"] = group  # extra/loop/loop/... is the same group

    started = time.monotonic()
    _load(_craft.with_weights(good, edit))
    assert time.monotonic() - started < 5


def test_hostile_objects_anywhere_are_refused_even_if_never_read(good, secret):
    def edit(h5_file):
        h5_file.create_dataset("unrelated", shape=(4,), dtype="f4", external=[(str(secret), 0, 16)])

    _refused(_craft.with_weights(good, edit), "'unrelated' uses HDF5 external storage")


def _weights_file(tmp_path, edit):
    model = _craft.small_model()
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    with h5py.File(path, "r+") as h5_file:
        edit(h5_file)
    return model, path


def test_load_weights_refuses_external_storage_and_opens_only_the_named_file(
    tmp_path, secret, monkeypatch
):
    model, path = _weights_file(tmp_path, _external_bias(str(secret)))
    before = [v.numpy().copy() for v in model.weights]
    opened = []
    real_file = h5py.File

    def recording_file(name, *args, **kwargs):
        opened.append(name)
        return real_file(name, *args, **kwargs)

    monkeypatch.setattr(h5py, "File", recording_file)
    with pytest.raises(InvalidModelFileError, match="external storage") as info:
        model.load_weights(path)
    assert str(path) in str(info.value)
    assert [os.fspath(p) for p in opened] == [str(path)]
    for variable, value in zip(model.weights, before, strict=True):
        np.testing.assert_array_equal(variable.numpy(), value)  # nothing assigned


def test_load_weights_refuses_external_links(tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as h5_file:
        h5_file["x"] = np.ones(4, "float32")

    def edit(h5_file):
        del h5_file[BIAS]
        h5_file[BIAS] = h5py.ExternalLink(str(other), "/x")

    model, path = _weights_file(tmp_path, edit)
    with pytest.raises(InvalidModelFileError, match="external link"):
        model.load_weights(path)


def test_a_fifo_as_the_model_file_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "m.keras"
    os.mkfifo(fifo)
    with pytest.raises(InvalidModelFileError, match="not a regular file"):
        keras.saving.load_model(fifo)
    fifo_weights = tmp_path / "w.weights.h5"
    os.mkfifo(fifo_weights)
    with pytest.raises(InvalidModelFileError, match="not a regular file"):
        _craft.small_model().load_weights(fifo_weights)


_LOADER = textwrap.dedent(
    """
    import sys
    from compiler import keras
    from compiler.keras.saving import InvalidModelFileError
    try:
        keras.saving.load_model(sys.argv[1])
    except InvalidModelFileError as error:
        print("REFUSED", error)
    """
)


def _run_loader(path, strace_log=None, timeout=60):
    command = [sys.executable, "-c", _LOADER, str(path)]
    if strace_log is not None:
        command = ["strace", "-f", "-qq", "-e", "trace=%file", "-o", str(strace_log), *command]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


def test_external_storage_on_a_fifo_does_not_hang(good, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # opening it for reading would block until a writer comes: never
    model_path = tmp_path / "m.keras"
    model_path.write_bytes(_craft.with_weights(good, _external_bias(str(fifo))))
    started = time.monotonic()
    result = _run_loader(model_path)
    assert "REFUSED" in result.stdout and "external storage" in result.stdout, result.stderr
    assert time.monotonic() - started < 30


def test_strace_shows_only_the_model_file_is_opened(good, tmp_path, secret):
    if shutil.which("strace") is None:
        oracles.missing("strace", "the Debian package strace (apt-get install strace)")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as h5_file:
        h5_file["x"] = np.ones(4, "float32")

    def edit(h5_file):
        _external_bias(str(secret))(h5_file)
        h5_file.create_dataset("x2", shape=(4,), dtype="f4", external=[(str(fifo), 0, 16)])
        h5_file["x3"] = h5py.ExternalLink(str(other), "/x")

    model_path = tmp_path / "m.keras"
    model_path.write_bytes(_craft.with_weights(good, edit))
    log = tmp_path / "strace.log"
    result = _run_loader(model_path, strace_log=log)
    if result.returncode != 0 and "ptrace" in result.stderr:
        # The platform forbids ptrace (a container without CAP_SYS_PTRACE): nothing to observe.
        pytest.skip(f"strace cannot trace here: {result.stderr.strip()[:200]}")
    assert "REFUSED" in result.stdout, result.stderr
    seen = log.read_text()
    # The trace works: the model file itself was opened (not only named in execve's argv).
    assert any("open" in line and str(model_path) in line for line in seen.splitlines())
    for path in (secret, fifo, other):
        assert str(path) not in seen, f"{path} was touched"


def test_python_level_opens_are_only_the_named_file(good, secret, tmp_path, monkeypatch):
    import builtins

    model_path = tmp_path / "m.keras"
    model_path.write_bytes(_craft.with_weights(good, _external_bias(str(secret))))
    keras.saving.load_model(io.BytesIO(good))  # every lazy import done before recording
    opened = []
    real_open, real_os_open = builtins.open, os.open

    def recording_open(file, *args, **kwargs):
        opened.append(os.fspath(file) if not isinstance(file, int) else file)
        return real_open(file, *args, **kwargs)

    def recording_os_open(file, *args, **kwargs):
        opened.append(os.fspath(file))
        return real_os_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", recording_open)
    monkeypatch.setattr(os, "open", recording_os_open)
    with pytest.raises(InvalidModelFileError, match="external storage"):
        keras.saving.load_model(model_path)
    monkeypatch.undo()
    assert opened == [str(model_path)]


def test_load_weights_from_a_keras_file_refuses_external_storage(good, secret, tmp_path):
    path = tmp_path / "m.keras"
    path.write_bytes(_craft.with_weights(good, _external_bias(str(secret))))
    with pytest.raises(InvalidModelFileError, match="external storage") as info:
        _craft.small_model().load_weights(path)
    assert str(path) in str(info.value)
