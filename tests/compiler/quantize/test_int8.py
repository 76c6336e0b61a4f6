"""Full-int8 models: they run in LiteRT (reference and default kernels), in our runtime
bit-exactly, and as QDQ ONNX in onnxruntime, with the same parameters in both files."""

import numpy as np
import onnx
import pytest

import runtime
from compiler import keras
from compiler.export.onnx import write_onnx
from compiler.export.tflite import write_tflite
from compiler.lower import lower_model
from compiler.passes import PassManager, default_passes
from compiler.quantize import CalibrationError, calibration_batches, quantize_graph
from compiler.quantize.params import round_half_away
from compiler.quantize.report import quantization_report
from tests._oracles import LITERT, ONNXRUNTIME, require
from tests.fixtures import KERAS3
from tests.runtime.onnx.helpers import ort_session

litert = require("ai_edge_litert.interpreter", LITERT)
ort = require("onnxruntime", ONNXRUNTIME)

FIXTURES = KERAS3
MODELS = ["slide_cnn", "mlp_multi", "ops_zoo"]


def _float_graph(name):
    model = keras.models.load_model(FIXTURES / f"{name}.keras")
    return model, PassManager(default_passes()).call(lower_model(model)).graph


def _inputs(graph, count, seed):
    rng = np.random.default_rng(seed)
    return {
        v.name: rng.standard_normal((count, *v.shape[1:])).astype(np.float32) for v in graph.inputs
    }


def _run_tflite(interpreter_cls, content, feeds, **kwargs):
    it = interpreter_cls(model_content=content, **kwargs)
    details = it.get_input_details()
    for d in details:
        it.resize_tensor_input(d["index"], list(feeds[d["name"]].shape))
    it.allocate_tensors()
    for d in it.get_input_details():
        x = feeds[d["name"]]
        if d["dtype"] == np.int8:
            scale, zp = d["quantization"]
            x = np.clip(round_half_away(x / np.float32(scale)) + zp, -128, 127)
        it.set_tensor(d["index"], x.astype(d["dtype"]))
    it.invoke()
    return {d["name"]: it.get_tensor(d["index"]) for d in it.get_output_details()}


@pytest.fixture(
    scope="module",
    params=[(m, io) for m in MODELS for io in ("float", "int8")],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
def quantized(request):
    name, io = request.param
    model, graph = _float_graph(name)
    calibration = _inputs(graph, 64, seed=1)
    q = quantize_graph(graph, "int8", calibration, io=io)
    return model, graph, q, write_tflite(q), write_onnx(q), io


def test_runtime_is_bit_exact_with_litert_reference_kernels(quantized):
    _, graph, _, tflite, _, _ = quantized
    feeds = _inputs(graph, 7, seed=2)
    reference = _run_tflite(
        litert.Interpreter,
        tflite,
        feeds,
        experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF,
    )
    ours = _run_tflite(runtime.Interpreter, tflite, feeds)
    for name, expected in reference.items():
        np.testing.assert_array_equal(ours[name], expected, err_msg=name)


def test_default_litert_kernels_run_it(quantized):
    _, graph, _, tflite, _, _ = quantized
    outputs = _run_tflite(litert.Interpreter, tflite, _inputs(graph, 3, seed=3))
    assert all(np.all(np.isfinite(o)) for o in outputs.values())


def test_onnx_is_qdq_with_the_tflite_parameters_and_agrees(quantized):
    _, graph, q, tflite, onnx_bytes, io = quantized
    model = onnx.load_from_string(onnx_bytes)
    onnx.checker.check_model(model, full_check=True)
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    # Every int8 weight of the TFLite graph is an int8 initializer of the ONNX graph.
    weights = list(
        {
            id(v): v
            for op in q.ops
            for v in op.inputs
            if v is not None and v.is_const and v.dtype == "int8"
        }.values()
    )
    int8_inits = [a for a in inits.values() if a.dtype == np.int8 and a.ndim >= 2]
    assert len(int8_inits) == sum(1 for w in weights if w.rank >= 2)
    for w in weights:
        if w.rank >= 2:
            assert any(
                np.array_equal(np.sort(a, axis=None), np.sort(w.data, axis=None))
                for a in int8_inits
            )
    feeds = _inputs(graph, 32, seed=4)
    tfl = _run_tflite(runtime.Interpreter, tflite, feeds)
    session = ort_session(model)
    onnx_feeds = {}
    for i in session.get_inputs():
        x = feeds[i.name]
        if i.type == "tensor(int8)":
            (scale,), (zp,) = (
                [v.quant.scale for v in q.inputs if v.name == i.name][0],
                [v.quant.zero_point for v in q.inputs if v.name == i.name][0],
            )
            x = np.clip(round_half_away(x / scale) + zp, -128, 127).astype(np.int8)
        onnx_feeds[i.name] = x
    outs = dict(zip([o.name for o in session.get_outputs()], session.run(None, onnx_feeds)))
    for value in q.outputs:
        a, b = tfl[value.name].astype(np.float64), outs[value.name].astype(np.float64)
        source = value if value.quant is not None else q.ops[-1].inputs[0]
        step = source.quant.scale[0]
        # Rounding differs (TFLite: fixed point, ties away; ONNX: float, ties to even), so a
        # few LSB apart at most.
        unit = 1.0 if io == "int8" else step
        assert np.abs(a - b).max() <= 3 * unit + 1e-6, value.name


def test_per_layer_error_is_a_few_quantization_steps(quantized):
    _, graph, _, tflite, _, _ = quantized
    batches = calibration_batches(graph, _inputs(graph, 64, seed=1))
    report = quantization_report(graph, tflite, batches)
    assert report.tensors and report.samples == 64
    for t in report.tensors:
        # One step for rounding, plus what accumulates from the layers before.
        assert t.max_abs_error <= 12 * t.scale, (t.name, t.max_abs_error / t.scale)
        assert t.snr_db > 15, t.name
    assert "SNR dB" in report.table()


def test_fixed_output_parameters_and_shared_pool_parameters():
    _, graph = _float_graph("ops_zoo")
    q = quantize_graph(graph, "int8", _inputs(graph, 32, seed=5))
    by_type = {}
    for op in q.ops:
        by_type.setdefault(op.type, []).append(op)
    for op_type, (scale, zp) in {
        "SOFTMAX": (1 / 256, -128),
        "LOGISTIC": (1 / 256, -128),
        "TANH": (1 / 128, 0),
    }.items():
        for op in by_type[op_type]:
            assert op.outputs[0].quant.scale[0] == np.float32(scale)
            assert op.outputs[0].quant.zero_point[0] == zp
    for op in by_type["MAX_POOL_2D"] + by_type["AVERAGE_POOL_2D"] + by_type["PAD"]:
        assert op.outputs[0].quant == op.inputs[0].quant
    for op in by_type["CONCATENATION"]:
        assert all(v.quant == op.outputs[0].quant for v in op.inputs)
    for op in by_type["DEPTHWISE_CONV_2D"]:
        assert op.inputs[1].quant.quantized_dimension == 3
        assert op.inputs[2].dtype == "int32"


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((4, 28, 28, 3), np.float32), r"input 'input_layer' has shape \(4, 28, 28, 3\)"),
        (np.zeros((0, 28, 28, 1), np.float32), "is empty"),
        (np.full((2, 28, 28, 1), np.inf, np.float32), "NaN or inf"),
        (np.array([["a"]]), "dtype <U1"),
        ([], "empty"),
        ({"a": np.zeros((2, 28, 28, 1)), "b": np.zeros(2)}, "no array for input"),
    ],
)
def test_bad_calibration_data_is_a_clear_error(bad, message):
    _, graph = _float_graph("slide_cnn")
    with pytest.raises(CalibrationError, match=message):
        quantize_graph(graph, "int8", bad)


def test_calibration_methods_give_valid_models_and_differ():
    _, graph = _float_graph("ops_zoo")
    calibration = _inputs(graph, 48, seed=6)
    scales = {}
    for method in ("minmax", "percentile", "mse"):
        q = quantize_graph(graph, "int8", calibration, method=method)
        tflite = write_tflite(q)
        out = _run_tflite(runtime.Interpreter, tflite, _inputs(graph, 4, seed=7))
        assert all(np.all(np.isfinite(o)) for o in out.values())
        scales[method] = [
            v.quant.scale[0]
            for op in q.ops
            for v in op.outputs
            if v.quant is not None and op.type == "CONV_2D"
        ]
    assert scales["percentile"] != scales["minmax"] and scales["mse"] != scales["minmax"]
    assert all(p <= m for p, m in zip(scales["mse"], scales["minmax"]))


def test_iterable_of_batches_equals_one_array():
    _, graph = _float_graph("slide_cnn")
    x = np.random.default_rng(8).random((40, 28, 28, 1)).astype(np.float32)
    whole = write_tflite(quantize_graph(graph, "int8", x))
    batched = write_tflite(quantize_graph(graph, "int8", (x[i : i + 10] for i in range(0, 40, 10))))
    assert whole == batched


def test_fixed_batch_model_calibrates_and_reports_batch_by_batch(tmp_path):
    # lstm_text was saved by Keras with a batch of 1 (TFLiteConverter needs it for RNNs).
    import compiler

    tokens = np.random.default_rng(9).integers(1, 100, (30, 20)).astype(np.int32)
    result = compiler.compile(
        FIXTURES / "lstm_text.keras", out_dir=tmp_path, quantize="int8", calibration=tokens
    )
    report = result.quantization_report
    assert report.samples == 30 and {t.name for t in report.tensors} >= {"embedding", "dense"}
    assert all(t.snr_db > 20 for t in report.tensors)
