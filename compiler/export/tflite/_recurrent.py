"""Recurrent ops, GATHER and REVERSE_V2 as TFLite builtins.

- UNIDIRECTIONAL_SEQUENCE_LSTM (``unidirectional_sequence_lstm.cc``): 24 inputs: 0 input,
  1-4 input-to-{input, forget, cell, output} weights ``[units, in]``, 5-8 recurrent-to-gate
  weights ``[units, units]``, 9-11 peepholes (absent, -1), 12-15 gate biases, 16-17 projection
  (absent), 18 output state and 19 cell state (variable tensors, zero), 20-23 layer-norm
  coefficients (absent). ``time_major`` false; ``fused_activation_function`` is the cell
  activation.
- UNIDIRECTIONAL_SEQUENCE_RNN (``unidirectional_sequence_rnn.cc``): input, weights, recurrent
  weights, bias, hidden state (variable).
- The integer LSTM (``compiler.quantize.integer_lstm``): int8 input, weights and output, int32
  biases, an int8 output state holding the output's parameters (zero at start is its zero
  point) and an int16 cell state, and the operator's ``intermediates``: the five tensors
  ``op.attrs["integer"]["intermediates"]`` (Prepare refuses any other count).
- GRU has no builtin: it (and every masked recurrent op) must be unrolled into builtins by
  ``compiler.passes.export_passes("tflite")`` before the writer (the compile driver runs them;
  the writer only writes, and refuses such an op).

Versions and runtimes from ``op_version.cc`` / ``runtime_version.cc``: LSTM / RNN float 1,
hybrid (int8 weights, float input) 2, integer (int8 input) 1; REVERSE_V2 int8 3; FILL of an
int8 / int16 value 3.
"""

from __future__ import annotations

import numpy as np

from compiler.export.errors import ExportError
from compiler.export.tflite._ops import OpWriter
from compiler.ir import Graph, Op, Value
from compiler.passes.unroll_recurrent import mask_of
from runtime.tflite import schema

__all__ = [
    "RECURRENT_WRITERS",
    "RECURRENT_RUNTIME",
    "prepare_graph",
    "operator_inputs",
    "operator_intermediates",
]

_B = schema.BuiltinOperator
_LSTM, _RNN = "UNIDIRECTIONAL_SEQUENCE_LSTM", "UNIDIRECTIONAL_SEQUENCE_RNN"


class StateValue(Value):
    """A recurrent op's state: a TFLite variable tensor (``is_variable``), zero at start."""

    __slots__ = ()
    is_variable = True


def prepare_graph(graph: Graph) -> Graph:
    """A copy of ``graph`` ready for TFLite: each LSTM / RNN state a variable tensor written,
    before the op, by ``FILL(dims, 0.0)`` with ``dims = CONCATENATION(SHAPE(input)[:1],
    [units])``. A GRU or a masked recurrent op (unrolled by ``compiler.passes.export_passes``
    before a writer sees the graph) raises ``ExportError``.

    TFLite's fused ops read their initial state from variable tensors and write the final
    state back into them. A plain zero variable would carry one invoke's final state into the
    next, and LiteRT allocates variable tensors once, at the batch of the file: after
    ``resize_tensor_input`` of the batch the op writes past the state's memory (wrong
    results). A FILL with computed dims makes the state a dynamic tensor instead: zero at each
    invoke, reallocated at the input's batch, and the fused op is prepared again after it.
    """
    for op in graph.ops:
        if op.type == "GRU" or (op.type in (_LSTM, _RNN) and mask_of(op) is not None):
            why = (
                "has no TFLite builtin"
                if op.type == "GRU"
                else "has a mask, which TFLite's fused op has no input for"
            )
            raise ExportError(
                f"op {op.name} ({op.type}) {why}: unroll it first with "
                "compiler.passes.prepare_for_export(graph, 'tflite') (compiler.compile does)"
            )
    if not any(op.type in (_LSTM, _RNN) for op in graph.ops):
        return graph
    g = graph.copy()
    for op in [op for op in g.ops if op.type in (_LSTM, _RNN)]:
        units = op.inputs[5 if op.type == _LSTM else 2].shape[0]
        tags = ("output_state", "cell_state") if op.type == _LSTM else ("hidden_state",)
        op.attrs["state_values"] = _zero_states(g, op, tags, units, _state_types(op))
    g.validate()
    return g


def _state_types(op: Op) -> list[tuple[str, object]]:
    """(dtype, quantization parameters) of each state: float, or the integer LSTM's."""
    integer = op.attrs.get("integer")
    if integer is None:
        return [("float32", None)] * (2 if op.type == _LSTM else 1)
    return [("int8", integer["output_state"]), ("int16", integer["cell_state"])]


def _zero_states(g: Graph, op: Op, tags, units: int, types) -> list[Value]:
    x, base = op.inputs[0], op.outputs[0].name
    added: list[Value] = []

    def add(type_, inputs, out: Value) -> Value:
        g.add_op(type_, inputs, [out], name=out.name, index=g.ops.index(op))
        added.append(out)
        return out

    shape = add("SHAPE", [x], g.value(f"{base}/input_shape", (x.rank,), "int32"))
    begin = g.const(f"{base}/batch_begin", np.zeros(1, np.int32))
    size = g.const(f"{base}/batch_size", np.ones(1, np.int32))
    batch = add("SLICE", [shape, begin, size], g.value(f"{base}/batch", (1,), "int32"))
    width = g.const(f"{base}/units", np.array([units], np.int32))
    dims = add("CONCATENATION", [batch, width], g.value(f"{base}/state_dims", (2,), "int32"))
    states = []
    for tag, (dtype, quant) in zip(tags, types):
        # Real zero: the zero point of an integer state; FILL's value must have rank 0
        # (Graph.const would make it 1-D) and, quantized, the output's parameters.
        zp = 0 if quant is None else int(quant.zero_point[0])
        zero = Value(
            g.unique_name(f"{base}/{tag}_zero"), None, data=np.array(zp, dtype), quant=quant
        )
        state = StateValue(g.unique_name(f"{base}/{tag}"), (x.shape[0], units), dtype, quant=quant)
        states.append(add("FILL", [dims, zero], state))
    return states


def operator_inputs(op: Op) -> list[Value | None] | None:
    """The TFLite operator inputs of a recurrent op (None for other ops)."""
    if op.type == _LSTM:
        x, w_in, w_rec, bias = op.inputs[0], op.inputs[1:5], op.inputs[5:9], op.inputs[9:13]
        h, c = op.attrs["state_values"]
        return [x, *w_in, *w_rec, None, None, None, *bias, None, None, h, c, None, None, None, None]
    if op.type == _RNN:
        return [*op.inputs[:4], *op.attrs["state_values"]]
    return None


def operator_intermediates(op: Op) -> list[Value]:
    """The ``intermediates`` of an operator: the integer LSTM's five, none for others."""
    integer = op.attrs.get("integer") if op.type == _LSTM else None
    return list(integer["intermediates"]) if integer else []


def _hybrid(op: Op, slot: int) -> bool:
    return op.inputs[0].dtype == "float32" and op.inputs[slot].dtype == "int8"


def _act(op: Op) -> int:
    return int(schema.ActivationFunctionType[op.attrs["cell_activation"]])


def _gather_version(op: Op) -> int:
    return {"int8": 2, "int16": 4}.get(op.inputs[0].dtype, 1)


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
    "REVERSE_V2": OpWriter(
        _B.REVERSE_V2, lambda op: {}, lambda op: 3 if op.inputs[0].dtype == "int8" else 1
    ),
    # SHAPE has one version whatever its input type (LiteRT registers only 1).
    "SHAPE": OpWriter(
        _B.SHAPE, lambda op: {"out_type": int(schema.TensorType.INT32)}, lambda op: 1
    ),
    # FILL of an int8 / int16 value (the integer LSTM's states) is version 3.
    "FILL": OpWriter(_B.FILL, None, lambda op: 3 if op.inputs[1].dtype in ("int8", "int16") else 1),
}

RECURRENT_RUNTIME = {
    (_B.UNIDIRECTIONAL_SEQUENCE_LSTM, 1): "1.13.1",
    (_B.UNIDIRECTIONAL_SEQUENCE_LSTM, 2): "1.14.0",
    (_B.UNIDIRECTIONAL_SEQUENCE_RNN, 1): "1.14.0",
    (_B.UNIDIRECTIONAL_SEQUENCE_RNN, 2): "1.14.0",
    (_B.GATHER, 1): "1.6.0",
    (_B.GATHER, 2): "1.14.0",
    (_B.GATHER, 4): "2.4.0",
    (_B.REVERSE_V2, 1): "1.14.0",
    (_B.REVERSE_V2, 3): "2.5.0",
    (_B.SHAPE, 1): "1.13.0",
    (_B.FILL, 1): "1.13.0",
    (_B.FILL, 3): "2.5.0",
}
