"""16x8 models (int16 activations, int8 weights, int64 biases): every tensor of our runtime
equals LiteRT's reference kernels, the ONNX file is QDQ int16 at opset 21 that onnxruntime
runs, and the parameters follow TFLite's 16x8 quantizer."""

import numpy as np
import onnx
import pytest

import compiler
import runtime
from compiler import keras
from compiler.driver import OptionError
from compiler.export.errors import ExportError
from compiler.export.onnx import write_onnx
from compiler.export.tflite import write_tflite
from compiler.lower import lower_model
from compiler.passes import PassManager, default_passes
from compiler.quantize import QuantizationError, calibration_batches, quantize_graph
from compiler.quantize.calibrate import collect_ranges
from compiler.quantize.int8 import float_islands
from compiler.quantize.params import round_half_away
from runtime.tflite.model import read_model
from runtime.tflite.schema import BuiltinOperator
from tests._oracles import LITERT, ONNXRUNTIME, require
from tests.fixtures import KERAS3
from tests.runtime.onnx.helpers import ort_session
from tests.runtime.tflite._litert import compare_all_tensors, litert_interpreter

litert = require("ai_edge_litert.interpreter", LITERT)
ort = require("onnxruntime", ONNXRUNTIME)

MODELS = ["slide_cnn", "mlp_multi", "ops_zoo"]


def _float_graph(model):
    return PassManager(default_passes()).call(lower_model(model)).graph


def _inputs(graph, count, seed):
    rng = np.random.default_rng(seed)
    return {
        v.name: rng.standard_normal((count, *v.shape[1:])).astype(np.float32) for v in graph.inputs
    }


def _feed(it, feeds):
    for d in it.get_input_details():
        it.resize_tensor_input(d["index"], list(feeds[d["name"]].shape))
    it.allocate_tensors()
    for d in it.get_input_details():
        x = feeds[d["name"]]
        if d["dtype"] == np.int16:
            scale, _ = d["quantization"]
            x = np.clip(round_half_away(x / np.float32(scale)), -32768, 32767)
        it.set_tensor(d["index"], x.astype(d["dtype"]))
    it.invoke()
    return {d["name"]: it.get_tensor(d["index"]) for d in it.get_output_details()}


@pytest.fixture(
    scope="module",
    params=[(m, io) for m in MODELS for io in ("float", "int16")],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
def quantized(request):
    name, io = request.param
    model = keras.models.load_model(KERAS3 / f"{name}.keras")
    graph = _float_graph(model)
    q = quantize_graph(graph, "int16x8", _inputs(graph, 32, seed=1), io=io)
    return model, graph, q, write_tflite(q), io


def test_every_tensor_equals_litert_reference_kernels(quantized):
    _, graph, q, tflite, io = quantized
    assert not float_islands(q)
    ours = runtime.Interpreter(model_content=tflite, experimental_preserve_all_tensors=True)
    ref = litert_interpreter(model_content=tflite)
    feeds = _inputs(graph, 3, seed=2)
    _feed(ours, feeds)
    _feed(ref, feeds)
    assert compare_all_tensors(ours, ref) >= len(q.ops)
    if io == "int16":
        assert all(d["dtype"] == np.int16 for d in ours.get_input_details())
        assert all(d["dtype"] == np.int16 for d in ours.get_output_details())


def test_outputs_are_closer_to_the_float_model_than_int8(quantized):
    model, graph, _, _, io = quantized
    feeds = _inputs(graph, 16, seed=3)
    names = [v.name for v in graph.inputs]
    expected = model.predict([feeds[n] for n in names] if len(names) > 1 else feeds[names[0]])
    expected = expected if isinstance(expected, list) else [expected]
    errors = {}
    for mode in ("int16x8", "int8"):
        # Calibrated on the inputs it runs: what remains is rounding, not clipping.
        q = quantize_graph(graph, mode, feeds)
        out = _feed(runtime.Interpreter(model_content=write_tflite(q)), feeds)
        errors[mode] = [np.abs(out[v.name] - want) for v, want in zip(q.outputs, expected)]
    for e16, e8, want in zip(errors["int16x8"], errors["int8"], expected):
        # Both have int8 weights; int16 activations remove most of the remaining error.
        assert e16.mean() < e8.mean()
        assert e16.max() <= 0.01 * max(np.abs(want).max(), 1e-3)


def test_onnx_is_int16_qdq_at_opset_21_and_agrees(quantized):
    _, graph, q, tflite, io = quantized
    data = write_onnx(q, opset=21)
    model = onnx.load_from_string(data)
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == 21
    q_types = {
        init.data_type for init in model.graph.initializer if init.name.endswith("/zero_point")
    }
    assert onnx.TensorProto.INT16 in q_types
    feeds = _inputs(graph, 8, seed=4)
    tfl = _feed(runtime.Interpreter(model_content=tflite), feeds)
    session = ort_session(model)
    onnx_feeds = {}
    for i in session.get_inputs():
        x = feeds[i.name]
        if i.type == "tensor(int16)":
            scale = [v.quant.scale[0] for v in q.inputs if v.name == i.name][0]
            x = np.clip(round_half_away(x / scale), -32768, 32767).astype(np.int16)
        onnx_feeds[i.name] = x
    expected = session.run(None, onnx_feeds)
    ours = runtime.InferenceSession(data).run(None, onnx_feeds)
    for o, a, b in zip(session.get_outputs(), expected, ours):
        # TFLite rounds in fixed point, ONNX in float: a few int16 steps apart at most; our
        # ONNX runtime and onnxruntime differ by float summation order (one step at most).
        value = [v for v in q.outputs if v.name == o.name][0]
        source = value if value.quant is not None else q.producers()[id(value)].inputs[0]
        step = source.quant.scale[0]
        unit = 1.0 if io == "int16" else step
        np.testing.assert_allclose(b, a, rtol=0, atol=unit * 1.01)
        diff = np.abs(a.astype(np.float64) - tfl[o.name].astype(np.float64)).max()
        assert diff <= 4 * unit + 1e-9, o.name


def test_parameters_follow_the_16x8_spec():
    model = keras.models.load_model(KERAS3 / "ops_zoo.keras")
    graph = _float_graph(model)
    q = quantize_graph(graph, "int16x8", _inputs(graph, 16, seed=1))
    for op in q.ops:
        for v in op.outputs:
            if v.dtype == "int16":
                assert v.quant.zero_point.tolist() == [0] and not v.quant.per_channel
        if op.type in ("SOFTMAX", "LOGISTIC", "TANH"):
            assert op.outputs[0].quant.scale[0] == np.float32(1 / 32768)
        if op.type in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            x, w, b = op.inputs[:3]
            assert x.dtype == "int16" and w.dtype == "int8" and b.dtype == "int64"
            assert w.quant.per_channel and np.all(np.abs(w.data) <= 127)
            expected = np.float32(x.quant.scale[0]) * w.quant.scale
            np.testing.assert_array_equal(b.quant.scale, expected.astype(np.float32))
        if op.type in ("MAX_POOL_2D", "AVERAGE_POOL_2D", "RESHAPE", "PAD"):
            assert op.outputs[0].quant == op.inputs[0].quant
        if op.type == "CONCATENATION":
            assert all(v.quant == op.outputs[0].quant for v in op.inputs)


def test_flatbuffer_versions_and_add_options():
    model = keras.models.load_model(KERAS3 / "ops_zoo.keras")
    graph = _float_graph(model)
    data = write_tflite(quantize_graph(graph, "int16x8", _inputs(graph, 8, seed=1)))
    operators = read_model(data).subgraphs[0].operators
    versions = {BuiltinOperator(op.op).name: op.version for op in operators}
    assert versions["CONV_2D"] == 4 and versions["DEPTHWISE_CONV_2D"] == 5
    assert versions["FULLY_CONNECTED"] == 8 and versions["ADD"] == 3
    assert versions["SOFTMAX"] == 3 and versions["QUANTIZE"] == 2
    adds = [op for op in operators if op.op == BuiltinOperator.ADD]
    assert adds and all(op.options["pot_scale_int16"] is False for op in adds)


def test_precomputed_ranges_give_the_calibrated_model():
    # Ranges learned elsewhere (QAT) enter through ``ranges`` exactly like calibrated ones.
    model = keras.models.load_model(KERAS3 / "slide_cnn.keras")
    graph = _float_graph(model)
    data = _inputs(graph, 16, seed=5)
    ranges = collect_ranges(graph, calibration_batches(graph, data))
    a = write_tflite(quantize_graph(graph, "int16x8", data))
    b = write_tflite(quantize_graph(graph, "int16x8", ranges=ranges))
    assert a == b


def test_ops_without_a_16x8_kernel_stay_float_islands():
    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(3, 3, padding="same")(inputs)
    x = keras.layers.Activation("hard_swish")(x)  # TFLite has no 16x8 HARD_SWISH: island
    x = keras.layers.Conv2D(2, 3)(x)
    x = keras.layers.LeakyReLU(negative_slope=0.2)(x)  # int16
    x = keras.layers.Maximum()([x, keras.layers.Conv2D(2, 1)(x)])  # int16, shared params
    outputs = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, outputs)
    graph = _float_graph(model)
    q = quantize_graph(graph, "int16x8", _inputs(graph, 16, seed=6))
    islands = float_islands(q)
    assert len(islands) == 1 and "HARD_SWISH" in islands[0], islands
    kinds = ("LEAKY_RELU", "MAXIMUM")
    assert sorted((op.type, op.outputs[0].dtype) for op in q.ops if op.type in kinds) == [
        (kind, "int16") for kind in kinds
    ]
    tflite = write_tflite(q)
    ours = runtime.Interpreter(model_content=tflite, experimental_preserve_all_tensors=True)
    ref = litert_interpreter(model_content=tflite)
    feeds = _inputs(graph, 2, seed=7)
    _feed(ours, feeds)
    _feed(ref, feeds)
    compare_all_tensors(ours, ref)


def test_compile_writes_int16x8_files_and_checks_options(tmp_path):
    model = keras.models.load_model(KERAS3 / "slide_cnn.keras")
    calibration = np.random.default_rng(8).standard_normal((8, 28, 28, 1)).astype(np.float32)
    result = compiler.compile(
        model, out_dir=tmp_path, quantize="int16x8", calibration=calibration, io="int16"
    )
    assert {p.name for p in result.files.values()} == {
        f"{result.files['tflite'].stem}.tflite",
        f"{result.files['onnx'].stem}.onnx",
    }
    assert result.files["tflite"].name.endswith(".int16x8.tflite")
    assert result.report.opset == 21
    assert onnx.load(result.files["onnx"]).opset_import[0].version == 21
    it = runtime.Interpreter(model_path=str(result.files["tflite"]))
    assert it.get_input_details()[0]["dtype"] == np.int16
    with pytest.raises(OptionError, match="--io int16 needs --quantize int16x8"):
        compiler.compile(
            model, out_dir=tmp_path, quantize="int8", calibration=calibration, io="int16"
        )
    with pytest.raises(OptionError, match="int16x8 needs --calibration"):
        compiler.compile(model, out_dir=tmp_path, quantize="int16x8")
    with pytest.raises(QuantizationError, match="does not fit"):
        quantize_graph(_float_graph(model), "int16x8", calibration, io="int8")


def test_onnx_below_opset_21_is_refused():
    model = keras.models.load_model(KERAS3 / "slide_cnn.keras")
    graph = _float_graph(model)
    q = quantize_graph(graph, "int16x8", _inputs(graph, 4, seed=9))
    with pytest.raises(ExportError, match="opset 21"):
        write_onnx(q, opset=17)


def test_decoder_with_transposed_convolutions_and_resizes_is_16x8_and_exact():
    inputs = keras.Input((5, 5, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2DTranspose(3, 3, strides=2, padding="same")(x)
    x = keras.layers.UpSampling2D(interpolation="bilinear")(x)
    x = keras.layers.UpSampling2D()(x)
    outputs = keras.layers.Conv2DTranspose(2, 2, strides=1, padding="valid", use_bias=False)(x)
    model = keras.Model(inputs, outputs)
    graph = _float_graph(model)
    q = quantize_graph(graph, "int16x8", _inputs(graph, 16, seed=10))
    assert not float_islands(q)
    kinds = ("TRANSPOSE_CONV", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR")
    assert {(op.type, op.inputs[0].dtype) for op in q.ops if op.type in kinds} == {
        (kind, "int16") for kind in kinds
    }
    tflite = write_tflite(q)
    ours = runtime.Interpreter(model_content=tflite, experimental_preserve_all_tensors=True)
    ref = litert_interpreter(model_content=tflite)
    feeds = _inputs(graph, 2, seed=11)
    _feed(ours, feeds)
    _feed(ref, feeds)
    assert compare_all_tensors(ours, ref) >= len(q.ops)


def test_attention_runs_its_batch_matmuls_in_int16():
    keras.utils.set_random_seed(1)
    inputs = keras.Input((6, 8))
    x = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)(inputs, inputs)
    x = keras.layers.GlobalAveragePooling1D()(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    graph = _float_graph(keras.Model(inputs, outputs))
    q = quantize_graph(graph, "int16x8", _inputs(graph, 16, seed=12))
    assert not float_islands(q)
    assert {op.outputs[0].dtype for op in q.ops if op.type == "BATCH_MATMUL"} == {"int16"}
    tflite = write_tflite(q)
    ours = runtime.Interpreter(model_content=tflite, experimental_preserve_all_tensors=True)
    ref = litert_interpreter(model_content=tflite)
    feeds = _inputs(graph, 2, seed=13)
    _feed(ours, feeds)
    _feed(ref, feeds)
    assert compare_all_tensors(ours, ref) >= len(q.ops)
    # ONNX: onnxruntime's default MatMulNBits fusion (DequantizeLinear int8 weights -> MatMul)
    # computes with int8 activations (accuracy level 4), which int16 activations do not fit;
    # accuracy level 1 (float) keeps the file's arithmetic.
    data = write_onnx(q, opset=21)
    options = ort.SessionOptions()
    options.add_session_config_entry("session.qdq_matmulnbits_accuracy_level", "1")
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    x = feeds[graph.inputs[0].name]
    expected = session.run(None, {graph.inputs[0].name: x})[0]
    ours_onnx = runtime.InferenceSession(data).run(None, {graph.inputs[0].name: x})[0]
    step = q.producers()[id(q.outputs[0])].inputs[0].quant.scale[0]
    np.testing.assert_allclose(ours_onnx, expected, rtol=0, atol=step * 1.01)


def test_embedding_gather_is_int16_unless_a_float_island_reads_it():
    keras.utils.set_random_seed(2)
    tokens = keras.Input((7,), dtype="int32")
    x = keras.layers.Embedding(20, 6)(tokens)
    pooled = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(tokens, keras.layers.Dense(3, activation="softmax")(pooled))
    graph = _float_graph(model)
    ids = np.random.default_rng(3).integers(0, 20, (16, 7)).astype(np.int32)
    q = quantize_graph(graph, "int16x8", {graph.inputs[0].name: ids})
    assert not float_islands(q)
    gathers = [op for op in q.ops if op.type == "GATHER"]
    assert [(op.inputs[0].dtype, op.outputs[0].quant == op.inputs[0].quant) for op in gathers] == [
        ("int16", True)
    ]
    tflite = write_tflite(q)
    ours = runtime.Interpreter(model_content=tflite, experimental_preserve_all_tensors=True)
    ref = litert_interpreter(model_content=tflite)
    for it in (ours, ref):
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], ids[:1])
        it.invoke()
    assert compare_all_tensors(ours, ref) >= len(q.ops)

    # An Embedding feeding an LSTM (a float island in 16x8) keeps its float table.
    lstm = keras.layers.LSTM(4)(keras.layers.Embedding(20, 6)(tokens))
    graph = _float_graph(keras.Model(tokens, lstm))
    q = quantize_graph(graph, "int16x8", {graph.inputs[0].name: ids})
    first = [op for op in q.ops if op.type == "GATHER"][0]
    assert first.inputs[0].dtype == "float32"
