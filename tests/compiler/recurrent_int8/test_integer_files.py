"""Full-int8 recurrent models: the .tflite holds no float tensor, every integer tensor it
declares is what TFLite's integer kernels require, LiteRT's reference kernels run it close to
the float model, our runtime matches them bit for bit, and the .onnx carries the same scales."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import runtime
from compiler.ir._recurrent_kernels import lstm as float_lstm
from runtime.tflite import schema
from runtime.tflite.model import read_model
from tests.compiler.recurrent_int8.helpers import (
    CASES,
    LSTM_CASES,
    build,
    dequantize_output,
    files,
    inputs,
    int8_graph,
    invoke,
    quantize_input,
)
from tests.runtime.onnx.helpers import ort_session
from tests.runtime.tflite._litert import compare_all_tensors, litert_interpreter

_LSTM = schema.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM
# Random weights (std 0.4) on 4 features: the int8 input's step (about 0.03) and the per-tensor
# weights dominate; the outputs lie in about [-1, 1].
FLOAT_TOLERANCE = 0.12


@pytest.fixture(scope="module", params=sorted(CASES))
def compiled(request):
    model = build(request.param)
    tflite, onnx_bytes = files(model)
    return request.param, model, tflite, onnx_bytes


def _subgraph(tflite: bytes):
    (subgraph,) = read_model(tflite).subgraphs
    return subgraph


def test_no_float_tensor_and_litert_is_close_to_float(compiled):
    case, model, tflite, _ = compiled
    subgraph = _subgraph(tflite)
    floats = [t.name for t in subgraph.tensors if t.dtype.kind == "f"]
    assert floats == [], f"{case}: float tensors {floats}"
    names = {op.name for op in subgraph.operators}
    assert not names & {"UNIDIRECTIONAL_SEQUENCE_RNN", "DEQUANTIZE"}
    if case in LSTM_CASES:
        assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in names
    for batch in (7, 1):  # the batch stays dynamic
        x = inputs(batch, seed=3)
        interpreter = litert_interpreter(model_content=tflite)
        first = invoke(interpreter, x).copy()
        interpreter.invoke()  # the states start at zero again
        again = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
        np.testing.assert_array_equal(first, again)
        got = dequantize_output(first, interpreter.get_output_details()[0])
        np.testing.assert_allclose(got, model.predict(x, verbose=0), atol=FLOAT_TOLERANCE)


def _params(tensor):
    q = tensor.quantization
    return np.float32(q.scale[0]), int(q.zero_point[0]), q.scale.size


@pytest.mark.parametrize("case", LSTM_CASES)
def test_integer_lstm_tensors_follow_tflite_rules(case):
    subgraph = _subgraph(files(build(case))[0])
    lstms = [op for op in subgraph.operators if op.op == _LSTM]
    assert lstms
    # op_version.cc: integer LSTM 1, FILL of an int8 / int16 value 3, int8 REVERSE_V2 3.
    versions = {(op.name, op.version) for op in subgraph.operators}
    assert ("UNIDIRECTIONAL_SEQUENCE_LSTM", 1) in versions and ("FILL", 3) in versions
    assert all(v == 3 for name, v in versions if name in ("REVERSE_V2", "FILL"))
    for op in lstms:
        t = subgraph.tensors
        x, out = t[op.inputs[0]], t[op.outputs[0]]
        assert (x.dtype, out.dtype) == (np.int8, np.int8)
        x_scale = _params(x)[0]
        for k in range(8):  # weights: int8, symmetric, one scale
            w = t[op.inputs[1 + k]]
            assert w.dtype == np.int8 and _params(w)[1:] == (0, 1)
            assert np.abs(np.frombuffer(w.data, np.int8)).max() == 127
        for k in range(4):  # biases: int32, scale input * input-to-gate weight
            b, w = t[op.inputs[12 + k]], t[op.inputs[1 + k]]
            assert b.dtype == np.int32 and _params(b)[1] == 0
            assert _params(b)[0] == np.float32(x_scale * _params(w)[0])
        for slot in (9, 10, 11, 16, 17, 20, 21, 22, 23):  # no peephole, projection, norm
            assert op.inputs[slot] == -1
        h, c = t[op.inputs[18]], t[op.inputs[19]]
        assert h.is_variable and c.is_variable
        assert h.dtype == np.int8 and _params(h) == _params(out)
        c_scale, c_zp, _ = _params(c)
        pot = np.log2(c_scale) + 15
        assert c.dtype == np.int16 and c_zp == 0 and pot == int(pot) and 0 <= pot <= 6
        assert len(op.intermediates) == 5
        gates = [t[i] for i in op.intermediates[:4]]
        assert all(g.dtype == np.int16 and _params(g)[1] == 0 for g in gates)
        hidden = t[op.intermediates[4]]
        assert hidden.dtype == np.int8 and _params(hidden) == _params(out)


def test_integer_lstm_computes_what_its_numbers_say():
    """LiteRT's integer LSTM is within one output step of the float LSTM run on the file's own
    numbers (dequantized input, weights and biases): the rules above are the kernel's."""
    model = build("lstm_seq")
    graph = int8_graph(model)
    (op,) = [o for o in graph.ops if o.type == "UNIDIRECTIONAL_SEQUENCE_LSTM"]
    tflite = files(model)[0]
    x = inputs(9, seed=4)
    interpreter = litert_interpreter(model_content=tflite)
    out_detail = interpreter.get_output_details()[0]
    got = dequantize_output(invoke(interpreter, x), out_detail)
    in_detail = interpreter.get_input_details()[0]
    scale, zp = in_detail["quantization"]
    xd = (quantize_input(x, in_detail).astype(np.float32) - zp) * np.float32(scale)
    weights = [v.data.astype(np.float64) * float(v.quant.scale[0]) for v in op.inputs[1:13]]
    expected = float_lstm(xd, *weights, None, cell_activation="TANH", zero_output_for_mask=False)
    step = out_detail["quantization"][0]
    assert np.abs(got - expected).max() <= step


def test_our_runtime_is_bit_exact_with_litert(compiled):
    """Every tensor, intermediates included (needs the runtime's integer LSTM kernel)."""
    _, _, tflite, _ = compiled
    x = inputs(3, seed=5)
    ref = litert_interpreter(model_content=tflite)
    ours = runtime.Interpreter(model_content=tflite, experimental_preserve_all_tensors=True)
    for interpreter in (ref, ours):
        invoke(interpreter, x)
    assert compare_all_tensors(ours, ref) > 0


def test_onnx_has_the_same_scales_and_agrees(compiled):
    case, _, tflite, onnx_bytes = compiled
    proto = onnx.load_from_string(onnx_bytes)
    inits = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    quantized = {
        n.output[0]: (np.float32(inits[n.input[1]]), int(inits[n.input[2]]))
        for n in proto.graph.node
        if n.op_type == "QuantizeLinear" and n.input[1] in inits
    }
    subgraph = _subgraph(tflite)
    shared = [t for t in subgraph.tensors if t.name in quantized and t.quantization is not None]
    assert shared
    for t in shared:
        assert _params(t)[:2] == quantized[t.name], t.name
    out_name = subgraph.tensors[subgraph.outputs[0]].name
    assert out_name in quantized or any(n.output[0] == out_name for n in proto.graph.node)
    x = inputs(7, seed=3)
    interpreter = litert_interpreter(model_content=tflite)
    expected = invoke(interpreter, x).astype(np.int32)
    session = ort_session(proto)
    xq = quantize_input(x, interpreter.get_input_details()[0])
    got = session.run(None, {session.get_inputs()[0].name: xq})[0]
    assert got.dtype == np.int8
    # onnxruntime runs the LSTM in float and its QDQ activations through float: a few steps.
    assert np.abs(got.astype(np.int32) - expected).max() <= 4, case
