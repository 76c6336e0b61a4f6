"""Bad inputs to ``compile verify`` and ``compile`` end in one line on stderr and a non-zero exit,
before anything large is allocated: a tiny file declaring four 1 GiB inputs, an ``.npz`` header
claiming 2^40 elements, FIFOs, hostile ``.keras`` files, errors from the layers below."""

import io
import os
import tracemalloc
import zipfile

import numpy as np
import pytest

import compiler
from compiler import keras, verify
from compiler.cli import main
from compiler.verify import _inputs


@pytest.fixture(scope="module")
def huge_inputs(tmp_path_factory):
    """A model whose four inputs take 1 GiB each (float32 x 2^28): its files are tiny."""
    inputs = [keras.Input((1 << 28,), name=f"x{i}") for i in range(4)]
    model = keras.Model(inputs, keras.layers.Add()(inputs), name="huge")
    out = tmp_path_factory.mktemp("huge")
    result = compiler.compile(model, out_dir=out)
    assert all(path.stat().st_size < 2000 for path in result.paths)
    return result.files


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    model = keras.Sequential([keras.Input((3,), name="x"), keras.layers.Dense(2)], name="small")
    out = tmp_path_factory.mktemp("small")
    return compiler.compile(model, out_dir=out).files


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(code, err, prefix="compile verify: error: "):
    assert code != 0
    assert err.count("\n") == 1 and err.startswith(prefix), err
    assert "Traceback" not in err


@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
def test_four_1_gib_inputs_are_refused_before_allocating(huge_inputs, fmt, capsys):
    tracemalloc.start()
    try:
        code, _, err = _run(["verify", huge_inputs[fmt], "--batch", "1"], capsys)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    _one_line_error(code, err)
    assert "would take 4,294,967,296 bytes; the limit is 268,435,456" in err
    assert peak < 64 << 20


def _npz_claiming(shape, payload=b"\0" * 16):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": shape}
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("x.npy", header.getvalue() + payload)
    return buffer.getvalue()


def test_npz_header_claiming_2_to_the_40_elements_is_one_line(small, tmp_path, capsys):
    data = tmp_path / "x.npz"
    data.write_bytes(_npz_claiming((1 << 20, 1 << 20)))
    tracemalloc.start()
    try:
        code, _, err = _run(["verify", small["tflite"], "--data", data], capsys)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    _one_line_error(code, err)
    assert "claims shape (1048576, 1048576)" in err and "holds 16" in err
    assert peak < 64 << 20


def test_data_beyond_the_input_budget_is_refused(small, tmp_path, capsys, monkeypatch):
    data = tmp_path / "x.npz"
    np.savez(data, x=np.zeros((100, 3), "float32"))
    monkeypatch.setattr(_inputs, "MAX_INPUT_BYTES", 1000)
    code, _, err = _run(["verify", small["tflite"], "--data", data], capsys)
    _one_line_error(code, err)
    assert "more than 1,000 bytes" in err


def test_fifos_are_refused_not_waited_on(small, tmp_path, capsys):
    fifo = tmp_path / "m.tflite"
    os.mkfifo(fifo)
    code, _, err = _run(["verify", fifo], capsys)
    _one_line_error(code, err)
    assert "not a regular file" in err
    data = tmp_path / "x.npz"
    os.mkfifo(data)
    code, _, err = _run(["verify", small["tflite"], "--data", data], capsys)
    _one_line_error(code, err)
    assert "not a regular file" in err


@pytest.mark.parametrize("content", [b"", b"TFL3" * 10, os.urandom(300)])
def test_corrupt_files_are_one_line(tmp_path, capsys, content):
    path = tmp_path / "bad.tflite"
    path.write_bytes(content)
    code, _, err = _run(["verify", path], capsys)
    _one_line_error(code, err)


@pytest.mark.parametrize(
    "error",
    [ValueError("a budget of the runtime was exceeded"), OSError(5, "Input/output error")],
)
def test_errors_of_the_layers_below_are_one_line(small, capsys, monkeypatch, error):
    def failing(*args, **kwargs):
        raise error

    monkeypatch.setattr(verify, "_run_ours", failing)
    code, _, err = _run(["verify", small["tflite"]], capsys)
    _one_line_error(code, err)
    assert str(error.args[-1]) in err


def test_out_of_memory_is_one_line(small, capsys, monkeypatch):
    def failing(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(verify, "_run_ours", failing)
    code, _, err = _run(["verify", small["tflite"]], capsys)
    _one_line_error(code, err)
    assert "out of memory" in err


# ------------------------------------------------------------------ the compile command
def _keras_file(tmp_path, edit=None):
    from tests.compiler.keras.saving import _craft

    data = _craft.saved_bytes(_craft.small_model())
    if edit is not None:
        data = _craft.with_weights(data, edit)
    path = tmp_path / "m.keras"
    path.write_bytes(data)
    return path


def test_compile_of_a_keras_file_with_external_storage_is_one_line(tmp_path, capsys):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"S" * 64)

    def edit(h5_file):
        del h5_file["layers/dense/vars/1"]
        h5_file.create_dataset(
            "layers/dense/vars/1", shape=(4,), dtype="f4", external=[(str(secret), 0, 16)]
        )

    out = tmp_path / "out"
    code, _, err = _run([_keras_file(tmp_path, edit), "-o", out], capsys)
    _one_line_error(code, err, "compile: error: ")
    assert "external storage" in err and "layers/dense/vars/1" in err
    assert not out.exists() or os.listdir(out) == []


def test_compile_of_a_fifo_is_one_line(tmp_path, capsys):
    fifo = tmp_path / "m.keras"
    os.mkfifo(fifo)
    code, _, err = _run([fifo, "-o", tmp_path / "out"], capsys)
    _one_line_error(code, err, "compile: error: ")
    assert "not a regular file" in err


def test_compile_out_of_memory_and_interrupt_are_one_line(tmp_path, capsys, monkeypatch):
    import compiler.driver as driver

    path = _keras_file(tmp_path)
    for error, expected, status in (
        (MemoryError, "compile: error: out of memory\n", 1),
        (KeyboardInterrupt, "compile: interrupted; no file was changed\n", 130),
    ):

        def failing(*args, error=error, **kwargs):
            raise error

        monkeypatch.setattr(driver, "lower_model", failing, raising=False)
        monkeypatch.setattr("compiler.lower.lower_model", failing)
        code, _, err = _run([path, "-o", tmp_path / "out"], capsys)
        assert (code, err) == (status, expected)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("raise SystemExit(3)\n", "running"),
        ("def model():\n    raise SystemExit('bye')\n", "calling model()"),
    ],
)
def test_a_source_file_that_exits_is_one_line(tmp_path, capsys, text, expected):
    source = tmp_path / "exits.py"
    source.write_text(text)
    code, _, err = _run([f"{source}:model", "-o", tmp_path / "out"], capsys)
    _one_line_error(code, err, "compile: error: ")
    assert expected in err and "SystemExit" in err
