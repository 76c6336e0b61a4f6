"""``compile m.keras --quantize int8 --io int8`` on recurrent models, and ``--report``'s
recurrent sections: every recurrent intermediate's parameters and the error of each step."""

from __future__ import annotations

import numpy as np

import compiler
from compiler.cli import main
from compiler.quantize.recurrent_report import integer_lstm_tensors
from runtime.tflite.model import read_model
from tests.compiler.recurrent_int8.helpers import (
    STEPS,
    build,
    dequantize_output,
    files,
    inputs,
    invoke,
)
from tests.runtime.tflite._litert import litert_interpreter


def test_cli_writes_an_integer_only_tflite(tmp_path, capsys):
    model = build("stacked_mixed")
    model.save(tmp_path / "m.keras")
    np.savez(tmp_path / "calib.npz", x=inputs(64, seed=2))
    argv = ["m.keras", "--quantize", "int8", "--io", "int8", "--calibration", "calib.npz"]
    argv = [str(tmp_path / a) if a.endswith((".keras", ".npz")) else a for a in argv]
    assert main([*argv, "-o", str(tmp_path / "out")]) == 0
    tflite = (tmp_path / "out" / "m.int8.tflite").read_bytes()
    assert (tmp_path / "out" / "m.int8.onnx").exists()
    (subgraph,) = read_model(tflite).subgraphs
    assert all(t.dtype.kind != "f" for t in subgraph.tensors)
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in {op.name for op in subgraph.operators}
    x = inputs(6, seed=3)
    interpreter = litert_interpreter(model_content=tflite)
    got = dequantize_output(invoke(interpreter, x), interpreter.get_output_details()[0])
    np.testing.assert_allclose(got, model.predict(x, verbose=0), atol=0.12)
    assert "warning" not in capsys.readouterr().err


def test_integer_lstm_tensors_are_listed():
    tflite = files(build("bi_lstm_concat"))[0]
    found = integer_lstm_tensors(tflite)
    assert len(found) == 2 * 7  # two LSTMs: output state, cell state, five intermediates
    by_role = {(t.layer, t.role): t for t in found}
    for layer in {t.layer for t in found}:
        cell = by_role[(layer, "cell state")]
        assert cell.dtype == "int16" and cell.zero_point == 0
        assert np.log2(cell.scale) == int(np.log2(cell.scale))
        hidden = by_role[(layer, "intermediate 4 (hidden)")]
        state = by_role[(layer, "output state")]
        assert (hidden.dtype, hidden.scale, hidden.zero_point) == (
            state.dtype,
            state.scale,
            state.zero_point,
        )


def _report(model, tmp_path):
    result = compiler.compile(
        model,
        to="tflite",
        out_dir=tmp_path,
        quantize="int8",
        calibration=inputs(32, seed=2),
        io="int8",
    )
    return result.quantization_report


def test_report_gives_per_step_errors_of_an_unrolled_gru(tmp_path):
    report = _report(build("gru_seq_reset_before"), tmp_path)
    (name,) = report.steps
    errors = report.steps[name].as_dict()
    assert len(errors["max_abs_error"]) == STEPS
    assert all(e > 0 for e in errors["max_abs_error"])
    per_step = {t.name for t in report.tensors if "/t3/" in t.name}
    assert per_step  # each step's gates and states are tensors of the file
    text = report.table()
    assert f"per-step error of {name}" in text
    assert report.as_dict()["steps"][name]["max_abs_error"] == errors["max_abs_error"]


def test_report_lists_integer_lstm_intermediates(tmp_path):
    """Runs the integer LSTM in our runtime (bit-exact with LiteRT's reference kernels)."""
    report = _report(build("lstm_seq"), tmp_path)
    roles = [t.role for t in report.recurrent]
    assert roles[:2] == ["output state", "cell state"] and len(roles) == 7
    (name,) = report.steps
    assert len(report.steps[name].max_error) == STEPS
    assert "integer LSTM states and intermediates" in report.table()
