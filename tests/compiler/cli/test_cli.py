"""The ``compile`` command and ``compiler.compile()``: outputs, report, errors, atomic writes."""

import os
import subprocess
import sys
import textwrap
import types

import numpy as np
import pytest

import compiler
from compiler.cli import main
from compiler.driver import SourceError, output_stem

MODEL_FILE = """
from compiler import keras

def make(units=3):
    model = keras.Sequential(
        [keras.Input((4,), name="features"), keras.layers.Dense(units, activation="relu"),
         keras.layers.Dense(2, activation="softmax", name="probs")], name="tiny")
    return model

model = make()
not_a_model = 42

def broken():
    raise RuntimeError("boom")
"""

ODD_LAYER_FILE = """
from compiler import keras

class Odd(keras.layers.Layer):
    def call(self, inputs):
        return inputs

model = keras.Sequential([keras.Input((4,)), Odd(name="odd_one")])
"""


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "models.py"
    path.write_text(MODEL_FILE)
    return path


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_help_explains_the_command(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for word in (
        "SOURCE",
        "file.py:NAME",
        "--to",
        "--quantize",
        "--calibration",
        "--io",
        "OUT_DIR",
        "examples:",
        "verify",
    ):
        assert word in text


def test_compiles_a_model_object_from_a_python_file(source, tmp_path, capsys):
    out_dir = tmp_path / "out"
    code, out, err = _run([f"{source}:model", "-o", out_dir], capsys)
    assert code == 0 and err == ""
    assert sorted(p.name for p in out_dir.iterdir()) == ["model.onnx", "model.tflite"]
    assert "FULLY_CONNECTED x2" in out and "parameters" in out and "bytes" in out
    from tests.compiler.export.helpers import run_onnx, run_tflite

    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    a = run_tflite((out_dir / "model.tflite").read_bytes(), {"features": x})["probs"]
    b = run_onnx((out_dir / "model.onnx").read_bytes(), {"features": x})["probs"]
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_function_source_tflite_only_and_report(source, tmp_path, capsys):
    code, out, _ = _run([f"{source}:make", "--to", "tflite", "-o", tmp_path, "--report"], capsys)
    assert code == 0
    assert [p.name for p in tmp_path.glob("make.*")] == ["make.tflite"]
    assert "features (None, 4)" in out and "probs (None, 2)" in out
    assert "passes applied: FuseActivationsPass" in out


def test_api_returns_files_and_report(source, tmp_path):
    result = compiler.compile(f"{source}:model", to=("onnx",), out_dir=tmp_path)
    assert result.files == {"onnx": tmp_path / "model.onnx"}
    assert result.report.ops == {"FULLY_CONNECTED": 2, "SOFTMAX": 1}
    assert result.report.parameters == 4 * 3 + 3 + 3 * 2 + 2
    assert result.report.files["onnx"][1] == (tmp_path / "model.onnx").stat().st_size


def test_model_object_and_stem(source, tmp_path):
    from compiler import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)], name="objmodel")
    result = compiler.compile(model, out_dir=tmp_path, stem="custom")
    assert sorted(p.name for p in result.paths) == ["custom.onnx", "custom.tflite"]
    assert output_stem("cnn", "int8") == "cnn.int8"
    assert output_stem("cnn", "float16") == "cnn.float16"
    assert output_stem("cnn", "none") == "cnn"


def test_outputs_are_deterministic(source, tmp_path):
    from compiler import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)], name="same")
    a = compiler.compile(model, out_dir=tmp_path / "a").files
    b = compiler.compile(model, out_dir=tmp_path / "b").files
    for fmt in ("tflite", "onnx"):
        assert a[fmt].read_bytes() == b[fmt].read_bytes()


def test_two_processes_write_identical_files(tmp_path):
    source = tmp_path / "seeded.py"
    source.write_text("from compiler import keras\nkeras.random.set_seed(5)\n" + MODEL_FILE)
    for run in ("a", "b"):
        subprocess.run(
            [sys.executable, "-m", "compiler.cli", f"{source}:model", "-o", str(tmp_path / run)],
            check=True,
            capture_output=True,
        )
    for name in ("model.tflite", "model.onnx"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


@pytest.mark.parametrize(
    "make_source, expected",
    [
        (lambda d: d / "missing.keras", "no such file"),
        (lambda d: d / "nope.py:model", "no such file"),
        (lambda d: d / "model.txt", "SOURCE must be a .keras file or path/to/file.py:NAME"),
        (lambda d: f"{d / 'models.py'}:absent", "defines no 'absent'"),
        (lambda d: f"{d / 'models.py'}:not_a_model", "is a int, not a model"),
        (lambda d: f"{d / 'models.py'}:broken", "calling broken() from"),
        (lambda d: f"{d / 'models.py'}:2bad", "is not a Python name"),
        (lambda d: d / "odd.py:model", "layer 'odd_one' of class Odd is not supported"),
        (lambda d: d / "corrupt.keras", "cannot load"),
        (lambda d: d / "crash.py:model", "running"),
    ],
)
def test_errors_are_one_line_and_write_nothing(make_source, expected, tmp_path, capsys):
    (tmp_path / "models.py").write_text(MODEL_FILE)
    (tmp_path / "odd.py").write_text(ODD_LAYER_FILE)
    (tmp_path / "crash.py").write_text("raise ImportError('missing thing')\n")
    (tmp_path / "corrupt.keras").write_bytes(b"not a zip file at all")
    out_dir = tmp_path / "out"
    code, out, err = _run([make_source(tmp_path), "-o", out_dir], capsys)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("compile: error: ")
    assert expected in err
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--to", "tflite,pdf"], "--to takes distinct formats"),
        (["--io", "int8"], "--io int8 needs --quantize int8"),
        (["--quantize", "int8"], "needs --calibration FILE.npz"),
        (["--calibration", "calib.npz"], "only used by --quantize int8"),
        (["--quantize", "int8", "--calibration", "calib.txt"], "must be a .npz file"),
        (["--quantize", "int8", "--calibration", "absent.npz"], "does not exist"),
        (["--opset", "7"], "opset 7 is not supported"),
    ],
)
def test_option_errors(extra, expected, source, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = _run([f"{source}:model", "-o", "out", *extra], capsys)
    assert code == 1 and expected in err
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_bad_choice_is_a_usage_error(source, capsys):
    with pytest.raises(SystemExit) as info:
        main([f"{source}:model", "--quantize", "int4"])
    assert info.value.code == 2
    assert "invalid choice: 'int4'" in capsys.readouterr().err


@pytest.mark.parametrize("mode", ["int8", "dynamic", "float16"])
def test_quantize_modes_write_stemmed_files(mode, source, tmp_path, capsys):
    extra = []
    if mode == "int8":
        calib = tmp_path / "calib.npz"
        np.savez(calib, features=np.random.default_rng(0).random((16, 4), np.float32))
        extra = ["--calibration", calib, "--report"]
    code, out, err = _run(
        [f"{source}:model", "-o", tmp_path / "o", "--quantize", mode, *extra], capsys
    )
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        f"model.{mode}.onnx",
        f"model.{mode}.tflite",
    ]
    if mode == "int8":
        assert "quantization report" in out and "SNR dB" in out


def test_nan_calibration_is_one_line_and_writes_nothing(source, tmp_path, capsys):
    calib = tmp_path / "calib.npz"
    np.savez(calib, features=np.full((4, 4), np.nan, np.float32))
    code, _, err = _run(
        [f"{source}:model", "-o", tmp_path / "o", "--quantize", "int8", "--calibration", calib],
        capsys,
    )
    assert code == 1 and "NaN" in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_calibration_file_is_read_by_input_name(tmp_path):
    from compiler.driver import load_calibration

    path = tmp_path / "c.npz"
    np.savez(path, anything=np.ones((2, 4)))
    assert list(load_calibration(path, ["features"])) == ["features"]
    np.savez(path, a=np.ones(1), c=np.ones(1))
    with pytest.raises(SourceError, match=r"lacks arrays for inputs \['b'\]"):
        load_calibration(path, ["a", "b"])


def test_unwritable_output_directory(source, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = _run([f"{source}:model", "-o", blocker], capsys)
    assert code == 1 and "exists and is not a directory" in err
    code, _, err = _run([f"{source}:model", "-o", blocker / "sub"], capsys)
    assert code == 1 and "cannot create output directory" in err


def test_failed_write_leaves_no_file(source, tmp_path, monkeypatch, capsys):
    real_replace = os.replace
    calls = []

    def failing_replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    out_dir = tmp_path / "out"
    code, _, err = _run([f"{source}:model", "-o", out_dir], capsys)
    assert code == 1 and "No space left on device" in err
    leftovers = [p.name for p in out_dir.iterdir()]
    assert not any(name.endswith(".tmp") for name in leftovers)
    assert "model.onnx" not in leftovers


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640)])
def test_written_files_get_the_usual_permissions(source, tmp_path, umask, mode):
    # 0o666 minus the umask, as open() gives; mkstemp alone would give 0o600.
    mask = os.umask(umask)
    try:
        compiler.compile(f"{source}:model", out_dir=tmp_path)
    finally:
        os.umask(mask)
    for name in ("model.tflite", "model.onnx"):
        assert (tmp_path / name).stat().st_mode & 0o777 == mode


def test_existing_file_is_replaced_whole(source, tmp_path):
    target = tmp_path / "model.tflite"
    target.write_bytes(b"old")
    compiler.compile(f"{source}:model", to="tflite", out_dir=tmp_path)
    assert target.read_bytes()[4:8] == b"TFL3"


def test_verify_subcommand_dispatches(monkeypatch, capsys):
    seen = []
    fake = types.ModuleType("compiler.verify")
    fake.main = lambda argv: seen.append(argv) or 3
    monkeypatch.setitem(sys.modules, "compiler.verify", fake)
    monkeypatch.setattr(compiler, "verify", fake, raising=False)
    assert main(["verify", "m.tflite", "--x"]) == 3
    assert seen == [["m.tflite", "--x"]]


def test_console_script_runs_without_importing_onnx_for_tflite(source, tmp_path):
    script = textwrap.dedent(
        f"""
        import sys
        from compiler.cli import main
        code = main([{str(source) + ":model"!r}, "--to", "tflite", "-o", {str(tmp_path)!r}])
        print(code, "onnx" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.split()[-2:] == ["0", "False"]


def test_argument_parsing_imports_neither_frontend_nor_onnx():
    script = (
        "import sys; from compiler.cli import build_parser; "
        "build_parser().parse_args(['x.keras']); "
        "print('onnx' in sys.modules, 'compiler.keras' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["False", "False"]


def test_installed_command(source, tmp_path):
    done = subprocess.run(
        ["compile", f"{source}:model", "-o", str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "model.tflite").is_file() and (tmp_path / "model.onnx").is_file()
    bad = subprocess.run(["compile", str(tmp_path / "none.keras")], capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1


def test_int16x8_with_int16_io_and_report(source, tmp_path, capsys):
    calib = tmp_path / "calib.npz"
    np.savez(calib, features=np.random.default_rng(0).random((16, 4), np.float32))
    argv = [f"{source}:model", "-o", tmp_path / "o", "--quantize", "int16x8", "--io", "int16"]
    code, out, err = _run([*argv, "--calibration", calib, "--report"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        "model.int16x8.onnx",
        "model.int16x8.tflite",
    ]
    assert "quantize: int16x8, io: int16" in out and "opset 21" in out
    assert "quantization report" in out and "SNR dB" in out
    code, _, err = _run([f"{source}:model", "-o", tmp_path / "p", "--io", "int16"], capsys)
    assert code == 1 and "--io int16 needs --quantize int16x8" in err
