"""Calibration data that fits the model but is not preprocessed like its training data is a
warning at compile time; a calibration .npz whose header lies is a one-line error."""

import io
import re
import subprocess
import sys
import time
import warnings
import zipfile

import numpy as np
import pytest

import compiler
from compiler import keras
from compiler._calibration_checks import warn_if_unlike_training_data
from compiler.cli import main
from compiler.keras import layers
from compiler.quantize import CalibrationWarning

RNG = np.random.default_rng(13)


def _dense(first=None):
    stack = [keras.Input((4,))] + ([first] if first is not None else [])
    model = keras.Sequential([*stack, layers.Dense(3, activation="softmax")], name="m")
    model.build((None, 4))
    return model


def _compile(model, calibration, tmp_path):
    return compiler.compile(
        model, to="tflite", out_dir=tmp_path, quantize="int8", calibration=calibration
    )


def _warnings_of(model, calibration, tmp_path) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = _compile(model, calibration, tmp_path)
    assert result.files["tflite"].is_file()  # a warning, not an error: the file is written
    return [str(w.message) for w in caught if issubclass(w.category, CalibrationWarning)]


def _checked(model, data) -> list[str]:
    """The model-level checks alone, on calibration batches as compile makes them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_if_unlike_training_data(model, ["x"], [[data[:40]], [data[40:]]])
    return [str(w.message) for w in caught if issubclass(w.category, CalibrationWarning)]


def test_well_preprocessed_data_gives_no_warning(tmp_path):
    pixels = RNG.integers(0, 256, (64, 4)).astype(np.float32)
    assert _warnings_of(_dense(), pixels / 255, tmp_path) == []
    assert _warnings_of(_dense(layers.Rescaling(1 / 255)), pixels, tmp_path) == []
    norm = layers.Normalization()
    norm.adapt(pixels / 255)
    assert _checked(_dense(norm), pixels / 255) == []


def test_integers_for_a_float_input_warn(tmp_path):
    found = _warnings_of(_dense(), RNG.integers(0, 256, (64, 4)), tmp_path)
    assert len(found) == 1
    assert re.search(r"input 'input_layer\w*' is int64 but the input is float32", found[0])


def test_absurd_magnitudes_warn(tmp_path):
    data = RNG.random((64, 4), dtype=np.float32)
    data[3, 1] = 3e30
    (found,) = _warnings_of(_dense(), data, tmp_path)
    assert "values of magnitude 3e+30" in found
    data[3, 1] = 3e38
    plain = keras.Sequential([keras.Input((4,)), layers.Dense(3, kernel_initializer="ones")])
    (found,) = _warnings_of(plain, data, tmp_path)
    assert "values of magnitude 3e+38" in found


def test_data_scaled_twice_before_a_rescaling_warns(tmp_path):
    scaled = RNG.integers(0, 256, (64, 4)).astype(np.float32) / 255
    (found,) = _warnings_of(_dense(layers.Rescaling(1 / 255, name="scale")), scaled, tmp_path)
    assert "first layer 'scale' (Rescaling)" in found and "spans only [0, 0.0039" in found


def test_raw_pixels_into_a_normalization_adapted_on_scaled_data_warn(tmp_path):
    pixels = RNG.integers(0, 256, (64, 4)).astype(np.float32)
    norm = layers.Normalization(name="norm")
    norm.adapt(pixels / 255)
    (found,) = _checked(_dense(norm), pixels)
    assert "first layer 'norm' (Normalization) reaches" in found
    assert _checked(_dense(norm), pixels / 255) == []


def _lying_npz(path, elements=1 << 40):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (elements,)}
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("input_layer.npy", header.getvalue() + b"\0" * 80)


def test_npz_header_claiming_2_to_the_40_elements_is_one_line_error(tmp_path, capsys, monkeypatch):
    model_path = tmp_path / "m.keras"
    _dense().save(model_path)
    bomb = tmp_path / "calib.npz"
    _lying_npz(bomb)

    def no_load(*args, **kwargs):
        raise AssertionError("np.load was reached: the header was not checked first")

    monkeypatch.setattr(np, "load", no_load)
    start = time.perf_counter()
    status = main([str(model_path), "--quantize", "int8", "--calibration", str(bomb)])
    assert time.perf_counter() - start < 5
    err = capsys.readouterr().err
    assert status == 1 and err.count("\n") == 1, err
    assert err.startswith("compile: error: calibration file ")
    assert "claims shape (1099511627776,) of float32 (4,398,046,511,104 bytes)" in err
    assert "holds 80" in err
    assert not list(tmp_path.glob("*.tflite"))


def test_command_line_warning_is_one_line_and_the_files_are_written(tmp_path):
    model_path = tmp_path / "m.keras"
    _dense().save(model_path)
    calibration = tmp_path / "calib.npz"
    np.savez(calibration, input_layer=RNG.integers(0, 256, (32, 4)))
    done = subprocess.run(
        [sys.executable, "-m", "compiler.cli", str(model_path), "--quantize", "int8"]
        + ["--calibration", str(calibration), "-o", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("compile: warning: calibration data for")
    assert "is int64 but the input is float32" in lines[0]
    assert (tmp_path / "m.int8.tflite").is_file() and (tmp_path / "m.int8.onnx").is_file()


@pytest.mark.parametrize("claim", [21, 1 << 29])
def test_npz_members_are_checked_against_what_they_hold(tmp_path, claim):
    from compiler.driver import SourceError, load_calibration

    path = tmp_path / "c.npz"
    _lying_npz(path, elements=claim)  # 80 bytes hold 20 float32 values
    with pytest.raises(SourceError, match=r"claims shape"):
        load_calibration(path, ["input_layer"])
    np.savez(path, input_layer=np.zeros((5, 4), np.float32))
    loaded = load_calibration(path, ["input_layer"])
    np.testing.assert_array_equal(loaded["input_layer"], np.zeros((5, 4), np.float32))
