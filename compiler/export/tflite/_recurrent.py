"""Recurrent ops, GATHER and REVERSE_V2 as TFLite builtins.

- UNIDIRECTIONAL_SEQUENCE_LSTM (``unidirectional_sequence_lstm.cc``): 24 inputs: 0 input,
  1-4 input-to-{input, forget, cell, output} weights ``[units, in]``, 5-8 recurrent-to-gate
  weights ``[units, units]``, 9-11 peepholes (absent, -1), 12-15 gate biases, 16-17 projection
  (absent), 18 output state and 19 cell state (variable tensors, zero), 20-23 layer-norm
  coefficients (absent). ``time_major`` false; ``fused_activation_function`` is the cell
  activation.
- UNIDIRECTIONAL_SEQUENCE_RNN (``unidirectional_sequence_rnn.cc``): input, weights, recurrent
  weights, bias, hidden state (variable).
- GRU has no builtin: ``prepare_graph`` unrolls it (and every masked recurrent op) into
  builtins (``compiler.passes.unroll_recurrent``) before the writer numbers tensors.

Versions and runtimes from ``op_version.cc`` / ``runtime_version.cc``: float 1, hybrid (int8
weights, float input) 2.
"""

from __future__ import annotations

import numpy as np

from compiler.export.tflite._ops import OpWriter
from compiler.ir import Graph, Op, Value
from compiler.passes.unroll_recurrent import UnrollRecurrentPass
from runtime.tflite import schema

__all__ = ["RECURRENT_WRITERS", "RECURRENT_RUNTIME", "prepare_graph", "operator_inputs"]

_B = schema.BuiltinOperator
_LSTM, _RNN = "UNIDIRECTIONAL_SEQUENCE_LSTM", "UNIDIRECTIONAL_SEQUENCE_RNN"


class StateValue(Value):
    """A recurrent op's state: a TFLite variable tensor (``is_variable``), zero at start."""

    __slots__ = ()
    is_variable = True


def prepare_graph(graph: Graph) -> Graph:
    """A copy of ``graph`` ready for TFLite: GRU and masked recurrent ops unrolled, and each
    LSTM / RNN state made a variable tensor that an op before the recurrent op sets to zero.

    TFLite's fused ops read their initial state from variable tensors and write the final
    state back, and they require the state's batch to equal the input's. A constant zero state
    would carry over from one invoke to the next and could not follow a resized batch; a state
    written as ``MUL(input[:, 0, :1], zeros[units])`` each invoke is zero, shaped
    (batch, units) for whatever batch the input has. (A non-finite first input feature would
    make it NaN; such an input makes the whole sequence NaN anyway.)
    """
    if not any(op.type in (_LSTM, _RNN, "GRU") for op in graph.ops):
        return graph
    g = graph.copy()
    UnrollRecurrentPass(types=("GRU",))(g)
    for op in [op for op in g.ops if op.type in (_LSTM, _RNN)]:
        units = op.inputs[5 if op.type == _LSTM else 2].shape[0]
        tags = ("output_state", "cell_state") if op.type == _LSTM else ("hidden_state",)
        op.attrs["state_values"] = [_zero_state(g, op, tag, units) for tag in tags]
    g.validate()
    return g


def _zero_state(g: Graph, op: Op, tag: str, units: int) -> Value:
    x, base = op.inputs[0], f"{op.outputs[0].name}/{tag}"
    at = g.ops.index(op)
    batch = x.shape[0]
    begin = g.const(f"{base}/begin", np.zeros(3, np.int32))
    size = g.const(f"{base}/size", np.array([-1, 1, 1], np.int32))
    first = g.value(f"{base}/first", (batch, 1, 1))
    g.add_op("SLICE", [x, begin, size], [first], name=first.name, index=at)
    column = g.value(f"{base}/column", (batch, 1))
    shape = g.const(f"{base}/shape", np.array([-1, 1], np.int32))
    g.add_op("RESHAPE", [first, shape], [column], name=column.name, index=at + 1)
    state = StateValue(g.unique_name(base), (batch, units), "float32")
    zeros = g.const(f"{base}/zeros", np.zeros(units, np.float32))
    g.add_op("MUL", [column, zeros], [state], name=state.name, index=at + 2)
    return state


def operator_inputs(op: Op) -> list[Value | None] | None:
    """The TFLite operator inputs of a recurrent op (None for other ops)."""
    if op.type == _LSTM:
        x, w_in, w_rec, bias = op.inputs[0], op.inputs[1:5], op.inputs[5:9], op.inputs[9:13]
        h, c = op.attrs["state_values"]
        return [x, *w_in, *w_rec, None, None, None, *bias, None, None, h, c, None, None, None, None]
    if op.type == _RNN:
        return [*op.inputs[:4], *op.attrs["state_values"]]
    return None


def _hybrid(op: Op, slot: int) -> bool:
    return op.inputs[0].dtype == "float32" and op.inputs[slot].dtype == "int8"


def _act(op: Op) -> int:
    return int(schema.ActivationFunctionType[op.attrs["cell_activation"]])


def _gather_version(op: Op) -> int:
    return 2 if op.inputs[0].dtype == "int8" else 1


RECURRENT_WRITERS = {
    _LSTM: OpWriter(
        _B.UNIDIRECTIONAL_SEQUENCE_LSTM,
        lambda op: {
            "fused_activation_function": _act(op),
            "cell_clip": 0.0,
            "proj_clip": 0.0,
            "time_major": False,
            "asymmetric_quantize_inputs": False,
        },
        lambda op: 2 if _hybrid(op, 2) else 1,
    ),
    _RNN: OpWriter(
        _B.UNIDIRECTIONAL_SEQUENCE_RNN,
        lambda op: {
            "time_major": False,
            "fused_activation_function": _act(op),
            "asymmetric_quantize_inputs": False,
        },
        lambda op: 2 if _hybrid(op, 1) else 1,
    ),
    "GATHER": OpWriter(
        _B.GATHER, lambda op: {"axis": int(op.attrs["axis"]), "batch_dims": 0}, _gather_version
    ),
    "REVERSE_V2": OpWriter(_B.REVERSE_V2, lambda op: {}, lambda op: 1),
}

RECURRENT_RUNTIME = {
    (_B.UNIDIRECTIONAL_SEQUENCE_LSTM, 1): "1.13.1",
    (_B.UNIDIRECTIONAL_SEQUENCE_LSTM, 2): "1.14.0",
    (_B.UNIDIRECTIONAL_SEQUENCE_RNN, 1): "1.14.0",
    (_B.UNIDIRECTIONAL_SEQUENCE_RNN, 2): "1.14.0",
    (_B.GATHER, 1): "1.6.0",
    (_B.GATHER, 2): "1.14.0",
    (_B.REVERSE_V2, 1): "1.14.0",
}
