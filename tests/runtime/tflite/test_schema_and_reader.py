"""``runtime.tflite.schema`` against the files the real converter wrote, and reader details."""

import ast
from pathlib import Path

import numpy as np
import pytest

from runtime.tflite import schema
from runtime.tflite.model import read_model
from runtime.tflite.schema import BuiltinOperator as Op
from tests.runtime.tflite._builder import GraphBuilder
from tests.runtime.tflite._litert import FIXTURES, litert_interpreter


def _ops(name):
    model = read_model((FIXTURES / f"{name}.tflite").read_bytes())
    return model, model.subgraphs[0].operators


def test_option_slots_decode_the_converter_values():
    # ops_zoo: Conv2D stride 2 + relu6 (VALID after explicit PAD), DepthwiseConv2D with
    # depth_multiplier 2 + relu, 2x2 pools stride 2, Concatenate on the last axis.
    _, ops = _ops("ops_zoo.float")
    conv = [o for o in ops if o.op == Op.CONV_2D]
    assert conv[0].options["stride_w"] == conv[0].options["stride_h"] == 2
    assert conv[0].options["fused_activation_function"] == schema.ActivationFunctionType.RELU6
    assert conv[0].options["padding"] == schema.Padding.VALID
    assert conv[0].options["dilation_w_factor"] == 1
    dw = next(o for o in ops if o.op == Op.DEPTHWISE_CONV_2D)
    assert dw.options["depth_multiplier"] == 2
    assert dw.options["fused_activation_function"] == schema.ActivationFunctionType.RELU
    pool = next(o for o in ops if o.op == Op.MAX_POOL_2D)
    assert (pool.options["filter_width"], pool.options["filter_height"]) == (2, 2)
    concat = next(o for o in ops if o.op == Op.CONCATENATION)
    assert concat.options["axis"] == -1
    softmax = next(o for o in ops if o.op == Op.SOFTMAX)
    assert softmax.options["beta"] == 1.0


def test_while_options_and_subgraphs_of_lstm_text():
    model, ops = _ops("lstm_text.float")
    loop = next(o for o in ops if o.op == Op.WHILE)
    assert (loop.options["cond_subgraph_index"], loop.options["body_subgraph_index"]) == (1, 2)
    assert len(model.subgraphs) == 3
    body = model.subgraphs[2].operators
    split = next(o for o in body if o.op == Op.SPLIT)
    assert split.options["num_splits"] == 4
    assert len(split.outputs) == 4


def test_quantization_per_axis_and_signature_defs():
    model, _ = _ops("ops_zoo.int8")
    tensors = model.subgraphs[0].tensors
    dw = next(t for t in tensors if "depthwise" in t.name and len(t.shape) == 4)
    assert dw.quantization.quantized_dimension == 3
    assert len(dw.quantization.scale) == dw.shape[3]
    assert np.all(dw.quantization.zero_point == 0)
    x = tensors[model.subgraphs[0].inputs[0]]
    assert x.shape_signature[0] == -1 and x.shape[0] == 1
    sig = model.signature_defs[0]
    assert sig.key == "serving_default" and sig.inputs == {"x": 0}
    assert "min_runtime_version" in model.metadata


def test_operator_code_above_127_uses_the_larger_field():
    assert schema.deprecated_builtin_code(Op.GELU) == 127
    assert schema.deprecated_builtin_code(Op.ADD) == 0
    assert schema.effective_builtin_code(127, int(Op.GELU)) == Op.GELU
    assert schema.effective_builtin_code(int(Op.CONV_2D), 0) == Op.CONV_2D  # old v3 files
    g = GraphBuilder()
    x = g.add([2], name="x")
    y = g.add([2], name="y")
    g.op(Op.ADD, [x, x], [y])
    g.opcodes[0] = (int(Op.CUMSUM), 1)
    g.operators[0].pop("builtin_options")
    g.operators[0].pop("builtin_options_type")
    model = read_model(g.finish([x], [y]))
    assert model.subgraphs[0].operators[0].op == Op.CUMSUM


def test_large_buffer_offset_form_is_read():
    g = GraphBuilder()
    x = g.add([4], name="x")
    c = g.add([4], name="c", data=np.arange(4, dtype=np.float32))
    y = g.add([4], name="y")
    g.op(Op.ADD, [x, c], [y])
    payload = np.array([10, 20, 30, 40], np.float32).tobytes()
    base = g.finish([x], [y])
    # Re-point buffer 1 at bytes appended after the flatbuffer (models over 2 GB do this).
    g.buffers[1] = {"offset": len(base) + 64, "size": len(payload)}
    data = g.finish([x], [y])
    data = data + b"\0" * (len(base) + 64 - len(data)) + payload
    model = read_model(data)
    assert bytes(model.subgraphs[0].tensors[c].data) == payload


def test_schema_written_model_is_accepted_by_litert():
    # Our slots and enums, written by the test builder, are what LiteRT reads.
    g = GraphBuilder()
    x = g.add([1, 5, 5, 2], name="x")
    w = g.add([3, 3, 3, 2], name="w", data=np.ones((3, 3, 3, 2), np.float32))
    b = g.add([3], name="b", data=np.zeros(3, np.float32))
    y = g.add([1, 2, 2, 3], name="y")
    g.op(
        Op.CONV_2D,
        [x, w, b],
        [y],
        {"padding": 1, "stride_w": 2, "stride_h": 2, "fused_activation_function": 3},
    )
    it = litert_interpreter(model_content=g.finish([x], [y]))
    it.allocate_tensors()
    it.set_tensor(0, np.ones((1, 5, 5, 2), np.float32))
    it.invoke()
    np.testing.assert_array_equal(it.get_tensor(y), np.full((1, 2, 2, 3), 6.0, np.float32))


def test_every_table_field_has_consecutive_slots_and_known_types():
    allowed = set(schema.SCALAR_TYPES) | {"string", "table", "vector", "union"}
    for table in schema.TABLES.values():
        assert [f.slot for f in table.fields] == list(range(len(table.fields)))
        for f in table.fields:
            assert f.type in allowed, (table.name, f.name)
            if f.type in ("table",) or (f.type == "vector" and f.element == "table"):
                assert f.ref in schema.TABLES, (table.name, f.name)
    for op, opt in schema.OPTIONS_OF_OP.items():
        assert opt.name in schema.TABLES, op


def test_runtime_never_imports_compiler():
    root = Path(__file__).resolve().parents[3] / "runtime"
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.split(".")[0] == "compiler", f"{path} imports {name}"


@pytest.mark.parametrize("field", ["builtin_options_type", "builtin_options"])
def test_union_takes_two_slots(field):
    op = schema.TABLES["Operator"]
    assert op.field("builtin_options_type").slot == 3
    assert op.field("builtin_options").slot == 4
    assert op.field(field).vtable_offset == 4 + 2 * op.field(field).slot
