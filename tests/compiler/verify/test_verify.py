"""``compile verify``: agreement tables over our runtime, LiteRT, onnxruntime and Keras; exit
statuses; input matching and quantization; missing optional runtimes."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from compiler import verify
from compiler.cli import main as cli_main
from runtime.tflite.model import read_model

RUNTIMES = ("LiteRT (ref)", "LiteRT (default)", "onnxruntime", "Keras")


def run(argv, capsys):
    code = cli_main(["verify", *[str(a) for a in argv]])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(argv, capsys):
    code, out, err = run([*argv, "--json"], capsys)
    assert err == "", err
    return code, json.loads(out)


def rows_of(report, compared=None, file=None):
    return [
        r
        for r in report["rows"]
        if (compared is None or r["compared"].endswith(compared))
        and (file is None or r["file"] == file)
    ]


# ------------------------------------------------------------------------------ agreement
def test_every_runtime_agrees_on_compiled_files(tiny, capsys):
    files = [tiny.float_tflite, tiny.float_onnx, tiny.int8_tflite, tiny.int8_onnx]
    code, out, err = run([*files, "--data", tiny.data, "--against", tiny.keras], capsys)
    assert code == 0, out + err
    for name in RUNTIMES:
        assert f"ours vs {name}" in out
    for f in files:
        assert f.name in out
    assert "XNNPACK" in out and "not required" in out  # the default-kernels footnote
    assert "FAIL" not in out
    header, columns = out.splitlines()[:2]
    assert header == f"inputs: {tiny.data}, 32 samples (by name: features)"
    for column in ("file", "output", "compared", "max |diff|", "int8 differ", "max LSB"):
        assert column in columns
    assert "top-1 agree" in columns and "status" in columns


def test_stderr_stays_empty_when_all_agree(tiny, capfd):
    # LiteRT's native "INFO: Created TensorFlow Lite XNNPACK delegate" line included.
    code = cli_main(["verify", str(tiny.int8_tflite), "--data", str(tiny.data)])
    out, err = capfd.readouterr()
    assert code == 0 and "LiteRT (default)" in out
    assert err == ""


def test_json_reports_each_comparison_with_its_criterion(tiny, capsys):
    files = [tiny.float_tflite, tiny.int8_tflite, tiny.int8io_onnx]
    code, report = run_json([*files, "--data", tiny.data, "--against", tiny.keras], capsys)
    assert code == 0 and report["ok"] is True
    assert report["inputs"] == {
        "names": ["features"],
        "data": str(tiny.data),
        "matched": "by name",
        "keys": ["features"],
        "ignored": [],
        "samples": 32,
    }
    ref = rows_of(report, "LiteRT (ref)")
    assert {r["file"] for r in ref} == {"tiny.tflite", "tiny.int8.tflite"}
    by_file = {r["file"]: r for r in ref}
    # int8 inside, float at the edge: compared in LSB of the DEQUANTIZE's input, bit-exact.
    assert by_file["tiny.int8.tflite"]["criterion"] == "bit-exact"
    assert by_file["tiny.int8.tflite"]["max_lsb"] == 0
    assert by_file["tiny.int8.tflite"]["int8_differ"] == 0
    assert by_file["tiny.int8.tflite"]["size"] == 32 * 4
    assert by_file["tiny.tflite"]["criterion"].startswith("rel<=")
    assert by_file["tiny.tflite"]["max_abs_diff"] <= 1e-5
    assert all(r["required"] and r["status"] == "OK" for r in ref)
    (ort,) = rows_of(report, "onnxruntime")
    assert ort["criterion"] == "<=1 LSB" and ort["max_lsb"] <= 1 and ort["status"] == "OK"
    default = rows_of(report, "LiteRT (default)")
    assert default and all(not r["required"] and r["status"] == "info" for r in default)
    keras_rows = {r["file"]: r for r in rows_of(report, "Keras")}
    assert keras_rows["tiny.tflite"]["criterion"] == "abs<=0.0001"
    assert keras_rows["tiny.tflite"]["max_abs_diff"] <= 1e-4
    assert keras_rows["tiny.int8.tflite"]["criterion"] == "top-1>=0.9"
    assert keras_rows["tiny.int8.tflite"]["top1_agree"] >= 0.9
    cross = rows_of(report, "tiny.tflite")
    assert {r["file"] for r in cross} == {"tiny.int8.tflite", "tinyio.int8.onnx"}
    assert all(not r["required"] for r in cross)


def test_random_inputs_follow_batch_and_seed(tiny, capsys):
    argv = [tiny.int8io_tflite, tiny.float_onnx, "--batch", "3", "--against", tiny.keras]
    code, first = run_json([*argv, "--seed", "5"], capsys)
    assert code == 0
    assert first["inputs"] == {"names": ["features"], "data": None, "seed": 5, "samples": 3}
    assert {r["size"] for r in first["rows"]} == {3 * 4}
    code, again = run_json([*argv, "--seed", "5"], capsys)
    assert again == first
    code, other = run_json([*argv, "--seed", "6"], capsys)
    keras_diff = [r["max_abs_diff"] for r in rows_of(other, "Keras")]
    assert keras_diff != [r["max_abs_diff"] for r in rows_of(first, "Keras")]


def test_float_data_is_quantized_as_tflite_does(tiny, tmp_path):
    # The float-io model quantizes its input with LiteRT's own QUANTIZE kernel; verify's
    # quantization for the int8-io model (same calibration, same parameters) must feed it the
    # same int8 values, including exact halves and values past the range.
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    inner = Interpreter(
        model_path=str(tiny.int8_tflite),
        experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
        experimental_preserve_all_tensors=True,
    )
    detail = Interpreter(model_path=str(tiny.int8io_tflite)).get_input_details()[0]
    scale, zero_point = detail["quantization"]
    steps = np.array([-200.5, -3.5, -0.5, 0.5, 1.5, 2.5, 7.49, 300.0], np.float32)
    x = np.resize(steps * np.float32(scale), (8, 6)).astype(np.float32)
    inner.resize_tensor_input(0, x.shape)
    inner.allocate_tensors()
    inner.set_tensor(0, x)
    inner.invoke()
    quantize_op = read_model(tiny.int8_tflite.read_bytes()).subgraphs[0].operators[0]
    assert quantize_op.name == "QUANTIZE"
    expected = inner.get_tensor(quantize_op.outputs[0])
    got = verify.quantize(x, scale, zero_point, np.int8)
    np.testing.assert_array_equal(got, expected)
    assert got.min() == -128 and got.max() == 127  # saturated


# ------------------------------------------------------------------------- disagreement
def _negate_weights(path, out, op_index):
    """A copy of ``path`` whose int8 weights of operator ``op_index`` are negated in place:
    the file still loads and runs, but computes something else."""
    content = bytearray(path.read_bytes())
    sg = read_model(bytes(content)).subgraphs[0]
    op = sg.operators[op_index]
    weights = sg.tensors[op.inputs[1]]
    assert weights.dtype == np.int8
    original = bytes(weights.data)
    start = content.find(original)
    assert start > 0 and content.find(original, start + 1) == -1
    values = np.frombuffer(original, np.int8).astype(np.int16)
    content[start : start + len(original)] = np.clip(-values, -128, 127).astype(np.int8).tobytes()
    out.write_bytes(bytes(content))
    return out


def test_tampered_int8_weights_fail_against_keras(tiny, tmp_path, capsys):
    ops = read_model(tiny.int8_tflite.read_bytes()).subgraphs[0].operators
    last_fc = max(i for i, op in enumerate(ops) if op.name == "FULLY_CONNECTED")
    tampered = _negate_weights(tiny.int8_tflite, tmp_path / "tampered.int8.tflite", last_fc)
    argv = [tampered, "--data", tiny.data, "--against", tiny.keras]
    code, out, err = run(argv, capsys)
    assert code == 1, out + err
    assert "FAIL" in out and "required comparison" in out
    code, report = run_json(argv, capsys)
    assert code == 1 and report["ok"] is False
    # Both runtimes run the same (wrong) file alike; only Keras tells that it is wrong.
    (ref,) = rows_of(report, "LiteRT (ref)")
    assert ref["status"] == "OK"
    (against,) = rows_of(report, "Keras")
    assert against["status"] == "FAIL" and against["top1_agree"] < 0.9


def test_tampered_onnx_initializer_fails_against_keras(tiny, tmp_path, capsys):
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(tiny.float_onnx))
    kernel = max(
        (t for t in model.graph.initializer if numpy_helper.to_array(t).ndim == 2),
        key=lambda t: list(model.graph.initializer).index(t),
    )
    kernel.CopyFrom(numpy_helper.from_array(-numpy_helper.to_array(kernel), kernel.name))
    tampered = tmp_path / "tampered.onnx"
    onnx.save(model, str(tampered))
    code, report = run_json([tampered, "--data", tiny.data, "--against", tiny.keras], capsys)
    assert code == 1
    (ort,) = rows_of(report, "onnxruntime")
    assert ort["status"] == "OK"
    (against,) = rows_of(report, "Keras")
    assert against["status"] == "FAIL" and against["max_abs_diff"] > 1e-4


def test_our_runtime_off_by_one_lsb_fails_tflite_but_not_onnx(tiny, monkeypatch, capsys):
    # Bit-exact is required against LiteRT's reference kernels; 1 LSB is allowed against
    # onnxruntime, 2 are not.
    real = verify._run_ours
    shift = {"lsb": 1}

    def off_by(f, feeds):
        outputs = real(f, feeds)
        return [
            np.clip(o.astype(np.int16) + shift["lsb"], -128, 127).astype(o.dtype) for o in outputs
        ]

    monkeypatch.setattr(verify, "_run_ours", off_by)
    code, report = run_json([tiny.int8io_tflite, tiny.int8io_onnx], capsys)
    assert code == 1
    (ref,) = rows_of(report, "LiteRT (ref)")
    assert ref["status"] == "FAIL" and ref["max_lsb"] == 1
    (ort,) = rows_of(report, "onnxruntime")
    assert ort["status"] == "OK" and ort["max_lsb"] == 1 and ort["int8_differ"] > 0
    shift["lsb"] = 2
    code, report = run_json([tiny.int8io_onnx], capsys)
    assert code == 1
    (ort,) = rows_of(report, "onnxruntime")
    assert ort["status"] == "FAIL" and ort["max_lsb"] == 2


def test_a_reference_runtime_refusing_the_file_is_a_failure(tiny, monkeypatch, capsys):
    import onnxruntime

    def refuse(*args, **kwargs):
        raise RuntimeError("[ONNXRuntimeError] : 1 : FAIL : cannot load\n  model")

    monkeypatch.setattr(onnxruntime, "InferenceSession", refuse)
    code, report = run_json([tiny.int8_tflite, tiny.int8_onnx], capsys)
    assert code == 1
    (ort,) = rows_of(report, "onnxruntime")
    assert (
        ort["status"]
        == "FAIL: onnxruntime error: [ONNXRuntimeError] : 1 : FAIL : cannot load model"
    )
    assert {r["status"] for r in rows_of(report, "LiteRT (ref)")} == {"OK"}


def test_files_of_the_same_name_are_told_apart(tiny, tmp_path, capsys):
    (tmp_path / "copy").mkdir()
    twin = shutil.copy(tiny.int8_tflite, tmp_path / "copy" / tiny.int8_tflite.name)
    code, report = run_json([tiny.int8_tflite, twin], capsys)
    assert code == 0
    name = tiny.int8_tflite.name
    original = f"{tiny.dir.name}/{name}"  # the shortest path tail that tells them apart
    assert {r["file"] for r in report["rows"]} == {original, f"copy/{name}"}
    (cross,) = rows_of(report, f"vs {original}")
    assert cross["max_lsb"] == 0 and cross["int8_differ"] == 0


def test_tolerance_options_decide_the_keras_rows(tiny, capsys):
    argv = [tiny.float_tflite, tiny.int8_tflite, "--data", tiny.data, "--against", tiny.keras]
    code, report = run_json([*argv, "--tolerance", "0", "--quantized-tolerance", "1e-6"], capsys)
    keras_rows = {r["file"]: r for r in rows_of(report, "Keras")}
    quantized = keras_rows["tiny.int8.tflite"]
    assert quantized["criterion"] == "top-1>=0.9, abs<=1e-06" and quantized["status"] == "FAIL"
    assert code == 1
    code, report = run_json([*argv, "--min-top1", "1.0", "--tolerance", "1e-3"], capsys)
    assert code == 0
    assert {r["status"] for r in rows_of(report, "Keras")} == {"OK"}


# ------------------------------------------------------------------------ inputs and names
def test_two_input_model_by_name_and_by_position(pair, tmp_path, capsys):
    d, cal = pair["dir"], pair["calibration"]
    files = [d / "pair.tflite", d / "pair.onnx", d / "pair.int8.tflite", d / "pair.int8.onnx"]
    named = tmp_path / "named.npz"
    np.savez(named, right=cal["right"][:16], left=cal["left"][:16])
    code, report = run_json([*files, "--data", named, "--against", d / "pair.keras"], capsys)
    assert code == 0, report
    assert report["inputs"]["matched"] == "by name"
    outputs = {r["output"] for r in rows_of(report, "Keras")}
    assert outputs == {"score", "value"}
    value = [r for r in rows_of(report, "Keras") if r["output"] == "value"]
    # A one-unit output of a quantized file has no top-1: reported, not required.
    assert {r["status"] for r in value if "int8" in r["file"]} == {"info"}
    positional = tmp_path / "positional.npz"
    np.savez(positional, cal["left"][:16], cal["right"][:16])  # arr_0, arr_1
    code, again = run_json([*files, "--data", positional, "--against", d / "pair.keras"], capsys)
    assert code == 0 and again["inputs"]["matched"] == "by position"
    assert again["inputs"]["keys"] == ["arr_0", "arr_1"]
    assert [r["max_abs_diff"] for r in again["rows"]] == [r["max_abs_diff"] for r in report["rows"]]


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"up": np.zeros((4, 3), "f4"), "down": np.zeros((4, 5), "f4")}, "no array for input"),
        ({"left": np.zeros((4, 3), "f4"), "right": np.zeros((4, 6), "f4")}, "shape (4, 6)"),
        ({"left": np.zeros((4, 3), "f4"), "right": np.zeros((3, 5), "f4")}, "batch sizes"),
        ({"left": np.zeros((4, 3, 1), "f4"), "right": np.zeros((4, 5), "f4")}, "expects"),
        ({"left": np.array([["a"] * 3] * 4), "right": np.zeros((4, 5), "f4")}, "dtype"),
    ],
    ids=["names", "width", "batch", "rank", "strings"],
)
def test_bad_data_is_a_usage_error(pair, tmp_path, capsys, arrays, message):
    data = tmp_path / "bad.npz"
    np.savez(data, **arrays)
    code, out, err = run([pair["dir"] / "pair.tflite", "--data", data], capsys)
    assert code == 2 and out == ""
    assert err.startswith("compile verify: error: ") and err.count("\n") == 1
    assert message in err and "bad.npz" in err


def test_ambiguous_arrays_for_a_one_input_model_are_a_usage_error(tiny, capsys):
    from tests.compiler.verify.conftest import FIXTURES

    code, out, err = run([tiny.int8_tflite, "--data", FIXTURES / "mlp_multi.io.npz"], capsys)
    assert code == 2 and out == ""
    assert "no array for input(s) ['features']; it holds ['x0', 'x1', 'y0', 'y1']" in err
    assert "by position as x0)" in err


def test_int_data_out_of_int8_range_is_a_usage_error(tiny, tmp_path, capsys):
    data = tmp_path / "ints.npz"
    np.savez(data, features=np.full((2, 6), 300, np.int32))
    code, out, err = run([tiny.int8io_tflite, "--data", data], capsys)
    assert code == 2 and "do not fit its int8 type" in err and "'features'" in err


@pytest.mark.parametrize("kind", ["missing", "garbage", "truncated", "suffix", "npz"])
def test_unreadable_files_are_usage_errors(tiny, tmp_path, capsys, kind):
    argv = [tiny.int8_tflite]
    if kind == "missing":
        argv = [tmp_path / "absent.tflite"]
    elif kind == "garbage":
        (tmp_path / "junk.onnx").write_bytes(b"\x08\x07not a protobuf" * 3)
        argv = [tmp_path / "junk.onnx"]
    elif kind == "truncated":
        cut = tmp_path / "cut.tflite"
        cut.write_bytes(tiny.int8_tflite.read_bytes()[:300])
        argv = [cut]
    elif kind == "suffix":
        shutil.copy(tiny.int8_tflite, tmp_path / "model.bin")
        argv = [tmp_path / "model.bin"]
    else:
        (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not really a zip")
        argv += ["--data", tmp_path / "bad.npz"]
    code, out, err = run(argv, capsys)
    assert code == 2 and out == ""
    assert err.startswith("compile verify: error: ") and err.count("\n") == 1
    named = {"missing": "absent.tflite", "garbage": "junk.onnx", "truncated": "cut.tflite"}
    named |= {"suffix": "model.bin", "npz": "bad.npz"}
    assert named[kind] in err


def test_usage_errors_and_help(tiny, pair, capsys):
    code, out, err = run([], capsys)
    assert code == 2 and "FILE" in err
    code, out, err = run([tiny.int8_tflite, "--batch", "0"], capsys)
    assert code == 2 and "--batch" in err
    code, out, err = run([tiny.int8_tflite, "--batch", str(10**12)], capsys)
    assert code == 2 and "would take 24,000,000,000,000 bytes; the limit is" in err
    code, out, err = run([tiny.int8_tflite, "--against", tiny.dir / "none.keras"], capsys)
    assert code == 2 and "none.keras" in err
    code, out, err = run([tiny.int8_tflite, "--against", pair["dir"] / "pair.keras"], capsys)
    assert code == 2 and "tiny.int8.tflite has inputs ['features']" in err
    assert "pair.keras has ['left', 'right']" in err
    code, out, err = run(["--help"], capsys)
    assert code == 0
    for text in ("--data", "--against", "--tolerance", "--min-top1", "BUILTIN_REF", "x0..xN"):
        assert text in out
    assert "exit status" in out and "round" in out and "half away from zero" in out


def test_missing_optional_runtimes_give_skipped_rows(tiny, monkeypatch, capsys):
    # A None entry in sys.modules makes `import` raise ImportError, as if not installed.
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    files = [tiny.int8_tflite, tiny.int8_onnx]
    code, out, err = run([*files, "--data", tiny.data, "--against", tiny.keras], capsys)
    assert code == 0, out + err
    assert "skipped: ai_edge_litert not installed" in out
    assert "skipped: onnxruntime not installed" in out
    code, report = run_json(files, capsys)
    skipped = [r for r in report["rows"] if r["status"].startswith("skipped")]
    assert len(skipped) == 3 and not any(r["required"] for r in skipped)


# ------------------------------------------------------------------ real converter outputs
FIXTURE_FILES = {
    "slide_cnn": ["int8.tflite", "tf2onnx.onnx", "ort_qdq.onnx", "float.tflite"],
    "mlp_multi": ["int8.tflite", "tf2onnx.onnx", "dynamic.tflite"],
    "ops_zoo": ["int8.tflite", "tf2onnx.onnx", "ort_qdq.onnx"],
    "lstm_text": ["float.tflite", "tf2onnx.onnx"],
}


@pytest.mark.parametrize("name", sorted(FIXTURE_FILES))
def test_real_converter_files_agree(name, capsys):
    from tests.compiler.verify.conftest import FIXTURES

    files = [FIXTURES / f"{name}.{suffix}" for suffix in FIXTURE_FILES[name]]
    argv = [*files, "--data", FIXTURES / f"{name}.io.npz", "--against", FIXTURES / f"{name}.keras"]
    code, report = run_json(argv, capsys)
    assert code == 0, [r for r in report["rows"] if r["status"] != "OK"]
    # x0.. keys against TFLiteConverter's input names; y0.. (Keras's outputs) are not inputs.
    assert report["inputs"]["matched"] == "by position"
    assert report["inputs"]["keys"] == [f"x{i}" for i in range(len(report["inputs"]["names"]))]
    assert report["inputs"]["ignored"] == [f"y{i}" for i in range(len(report["inputs"]["ignored"]))]
    for row in rows_of(report, "LiteRT (ref)"):
        assert row["status"] == "OK"
        if "int8" in row["file"]:
            assert row["max_lsb"] == 0 and row["int8_differ"] == 0
    if name == "mlp_multi":  # the file lists b before a; x0, x1 are Keras's a, b
        assert report["inputs"]["names"] == ["a", "b"]
    keras_rows = rows_of(report, "Keras")
    assert len(keras_rows) == len(files) * (2 if name == "mlp_multi" else 1)
    for row in keras_rows:
        if row["criterion"].startswith("abs"):
            assert row["max_abs_diff"] <= 1e-4


def test_real_int8_file_inputs_are_quantized_from_float_data(capsys):
    # slide_cnn.int8.tflite takes int8 input (scale ~0.037, zero point -5); the npz holds
    # floats. Fed through verify they must give what Keras's y0 predicts, to int8 precision.
    from tests.compiler.verify.conftest import FIXTURES

    path = FIXTURES / "slide_cnn.int8.tflite"
    code, report = run_json([path, "--data", FIXTURES / "slide_cnn.io.npz"], capsys)
    assert code == 0
    f = verify.load_file(path)
    x = np.load(FIXTURES / "slide_cnn.io.npz")["x0"]
    (port,) = f.inputs
    q = verify.quantize(x, port.scale, port.zero_point, np.int8)
    (out,) = verify._run_ours(f, {port.key: q})
    y = verify.dequantize(out, f.outputs[0])
    expected = np.load(FIXTURES / "slide_cnn.io.npz")["y0"]
    assert np.abs(y - expected).max() <= 2 * f.outputs[0].scale


# ------------------------------------------------------------------------------- top-1 rule
def _top1(ours, reference):
    int8 = verify.Port("probs", 0, (None, 4), np.dtype("int8"), scale=1 / 256, zero_point=-128)
    keras = verify.Port("keras", 0, (None, 4), np.dtype("float32"))
    row = verify.Row("f", "probs", "ours vs Keras")
    ours, reference = np.array(ours, np.int8), np.array(reference, np.float32)
    return verify._measure(row, ours, reference, int8, keras).top1_agree


def test_top1_counts_classes_tied_in_int8_but_not_flat_outputs():
    keras = [[0.1, 0.1, 0.39, 0.41]]
    assert _top1([[-102, -102, -28, -28]], keras) == 1.0  # 2 and 3 tied in int8: 3 is among
    assert _top1([[-102, -102, -27, -28]], keras) == 0.0  # one LSB apart is not a tie
    assert _top1([[-64, -64, -64, -64]], keras) == 0.0  # all tied: no top class
    assert _top1([[-64, -64, -64, -64], [0, 1, 2, 3]], [[0.25] * 4, [0, 0, 0, 1]]) == 1.0


def test_runtimes_are_imported_only_for_their_format(tiny):
    # onnxruntime and onnx cost seconds to import; a .tflite-only check must not pay for
    # them, nor for the frontend without --against.
    code = (
        "import sys\n"
        "from compiler import verify\n"
        f"assert verify.main([{str(tiny.int8_tflite)!r}, '--json']) == 0\n"
        "heavy = ('onnxruntime', 'onnx', 'ai_edge_litert', 'compiler.keras')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "['ai_edge_litert']"


def test_int8_data_is_fed_as_is_and_dequantized_for_keras(tiny, tmp_path, capsys):
    # The same samples given as floats and as their int8 codes: the int8-io file sees the
    # same int8 values, and Keras sees the dequantized codes (so it differs only within them).
    f = verify.load_file(tiny.int8io_tflite)
    (port,) = f.inputs
    x = np.load(tiny.data)["features"]
    codes = verify.quantize(x, port.scale, port.zero_point, np.int8)
    np.savez(tmp_path / "codes.npz", features=codes)
    common = [tiny.int8io_tflite, "--against", tiny.keras]
    code, from_floats = run_json([*common, "--data", tiny.data], capsys)
    assert code == 0
    code, from_codes = run_json([*common, "--data", tmp_path / "codes.npz"], capsys)
    assert code == 0
    for a, b in zip(from_floats["rows"], from_codes["rows"]):
        if a["compared"] != "ours vs Keras":
            assert a == b
    (keras_row,) = rows_of(from_codes, "Keras")
    assert keras_row["top1_agree"] >= 0.9
