"""Int8 normalization blocks stay int8 or become float islands by the documented rule
(``compiler.quantize.normalization``): ``auto`` measures each block alone on the calibration
data and keeps it int8 only at ``MIN_SNR_DB`` or more; ``int8`` / ``float`` force it. Both
outcomes run bit-exact in our runtime against LiteRT's reference kernels, and the QDQ
``.onnx`` gets the same islands."""

import numpy as np
import onnx
import pytest

import compiler
import runtime
from compiler import keras
from compiler.driver import OptionError
from compiler.ir import evaluate
from compiler.lower import lower_model
from compiler.passes import PassManager, default_passes
from compiler.quantize import QuantizationError, quantize_graph
from compiler.quantize.calibrate import collect_ranges
from compiler.quantize.normalization import (
    MIN_SNR_DB,
    block_snr_db,
    normalization_blocks,
)
from tests._oracles import LITERT, ONNXRUNTIME, require

litert = require("ai_edge_litert.interpreter", LITERT)
ort = require("onnxruntime", ONNXRUNTIME)

SAMPLES = 64
BLOCK_OPS = {"MEAN", "SQUARED_DIFFERENCE", "ADD", "RSQRT", "SUB", "MUL"}


def _layer_norm_model():
    keras.utils.set_random_seed(0)
    x = keras.Input((16, 32), name="tokens")
    h = keras.layers.LayerNormalization(epsilon=1e-6, name="ln")(x)
    return keras.Model(x, keras.layers.Dense(8, name="head")(h))


def _group_norm_model():
    keras.utils.set_random_seed(0)
    x = keras.Input((6, 6, 8), name="image")
    h = keras.layers.GroupNormalization(groups=2, epsilon=1e-6, name="gn")(x)
    return keras.Model(x, keras.layers.Conv2D(4, 1, name="head")(h))


def _tokens(flat: bool, seed: int = 0) -> np.ndarray:
    """Unit-variance tokens; with ``flat``, a quarter of them nearly constant (as the background
    patches of an image after a patch embedding), which makes RSQRT's range wide."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((SAMPLES, 16, 32)).astype(np.float32)
    if flat:
        offsets = rng.uniform(-1, 1, (SAMPLES, 4, 1))
        x[:, :4] = offsets + 0.02 * rng.standard_normal((SAMPLES, 4, 32))
    return x


def _compile(model, data, tmp_path, mode):
    return compiler.compile(
        model, out_dir=tmp_path / mode, quantize="int8", calibration=data, int8_normalization=mode
    )


def _island_types(result):
    return {island.rsplit(" (", 1)[1].rstrip(")") for island in result.report.float_islands}


def _run(interpreter, x):
    (detail,) = interpreter.get_input_details()
    interpreter.resize_tensor_input(detail["index"], list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(detail["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def _check_files(result, x, onnx_like_tflite=True):
    """Ours bit-exact with LiteRT's reference kernels; the QDQ .onnx opens in onnxruntime and
    (``onnx_like_tflite``) runs like the .tflite; returns the .tflite's output."""
    path = str(result.files["tflite"])
    reference = litert.Interpreter(
        model_path=path, experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF
    )
    expected = _run(reference, x)
    np.testing.assert_array_equal(_run(runtime.Interpreter(model_path=path), x), expected)
    onnx.checker.check_model(onnx.load(str(result.files["onnx"])))
    options = ort.SessionOptions()
    # On x86 CPUs without VNNI onnxruntime rewrites int8 QDQ groups to uint8 x int8 kernels
    # that saturate pairwise sums; keeping them int8 keeps the file's arithmetic.
    options.add_session_config_entry("session.qdqisint8allowed", "1")
    session = ort.InferenceSession(
        str(result.files["onnx"]), options, providers=["CPUExecutionProvider"]
    )
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    if not onnx_like_tflite:
        return expected
    # In ONNX an int8 normalization block is float math between Q / DQ, not LiteRT's integer
    # MEAN / RSQRT kernels: a step of its output apart here and there, a few steps after the
    # next layer. A float island is the same float math in both files.
    span = np.abs(expected).max()
    fraction = 0.01 if result.report.float_islands else 0.06
    np.testing.assert_allclose(got, expected, atol=fraction * span)
    assert np.abs(got - expected).mean() < 0.002 * span
    return expected


def _onnx_float_reduce_means(result) -> int:
    """ReduceMean nodes of the QDQ .onnx that read a float tensor (not a DequantizeLinear's)."""
    graph = onnx.load(str(result.files["onnx"])).graph
    dequantized = {o for n in graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    means = [n for n in graph.node if n.op_type == "ReduceMean"]
    return sum(1 for n in means if n.input[0] not in dequantized)


@pytest.mark.parametrize("flat", [False, True], ids=["even-variance", "flat-tokens"])
def test_auto_follows_the_measured_snr(flat, tmp_path):
    model, x = _layer_norm_model(), _tokens(flat)
    graph = PassManager(default_passes()).call(lower_model(model)).graph
    (block,) = normalization_blocks(graph)
    ranges = collect_ranges(graph, [[x]])
    snr = block_snr_db(block, ranges, [evaluate(graph, [x], keep_all=True)])
    # Both outcomes of the rule are exercised: even tokens are well above, flat ones far below.
    assert (snr < MIN_SNR_DB) == flat, snr

    auto = _compile(model, x, tmp_path, "auto")
    forced_int8 = _compile(model, x, tmp_path, "int8")
    # The measurement is the block's own error: the model's input is the block's input, so the
    # quantization report of the all-int8 model sees the same SNR at the normalized output.
    (report,) = [t for t in forced_int8.quantization_report.tensors if t.name == block.name]
    assert report.snr_db == pytest.approx(snr, abs=1e-6)

    if flat:
        assert _island_types(auto) == BLOCK_OPS
        assert len(auto.report.float_islands) == 7
        assert "float islands (7)" in auto.report.details()
    else:
        assert auto.report.float_islands == []
    assert forced_int8.report.float_islands == []

    float_model = model.predict(x, verbose=0)
    errors = {}
    for mode, result in (("auto", auto), ("int8", forced_int8)):
        # An int8 RSQRT is a float Sqrt / Reciprocal between Q / DQ in ONNX, not LiteRT's
        # integer kernel: where that block is inaccurate, the two files are inaccurate apart.
        out = _check_files(result, x, onnx_like_tflite=not (flat and mode == "int8"))
        errors[mode] = np.linalg.norm(out - float_model) / np.linalg.norm(float_model)
        assert _onnx_float_reduce_means(result) == (2 if mode == "auto" and flat else 0)
    if flat:  # the island is what makes the flat-token model accurate again
        assert errors["auto"] < 0.05 < errors["int8"], errors
    else:
        assert errors["auto"] == errors["int8"] < 0.05, errors


def test_float_makes_every_block_an_island(tmp_path):
    model, x = _layer_norm_model(), _tokens(flat=False)
    result = _compile(model, x, tmp_path, "float")
    assert _island_types(result) == BLOCK_OPS
    assert _onnx_float_reduce_means(result) == 2
    out = _check_files(result, x)
    float_model = model.predict(x, verbose=0)
    assert np.linalg.norm(out - float_model) < 0.05 * np.linalg.norm(float_model)


def test_group_normalization_blocks_follow_the_rule(tmp_path):
    model = _group_norm_model()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((SAMPLES, 6, 6, 8)).astype(np.float32)
    x[:8, :, :, :4] = 0.01 * x[:8, :, :, :4] + 0.5  # some nearly constant groups
    graph = PassManager(default_passes()).call(lower_model(model)).graph
    (block,) = normalization_blocks(graph)
    snr = block_snr_db(block, collect_ranges(graph, [[x]]), [evaluate(graph, [x], keep_all=True)])
    result = _compile(model, x, tmp_path, "auto")
    assert bool(result.report.float_islands) == (snr < MIN_SNR_DB), snr
    forced_float = _compile(model, x, tmp_path, "float")
    assert _island_types(forced_float) == BLOCK_OPS
    _check_files(forced_float, x)
    assert _compile(model, x, tmp_path, "int8").report.float_islands == []
    _check_files(result, x)


def test_unknown_mode_is_refused(tmp_path):
    model, x = _layer_norm_model(), _tokens(flat=False)
    with pytest.raises(OptionError, match="int8-normalization"):
        _compile(model, x, tmp_path, "int16")
    graph = PassManager(default_passes()).call(lower_model(model)).graph
    with pytest.raises(QuantizationError, match="int8_normalization"):
        quantize_graph(graph, "int8", x, int8_normalization="fp32")


def test_cli_option_and_report(tmp_path, capsys):
    from compiler.cli import main

    model, x = _layer_norm_model(), _tokens(flat=False)
    model.save(tmp_path / "ln.keras")
    np.savez(tmp_path / "calibration.npz", tokens=x)
    common = [str(tmp_path / "ln.keras"), "--quantize", "int8", "--report", "-o", str(tmp_path)]
    common += ["--calibration", str(tmp_path / "calibration.npz")]
    assert main([*common, "--int8-normalization", "float"]) == 0
    printed = capsys.readouterr().out
    assert "float islands (7)" in printed and "ln/rsqrt (RSQRT)" in printed
    assert main(common) == 0  # auto: this block is accurate in int8
    assert "float islands" not in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main([*common, "--int8-normalization", "int4"])
