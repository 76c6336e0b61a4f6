"""Structure of the written .tflite: header, buffers, metadata, signature, dynamic batch, op
versions and the deprecated_builtin_code rule, read back with the runtime's own reader."""

import numpy as np
import pytest

from compiler.export.errors import ExportError
from compiler.export.tflite import write_tflite
from compiler.export.tflite._ops import OP_WRITERS, min_runtime_version
from compiler.ir import Graph, QuantParams
from runtime.tflite import schema
from runtime.tflite._flatbuffer import Reader
from runtime.tflite.model import read_model


def _cnn_graph():
    rng = np.random.default_rng(0)
    g = Graph("tiny")
    x = g.add_input("image", (None, 8, 8, 2))
    w = g.const("conv/kernel", rng.normal(size=(3, 3, 3, 2)).astype(np.float32))
    y = g.node("CONV_2D", [x, w], (None, 6, 6, 3), "conv", {"activation": "RELU"})
    shape = g.const("flat/shape", np.array([-1, 108], np.int32))
    y = g.node("RESHAPE", [y, shape], (None, 108), "flat")
    k = g.const("fc/w", rng.normal(size=(4, 108)).astype(np.float32))
    y = g.node("FULLY_CONNECTED", [y, k], (None, 4), "fc")
    y = g.node("SOFTMAX", [y], (None, 4), "probs")
    g.outputs = [y]
    return g


def test_header_buffers_metadata_and_signature():
    data = write_tflite(_cnn_graph())
    assert data[4:8] == b"TFL3"
    model = read_model(data)
    assert model.version == 3
    assert model.description == "kestrel-mobile compiler"
    assert model.metadata["min_runtime_version"] == b"1.5.0".ljust(16, b"\0")
    sig = model.signature_defs[0]
    assert sig.key == "serving_default" and sig.subgraph_index == 0
    assert list(sig.inputs) == ["image"] and list(sig.outputs) == ["probs"]
    root = Reader(data, budget=10 * len(data)).root("Model")
    buffers = root.tables("buffers")
    assert buffers[0].raw_bytes("data") is None  # the empty sentinel
    sub = model.subgraphs[0]
    inp = sub.tensors[sub.inputs[0]]
    assert inp.shape == (1, 8, 8, 2) and inp.shape_signature == (-1, 8, 8, 2)
    for t in sub.tensors:
        if t.buffer:
            assert t.data is not None and len(t.data) > 0


def test_buffer_data_is_16_byte_aligned():
    data = write_tflite(_cnn_graph())
    model = read_model(data)
    base = np.frombuffer(data, np.uint8).ctypes.data
    for t in model.subgraphs[0].tensors:
        if t.data is not None and len(t.data):
            address = np.frombuffer(t.data, np.uint8).ctypes.data - base
            assert address % 16 == 0, t.name


def test_conv_without_bias_gets_a_zero_bias_tensor():
    model = read_model(write_tflite(_cnn_graph()))
    sub = model.subgraphs[0]
    conv = sub.operators[0]
    assert conv.name == "CONV_2D" and len(conv.inputs) == 3
    bias = sub.tensors[conv.inputs[2]]
    assert np.frombuffer(bias.data, np.float32).tolist() == [0.0, 0.0, 0.0]


def test_fully_connected_without_bias_writes_minus_one_and_version_1():
    model = read_model(write_tflite(_cnn_graph()))
    fc = [op for op in model.subgraphs[0].operators if op.name == "FULLY_CONNECTED"][0]
    assert fc.inputs[2] == -1 and fc.version == 1


def _graph_with(op_type, attrs=None, dtype="float32", quant=None, extra_inputs=()):
    g = Graph("one")
    x = g.add_input("x", (None, 4, 4, 2), "float32")
    if dtype != "float32":
        q = g.value("q", (None, 4, 4, 2), dtype, quant=quant)
        g.add_op("QUANTIZE", [x], [q])
        x = q
    y = g.node(op_type, [x, *extra_inputs], (None, 4, 4, 2), "y", attrs, dtype=dtype)
    y.quant = quant
    g.outputs = [y]
    return g


@pytest.mark.parametrize(
    "op_type, dtype, version",
    [
        ("RELU", "float32", 1),
        ("TANH", "float32", 1),
        ("RELU", "int8", 2),
        ("LOGISTIC", "int8", 2),
        ("MAX_POOL_2D", "int8", 2),
    ],
)
def test_op_versions(op_type, dtype, version):
    quant = QuantParams(0.05, -3) if dtype == "int8" else None
    attrs = {"filter": (1, 1)} if op_type == "MAX_POOL_2D" else None
    model = read_model(write_tflite(_graph_with(op_type, attrs, dtype, quant)))
    ops = {op.name: op.version for op in model.subgraphs[0].operators}
    assert ops[op_type] == version


def test_int8_tensors_carry_quantization_parameters():
    quant = QuantParams(0.05, -3)
    model = read_model(write_tflite(_graph_with("RELU", None, "int8", quant)))
    sub = model.subgraphs[0]
    out = sub.tensors[sub.outputs[0]]
    assert out.type == schema.TensorType.INT8
    assert out.quantization.scale.tolist() == pytest.approx([0.05])
    assert out.quantization.zero_point.tolist() == [-3]


def test_per_channel_quantization_writes_quantized_dimension():
    g = Graph("pc")
    x = g.add_input("x", (None, 4, 4, 2))
    w = g.const("w", np.ones((3, 1, 1, 2), np.int8), QuantParams([0.1, 0.2, 0.3], [0, 0, 0], 0))
    wf = g.node("DEQUANTIZE", [w], (3, 1, 1, 2), "wf")
    y = g.node("CONV_2D", [x, wf], (None, 4, 4, 3), "y")
    g.outputs = [y]
    model = read_model(write_tflite(g))
    sub = model.subgraphs[0]
    qw = [t for t in sub.tensors if t.name == "w"][0]
    assert qw.quantization.scale.tolist() == pytest.approx([0.1, 0.2, 0.3])
    assert qw.quantization.quantized_dimension == 0
    deq = [op for op in sub.operators if op.name == "DEQUANTIZE"][0]
    assert deq.version == 5


def test_opcode_above_127_uses_placeholder_in_deprecated_field():
    g = Graph("gelu")
    x = g.add_input("x", (None, 3))
    y = g.node("RELU", [x], (None, 3), "r")
    g.outputs = [g.node("GELU", [y], (None, 3), "g")]
    data = write_tflite(g)
    root = Reader(data, budget=10 * len(data)).root("Model")
    codes = [
        (c.scalar("deprecated_builtin_code"), c.scalar("builtin_code"))
        for c in root.tables("operator_codes")
    ]
    assert codes == [(19, 19), (127, 150)]
    model = read_model(data)
    assert [op.name for op in model.subgraphs[0].operators] == ["RELU", "GELU"]
    assert model.metadata["min_runtime_version"].rstrip(b"\0") == b"2.9.0"


def test_min_runtime_version_is_the_newest_needed():
    B = schema.BuiltinOperator
    assert min_runtime_version([(B.CONV_2D, 1), (B.FULLY_CONNECTED, 5)]) == "2.0.0"
    assert min_runtime_version([(B.CONV_2D, 1), (B.MEAN, 1)]) == "1.6.0"
    assert min_runtime_version([]) == ""


def test_every_writer_names_a_real_options_table():
    for name, writer in OP_WRITERS.items():
        assert writer.options_type in schema.TABLES or writer.options_type == "NONE", name


def test_unwritable_ops_are_rejected_by_name():
    g = Graph("bad")
    x = g.add_input("x", (None, 3))
    y = g.node("DROPOUT", [x], (None, 3), "drop")
    g.outputs = [y]
    with pytest.raises(ExportError, match="drop.*DROPOUT"):
        write_tflite(g)


def test_output_that_is_an_input_is_rejected():
    g = Graph("copy")
    x = g.add_input("x", (None, 3))
    g.outputs = [x]
    with pytest.raises(ExportError, match="'x' must be computed"):
        write_tflite(g)


def test_same_graph_gives_identical_bytes():
    assert write_tflite(_cnn_graph()) == write_tflite(_cnn_graph())


def test_int8_graph_runs_in_litert_reference_kernels():
    """QUANTIZE -> int8 FULLY_CONNECTED (per-channel weights, int32 bias) -> DEQUANTIZE, as
    the quantizer will emit it: LiteRT resolves every op version and computes within one
    output step of the float result."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    rng = np.random.default_rng(4)
    w = rng.normal(size=(3, 5)).astype(np.float32)
    b = rng.normal(size=3).astype(np.float32)
    in_q, out_q = QuantParams(0.05, 0), QuantParams(0.1, -5)
    w_scale = np.abs(w).max(axis=1) / 127
    g = Graph("int8_fc")
    x = g.add_input("x", (None, 5))
    xq = g.value("xq", (None, 5), "int8", quant=in_q)
    g.add_op("QUANTIZE", [x], [xq])
    wq = g.const("w", np.round(w / w_scale[:, None]).astype(np.int8), QuantParams(w_scale))
    bq = g.const("b", np.round(b / (0.05 * w_scale)).astype(np.int32), QuantParams(0.05 * w_scale))
    yq = g.value("yq", (None, 3), "int8", quant=out_q)
    g.add_op("FULLY_CONNECTED", [xq, wq, bq], [yq])
    g.outputs = [g.node("DEQUANTIZE", [yq], (None, 3), "y")]
    data = write_tflite(g)
    versions = {op.name: op.version for op in read_model(data).subgraphs[0].operators}
    assert versions == {"QUANTIZE": 1, "FULLY_CONNECTED": 4, "DEQUANTIZE": 2}
    interp = Interpreter(
        model_content=data, experimental_op_resolver_type=OpResolverType.BUILTIN_REF
    )
    xs = rng.uniform(-3, 3, size=(4, 5)).astype(np.float32)
    got = interp.get_signature_runner()(x=xs)["y"]
    # The same integer arithmetic in numpy; LiteRT's fixed-point multiplier may round the last
    # step differently, so one output step (0.1) is the allowed difference.
    xq_ = np.clip(np.sign(xs / 0.05) * np.floor(np.abs(xs / 0.05) + 0.5), -128, 127)
    acc = xq_ @ wq.data.T.astype(np.int64) + bq.data
    yq_ = np.clip(np.round(acc * (0.05 * w_scale) / 0.1) - 5, -128, 127)
    want = (yq_ + 5) * 0.1
    assert np.abs(got - want).max() <= 0.1 + 1e-6
    assert np.abs(got - (xs @ w.T + b)).max() < 0.5  # and near the float model
