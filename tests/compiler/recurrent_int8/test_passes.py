"""The graph steps of the recurrent int8 path: unrolling before calibration, shared step ranges,
and the ONNX export pass that turns the integer LSTM back into QDQ around a float LSTM."""

from __future__ import annotations

import re

import numpy as np

from compiler.ir import evaluate
from compiler.lower.model import lower_model
from compiler.passes import DequantizeIntegerLstmPass, optimize
from compiler.quantize.calibrate import collect_ranges
from compiler.quantize.recurrent import share_step_ranges, unroll_for_int8
from tests.compiler.recurrent_int8.helpers import STEPS, build, files, inputs, int8_graph


def _float_graph(case):
    model = build(case)
    return model, optimize(lower_model(model)).graph


def test_unroll_for_int8_unrolls_gru_and_rnn_only_and_keeps_outputs():
    model, graph = _float_graph("stacked_mixed")
    unrolled = unroll_for_int8(graph)
    types = {op.type for op in unrolled.ops}
    assert "GRU" not in types and "UNIDIRECTIONAL_SEQUENCE_RNN" not in types
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in types
    x = inputs(4, seed=6)
    (expected,) = evaluate(graph, [x])
    (got,) = evaluate(unrolled, [x])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    lstm_only = _float_graph("lstm")[1]
    assert unroll_for_int8(lstm_only) is lstm_only  # nothing to unroll: the graph itself
    names = [v.name for op in unroll_for_int8(graph).ops for v in op.outputs]
    assert names == [v.name for op in unrolled.ops for v in op.outputs]  # deterministic


def test_shared_step_ranges_give_every_step_of_a_role_one_range():
    _, graph = _float_graph("gru_seq_reset_before")
    graph = unroll_for_int8(graph)
    ranges = collect_ranges(graph, [[inputs(32, seed=2)]])
    shared = share_step_ranges(graph, ranges)
    (concat,) = [op for op in graph.ops if op.type == "CONCATENATION"]
    base = concat.outputs[0].name
    roles: dict[str, set] = {}
    for name in ranges:
        if name.startswith(base + "/t"):
            roles.setdefault(re.sub(r"/t\d+/", "/t*/", name), set()).add(shared[name])
    assert roles and all(len(found) == 1 for found in roles.values())
    update_gates = [n for n in ranges if re.fullmatch(re.escape(base) + r"/t\d+/z", n)]
    assert len(update_gates) == STEPS and len({shared[n] for n in update_gates}) == 1
    assert len({ranges[n] for n in update_gates}) > 1  # calibrated alone, they differ
    # The states forming the output sequence share the sequence's own calibrated range.
    assert shared[f"{base}/t{STEPS - 1}/h"] == ranges[base]
    assert share_step_ranges(_float_graph("lstm")[1], ranges) is ranges


def test_int8_gru_sequence_is_copied_not_requantized():
    graph = int8_graph(build("gru_seq_reset_before"))
    assert "QUANTIZE" not in {op.type for op in graph.ops}
    (concat,) = [op for op in graph.ops if op.type == "CONCATENATION"]
    assert all(v.quant == concat.outputs[0].quant for v in concat.inputs)


def test_dequantize_integer_lstm_pass():
    _, float_graph = _float_graph("lstm_seq")
    assert not DequantizeIntegerLstmPass().call(float_graph.copy()).modified
    graph = int8_graph(build("lstm_seq"))
    (lstm,) = [op for op in graph.ops if op.type == "UNIDIRECTIONAL_SEQUENCE_LSTM"]
    out_quant = lstm.outputs[0].quant
    result = DequantizeIntegerLstmPass().call(graph.copy())
    assert result.modified
    g = result.graph
    types = [op.type for op in g.ops]
    assert types == ["DEQUANTIZE", "UNIDIRECTIONAL_SEQUENCE_LSTM", "QUANTIZE"]
    dq, float_op, q = g.ops
    assert "integer" not in float_op.attrs and float_op.inputs[0].dtype == "float32"
    assert all(b.dtype == "float32" for b in float_op.inputs[9:13])
    assert q.outputs[0].quant == out_quant and q.outputs[0] is g.outputs[0]
    # The biases are the int32 values times their scales.
    b = lstm.inputs[10]
    np.testing.assert_allclose(
        float_op.inputs[10].data, b.data * np.float64(b.quant.scale[0]), rtol=1e-6
    )
    assert not DequantizeIntegerLstmPass().call(g).modified


def test_output_bytes_are_deterministic():
    model = build("stacked_mixed")
    assert files(model) == files(model)
