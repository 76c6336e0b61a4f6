"""QAT models through ``.keras`` files: our own round trip (config, weights, learned ranges,
predictions), a model saved by real Keras 3 prepared for QAT, and the ``compile`` command on a
saved QAT model without calibration data."""

import subprocess
import sys

import numpy as np

import runtime
from compiler import keras
from compiler.quantize import prepare_qat
from compiler.quantize.qat import fake_quants, is_qat_model
from tests.compiler.qat._helpers import (
    compile_int8,
    images,
    mobile_net,
    runtime_int8_outputs,
    simulated_int8,
)
from tests.fixtures import KERAS3


def test_round_trip_keeps_config_weights_ranges_and_predictions(tmp_path):
    x = images(48)
    qat = prepare_qat(mobile_net(), calibration=x[:16], trainable_ranges=True)
    qat.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    qat.fit(x, np.arange(48) % 5, batch_size=16, epochs=1, verbose=0)
    path = tmp_path / "m.qat.keras"
    qat.save(path)
    loaded = keras.saving.load_model(path)
    assert is_qat_model(loaded)
    assert loaded.get_config() == qat.get_config()
    for a, b in zip(qat.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert [q.range for q in fake_quants(loaded)] == [q.range for q in fake_quants(qat)]
    assert all(q.trainable_range for q in fake_quants(loaded) if q.fixed is None)
    np.testing.assert_array_equal(qat.predict(x, verbose=0), loaded.predict(x, verbose=0))
    # Training goes on from the loaded file.
    loaded.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    loaded.fit(x, np.arange(48) % 5, batch_size=16, epochs=1, verbose=0)


def test_real_keras3_model_prepared_trained_and_compiled(tmp_path):
    model = keras.saving.load_model(KERAS3 / "slide_cnn.keras")
    x = np.load(KERAS3 / "slide_cnn.io.npz")["x0"].astype("float32")
    qat = prepare_qat(model, calibration=x)
    qat.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    qat.fit(x, np.arange(len(x)) % 10, batch_size=8, epochs=1, verbose=0)
    result = compile_int8(qat, tmp_path, io="int8")
    got, params = runtime_int8_outputs(result.files["tflite"], x)
    steps = np.abs(simulated_int8(qat, x, params) - got.astype(np.int64))
    assert steps.max() <= 1 and np.mean(steps == 0) >= 0.99, np.mean(steps == 0)


def test_compile_command_takes_learned_ranges(tmp_path):
    qat = prepare_qat(mobile_net(), calibration=images(16))
    qat.save(tmp_path / "m.qat.keras")
    np.savez(tmp_path / "calib.npz", image=images(16, seed=9))
    command = [sys.executable, "-m", "compiler.cli", str(tmp_path / "m.qat.keras")]
    done = subprocess.run(
        [*command, "--quantize", "int8", "-o", str(tmp_path / "out"), "--report"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "QAT-learned range" in done.stdout
    with_calibration = subprocess.run(
        [*command, "--quantize", "int8", "--calibration", str(tmp_path / "calib.npz")]
        + ["-o", str(tmp_path / "calibrated"), "--report"],
        capture_output=True,
        text=True,
    )
    assert with_calibration.returncode == 0, with_calibration.stderr
    assert "PTQ-calibrated range" in with_calibration.stdout
    # The learned ranges make the file whatever the calibration data (documented precedence).
    name = "m.qat.int8.tflite"
    assert (tmp_path / "out" / name).read_bytes() == (tmp_path / "calibrated" / name).read_bytes()


def test_compile_command_io_defaults_to_the_qat_models_io(tmp_path):
    qat = prepare_qat(mobile_net(), io="int8", calibration=images(16))
    qat.save(tmp_path / "m.qat.keras")
    command = [sys.executable, "-m", "compiler.cli", str(tmp_path / "m.qat.keras")]
    for flags, out, dtype in (([], "default", np.int8), (["--io", "float"], "float", np.float32)):
        done = subprocess.run(
            [*command, "--quantize", "int8", "--to", "tflite", "-o", str(tmp_path / out), *flags],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        interpreter = runtime.Interpreter(model_path=str(tmp_path / out / "m.qat.int8.tflite"))
        assert interpreter.get_input_details()[0]["dtype"] == dtype
