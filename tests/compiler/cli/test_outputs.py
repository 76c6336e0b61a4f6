"""``compile``'s outputs stay in ``out_dir`` whatever the model's name, and are written all or
nothing: any failure (an output path that is a directory, Ctrl-C) leaves no temporary file and
the previous outputs byte for byte as they were. The same for ``model.save``."""

import io
import os
import signal
import subprocess
import sys
import textwrap

import pytest

import compiler
from compiler import _outputs, keras
from compiler.driver import OptionError, OutputError
from compiler.keras.saving import _archive


def _model(name="tiny", units=3, seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [keras.Input((4,), name="features"), keras.layers.Dense(units), keras.layers.Dense(2)]
    )
    # Set after construction: Layer refuses '/' as Keras 3 does, but compile must not rely on
    # that (a subclass or a renamed model can carry any name).
    model.name = name
    return model


def _tree(root):
    """Every path under ``root`` with its bytes (None for directories)."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            found[os.path.relpath(os.path.join(folder, name), root)] = None
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, root)] = handle.read()
    return found


@pytest.mark.parametrize(
    "name, stem",
    [
        ("{tmp}/x/ABS_NAME", None),
        ("../../../../{tmp}/x/PWNED", None),
        ("..", "model"),
        ("a\x00b", "a_b"),
        ("mödel ✓", "mödel_"),
        ("tiny", "tiny"),
        ("functional_1", "functional_1"),
    ],
)
def test_model_names_cannot_steer_outputs_out_of_out_dir(tmp_path, name, stem):
    name = name.format(tmp=tmp_path)
    out = tmp_path / "out"
    result = compiler.compile(_model(name), out_dir=out)
    assert sorted(os.listdir(tmp_path)) == ["out"]  # nothing beside out/, no x/
    assert sorted(os.listdir(out)) == sorted(p.name for p in result.paths)
    for path in result.paths:
        assert path.parent == out and not path.name.startswith(".")
        if stem is not None:
            assert path.stem == stem


def test_very_long_names_give_short_distinct_stems(tmp_path):
    names = ["x" * 5000, "x" * 4999 + "y", "é" * 3000]
    stems = [_outputs.stem_from_name(name) for name in names]
    assert len(set(stems)) == 3
    assert all(len(stem.encode()) <= _outputs.MAX_STEM_BYTES for stem in stems)
    assert stems[0] == _outputs.stem_from_name("x" * 5000)  # deterministic
    result = compiler.compile(_model("é" * 3000), out_dir=tmp_path, quantize="float16")
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in result.paths)


@pytest.mark.parametrize("stem", ["../x", "a/b", "/tmp/x", "a\x00b", ".", "..", "", "x" * 200])
def test_an_explicit_stem_must_be_a_plain_file_name(tmp_path, stem):
    with pytest.raises(OptionError, match="stem"):
        compiler.compile(_model(), out_dir=tmp_path, stem=stem)
    assert os.listdir(tmp_path) == []


def test_output_path_refuses_names_leaving_the_directory(tmp_path):
    assert _outputs.output_path(tmp_path, "m.tflite") == tmp_path / "m.tflite"
    for name in ("../m.tflite", "/tmp/m.tflite", "a/m.tflite", ".."):
        with pytest.raises(PermissionError, match="would leave the output directory"):
            _outputs.output_path(tmp_path, name)


@pytest.fixture
def previous(tmp_path):
    """Outputs of an earlier run, and what a new run with another model would write."""
    out = tmp_path / "out"
    compiler.compile(_model("m", units=3), out_dir=out)
    return out, _tree(out)


def _assert_unchanged(out, before):
    assert _tree(out) == before


def test_second_output_is_a_directory_first_is_left_unchanged(previous):
    out, before = previous
    os.unlink(out / "m.onnx")
    os.mkdir(out / "m.onnx")
    before = _tree(out)
    with pytest.raises(OutputError, match=r"m\.onnx.*directory"):
        compiler.compile(_model("m", units=5, seed=1), out_dir=out)
    _assert_unchanged(out, before)


class _Interrupt:
    """Wraps ``_outputs.<name>`` to raise KeyboardInterrupt at its ``at``-th call."""

    def __init__(self, monkeypatch, name, at):
        self.real, self.calls, self.at = getattr(_outputs, name), 0, at
        monkeypatch.setattr(_outputs, name, self)

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return self.real(*args, **kwargs)


@pytest.mark.parametrize(
    "where, at",
    [("_write_temporary", 1), ("_write_temporary", 2), ("_backup", 2)],
)
def test_ctrl_c_while_writing_leaves_the_previous_outputs(previous, monkeypatch, where, at):
    out, before = previous
    interrupt = _Interrupt(monkeypatch, where, at)
    with pytest.raises(KeyboardInterrupt):
        compiler.compile(_model("m", units=5, seed=1), out_dir=out)
    assert interrupt.calls == at
    _assert_unchanged(out, before)


@pytest.mark.parametrize("at", [1, 2])
def test_ctrl_c_between_renames_puts_the_first_file_back(previous, monkeypatch, at):
    out, before = previous
    real_replace, calls = os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == at:
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(_outputs.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        compiler.compile(_model("m", units=5, seed=1), out_dir=out)
    monkeypatch.undo()
    _assert_unchanged(out, before)


def test_interrupted_first_run_leaves_nothing(tmp_path, monkeypatch):
    _Interrupt(monkeypatch, "_write_temporary", 2)
    with pytest.raises(KeyboardInterrupt):
        compiler.compile(_model("m"), out_dir=tmp_path)
    assert os.listdir(tmp_path) == []


def test_an_export_writer_interrupted_writes_nothing(previous, monkeypatch):
    import compiler.export.onnx as onnx_export

    out, before = previous

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(onnx_export, "write_onnx", interrupted)
    with pytest.raises(KeyboardInterrupt):
        compiler.compile(_model("m", units=5, seed=1), out_dir=out)
    _assert_unchanged(out, before)


_SIGINT_RUN = textwrap.dedent(
    """
    import os, signal, sys
    from compiler import _outputs
    from compiler.cli import main

    real_replace, calls = os.replace, []

    def replace(src, dst):  # a real SIGINT between the two renames
        calls.append(dst)
        if len(calls) == 2:
            signal.raise_signal(signal.SIGINT)
        return real_replace(src, dst)

    _outputs.os.replace = replace
    sys.exit(main(sys.argv[1:]))
    """
)


def test_sigint_in_the_command_is_one_line_and_changes_nothing(tmp_path):
    source = tmp_path / "models.py"
    source.write_text(
        "from compiler import keras\n"
        "keras.utils.set_random_seed(7)\n"
        "m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)], name='m')\n"
    )
    out = tmp_path / "out"
    compiler.compile(_model("m"), out_dir=out)
    before = _tree(out)
    result = subprocess.run(
        [sys.executable, "-c", _SIGINT_RUN, f"{source}:m", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
    )
    assert result.returncode == 128 + signal.SIGINT
    assert result.stderr.strip() == "compile: interrupted; no file was changed"
    _assert_unchanged(out, before)


def test_a_failed_second_rename_puts_the_first_file_back(tmp_path, monkeypatch):
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"old a")
    real_replace, calls = os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if str(dst) == str(b):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(_outputs.os, "replace", replace)
    with pytest.raises(OSError, match="No space") as info:
        _outputs.write_all({a: b"new a", b: b"new b"})
    assert info.value.filename == str(b)
    monkeypatch.undo()
    assert _tree(tmp_path) == {"a.bin": b"old a"}


def test_fifo_as_an_output_is_refused_before_writing(tmp_path):
    os.mkfifo(tmp_path / "m.onnx")
    with pytest.raises(OutputError, match="not a regular file"):
        compiler.compile(_model("m"), out_dir=tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["m.onnx"]


def test_symlinked_previous_output_is_restored_as_a_link(previous, monkeypatch):
    out, _ = previous
    target = out.parent / "elsewhere.tflite"
    target.write_bytes(b"kept")
    os.unlink(out / "m.tflite")
    os.symlink(target, out / "m.tflite")
    before = _tree(out)
    _Interrupt(monkeypatch, "_backup", 2)
    with pytest.raises(KeyboardInterrupt):
        compiler.compile(_model("m", units=5, seed=1), out_dir=out)
    assert os.readlink(out / "m.tflite") == str(target) and target.read_bytes() == b"kept"
    _assert_unchanged(out, before)


# ------------------------------------------------------------------ the model-saving writer
def test_save_model_interrupted_leaves_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "m.keras"
    _model("m").save(path)
    before = _tree(tmp_path)

    def interrupted(members, handle):
        handle.write(b"PK partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(_archive, "zip_bytes", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _model("m", units=5, seed=1).save(path)
    assert _tree(tmp_path) == before


def test_save_model_onto_a_directory_is_an_os_error_and_leaves_nothing(tmp_path):
    (tmp_path / "m.keras").mkdir()
    with pytest.raises(IsADirectoryError):
        _model("m").save(tmp_path / "m.keras")
    assert _tree(tmp_path) == {"m.keras": None}
    buffer = io.BytesIO()
    _model("m").save(buffer)  # file objects are written as given
    assert buffer.getvalue()[:2] == b"PK"
