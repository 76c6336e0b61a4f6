"""Quantization of recurrent graphs: dynamic-range weights, and full int8 with no float inside.

Dynamic range (TFLite's recommended mode for RNNs): the weight matrices of an LSTM / RNN op
become int8, symmetric per tensor (TFLite's hybrid UNIDIRECTIONAL_SEQUENCE_LSTM / RNN kernels
take one scale per weight tensor); a GRU's become int8 per row (it is unrolled into hybrid
FULLY_CONNECTED ops, which take per-channel scales). Biases stay float. As for Dense, an op
whose weight matrices hold fewer than ``DYNAMIC_MIN_ELEMENTS`` elements in all stays float.

Full int8:

* LSTM: TFLite's integer UNIDIRECTIONAL_SEQUENCE_LSTM (``compiler.quantize.integer_lstm``),
  calibrated step by step (``recurrent_internals`` adds its gates and cell state to the
  calibration values).
* GRU and SimpleRNN: TFLite has no integer kernel for them (no GRU builtin at all; its RNN
  kernel is float or hybrid), so ``unroll_for_int8`` unrolls them before calibration into
  per-step FULLY_CONNECTED / ADD / SUB / MUL / LOGISTIC / TANH / RELU builtins, which the int8
  rules quantize like any others. ``share_step_ranges`` gives each per-step value the range of
  its role over all steps (the union): every step's state then has one scale, so the output
  sequence's CONCATENATION copies bytes instead of requantizing each step, the recurrent
  FULLY_CONNECTED ops share their biases, and each range is measured on ``steps`` times more
  samples (the early steps, whose state is still small, would otherwise get their own scales
  measured on fewer values, and nothing downstream could use them without requantizing).
* An LSTM whose final cell state is read (``return_state``) is unrolled by the lowering
  (``compiler.lower``; the fused op has no cell-state output): its steps are int8 builtins
  like a GRU's, with shared step ranges.
* REVERSE_V2 (``go_backwards``, Bidirectional) moves int8 values and keeps their parameters.
* What the integer kernels cannot express stays a float island, with a
  ``RecurrentQuantizationWarning`` naming the layer and the reason: a Keras mask (neither
  kernel has a mask input; the masked op is unrolled in float for TFLite), an LSTM whose
  activation is not tanh, an LSTM whose cell state passes the integer tanh's range. Islands
  have a DEQUANTIZE in front (one per int8 value, shared), a QUANTIZE behind (only when an
  int8 op reads the result; consecutive islands pass float values to each other). A
  REVERSE_V2 next to an island and the mask GATHER of ``Embedding(mask_zero=True)`` stay float
  with it.

An Embedding's GATHER is int8: its table quantized per tensor, its output with the same
parameters (GATHER copies bytes); a GATHER of a computed int8 value (a layer's last step)
and SLICE keep their input's parameters.
"""

from __future__ import annotations

import re
import warnings

import numpy as np

from compiler.ir import Graph, Op, Value
from compiler.passes.unroll_recurrent import RECURRENT_TYPES, mask_of, unroll_op
from compiler.quantize.integer_lstm import (
    integer_lstm_problem,
    lstm_internals,
    quantize_lstm,
)
from compiler.quantize.params import activation_params, quantize_with, symmetric_weights

__all__ = [
    "quantize_recurrent_weights",
    "recurrent_handlers",
    "unroll_for_int8",
    "recurrent_internals",
    "share_step_ranges",
    "RecurrentQuantizationWarning",
    "DYNAMIC_MIN_ELEMENTS",
]

DYNAMIC_MIN_ELEMENTS = 1024
_LSTM = "UNIDIRECTIONAL_SEQUENCE_LSTM"
_FLOAT_ISLANDS = (*RECURRENT_TYPES, "SHAPE", "FILL")
_UNROLLED_FOR_INT8 = ("GRU", "UNIDIRECTIONAL_SEQUENCE_RNN")


class RecurrentQuantizationWarning(UserWarning):
    """A recurrent layer stays float inside a full-int8 model (the message says why)."""


def _matrix_slots(op: Op) -> tuple[int, ...]:
    if op.type == _LSTM:
        return tuple(range(1, 9))
    return (1, 2)


def quantize_recurrent_weights(g: Graph, min_elements: int = DYNAMIC_MIN_ELEMENTS) -> bool:
    """Dynamic-range int8 weights for the recurrent ops of ``g`` (in place); True if any."""
    changed = False
    for op in g.ops:
        if op.type not in RECURRENT_TYPES:
            continue
        slots = _matrix_slots(op)
        weights = [op.inputs[s] for s in slots]
        if not all(w.is_const and w.dtype == "float32" for w in weights):
            continue
        if sum(w.data.size for w in weights) < min_elements:
            continue
        axis = 0 if op.type == "GRU" else None
        for slot, w in zip(slots, weights):
            q, params = symmetric_weights(w.data, axis)
            op.inputs[slot] = Value(w.name, None, data=q, quant=params)  # same name
        changed = True
    return changed


def unroll_for_int8(graph: Graph) -> Graph:
    """``graph`` with every unmasked GRU and SimpleRNN unrolled into per-step builtins (a copy;
    ``graph`` itself when there is none). Deterministic: the same graph gives the same value
    names, so calibration, quantization and ``--report`` agree on them."""
    todo = [i for i, op in enumerate(graph.ops) if _unrolls(op)]
    if not todo:
        return graph
    g = graph.copy()
    for op in [g.ops[i] for i in todo]:
        unroll_op(g, op)
    g.validate()
    return g


def _unrolls(op: Op) -> bool:
    return op.type in _UNROLLED_FOR_INT8 and mask_of(op) is None


def recurrent_internals(graph: Graph, values: dict) -> dict:
    """The step-by-step internals of ``graph``'s integer-capable LSTMs on one calibration
    batch (``values``: the float values by name), to be calibrated like the graph's own."""
    found = {}
    for op in graph.ops:
        if op.type == _LSTM and integer_lstm_problem(op) is None:
            x = values.get(op.inputs[0].name)
            if x is not None:
                found.update(lstm_internals(op, x))
    return found


_STEP = re.compile(r"/t\d+/")


def share_step_ranges(graph: Graph, ranges: dict) -> dict:
    """``ranges`` with each per-step value of an unrolled recurrence given the union of its
    role's ranges over all steps (role: the name with the step number taken out); the states
    that form the output sequence are one role (see the module docstring for why)."""
    bases = _unrolled_bases(graph)
    if not bases:
        return ranges
    groups: dict[tuple, list[str]] = {}
    for name in ranges:
        for base in bases:
            if name.startswith(base + "/t"):
                groups.setdefault((base, _STEP.sub("/t*/", name)), []).append(name)
                break
    for base, states in bases.items():
        groups.setdefault((base, "states"), []).extend(n for n in states if n in ranges)
    parent = {name: name for names in groups.values() for name in names}

    def root(n):
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for names in groups.values():
        for other in names[1:]:
            parent[root(other)] = root(names[0])
    merged: dict[str, tuple] = {}
    for name in parent:
        lo, hi = ranges[name]
        r = root(name)
        old = merged.get(r, (np.inf, -np.inf))
        merged[r] = (min(old[0], lo), max(old[1], hi))
    shared = dict(ranges)
    for name in parent:
        shared[name] = merged[root(name)]
    return shared


def _unrolled_bases(graph: Graph) -> dict[str, list[str]]:
    """Output name of each unrolled recurrence -> the names of its per-step states: the
    CONCATENATION of RESHAPEs ``<output>/y<t>`` that ``unroll_op`` writes (or its one-step
    RESHAPE)."""
    producers = graph.producers()
    bases = {}
    for op in graph.ops:
        out = op.outputs[0]
        pieces = op.inputs if op.type == "CONCATENATION" else []
        pattern = re.compile(re.escape(out.name) + r"/y\d+")
        if pieces and all(v is not None and pattern.fullmatch(v.name) for v in pieces):
            states = [producers[id(v)].inputs[0].name for v in pieces if id(v) in producers]
            bases[out.name] = states
        elif op.type == "RESHAPE" and op.inputs[1] is not None and op.inputs[1].is_const:
            if op.inputs[1].name.startswith(f"{out.name}/as_seq"):
                bases[out.name] = [op.inputs[0].name]
    return bases


def _warn(op: Op, reason: str) -> None:
    layer = op.outputs[0].name.removesuffix("/sequence")  # the lowering's name without it
    warnings.warn(
        RecurrentQuantizationWarning(
            f"recurrent layer {layer!r} ({op.type}) stays float in the int8 model: {reason}"
        ),
        stacklevel=4,
    )


def _is_island(op: Op, consumers: dict, float_types=frozenset(), float_values=frozenset()):
    if op.type in _FLOAT_ISLANDS or op.type in float_types:
        return True
    if any(v.name in float_values for v in op.outputs):
        return True
    if op.type == "GATHER":  # the 0/1 mask of Embedding(mask_zero=True)
        users = consumers.get(id(op.outputs[0]), [])
        return bool(users) and all(mask_of(u) is op.outputs[0] for u in users)
    return False


def _recurrent_verdicts(g: Graph, float_values, ranges) -> dict[int, str | None]:
    """``id(op) -> reason`` it stays float (None: integer) for each recurrent op; warns."""
    verdicts = {}
    for op in g.ops:
        if op.type not in RECURRENT_TYPES:
            continue
        if any(v.name in float_values for v in op.outputs):
            reason = "chosen to stay float"
        elif mask_of(op) is not None:
            reason = "it reads a Keras mask, which TFLite's integer kernels have no input for"
        elif op.type != _LSTM:
            reason = "it was not unrolled into builtins before calibration (unroll_for_int8)"
        elif ranges is None:
            reason = "no calibrated ranges for its gates and cell state"
        else:
            reason = integer_lstm_problem(op, ranges)
        verdicts[id(op)] = reason
        if reason is not None:
            _warn(op, reason)
    return verdicts


def recurrent_handlers(
    g: Graph, float_types=frozenset(), float_values=frozenset(), ranges: dict | None = None
) -> dict:
    """``id(op) -> handler(g, op, range_params, io)`` for the ops this module quantizes in
    full-int8 mode (integer LSTMs, float islands, REVERSE_V2 and Embedding GATHERs);
    ``int8.quantize_int8`` calls them in place of its own rules. Ops of ``float_types`` (no
    int8 kernel) and the ops writing ``float_values`` (names) become float islands too.
    ``ranges`` (calibrated, by value name) decides which LSTMs can be integer."""
    consumers = g.consumers()
    producers = g.producers()
    verdicts = _recurrent_verdicts(g, float_values, ranges)
    float_types = set(float_types) - {_LSTM, "REVERSE_V2"}
    islands = {
        id(op)
        for op in g.ops
        if (verdicts.get(id(op), "") is not None)
        and op.type != "REVERSE_V2"
        and _is_island(op, consumers, float_types, float_values)
    }
    for op in g.ops:  # REVERSE_V2 stays float next to an island (e.g. a reversed mask)
        if op.type != "REVERSE_V2":
            continue
        source = producers.get(id(op.inputs[0]))
        users = consumers.get(id(op.outputs[0]), [])
        if (source is not None and id(source) in islands) or (
            users and all(id(u) in islands for u in users)
        ):
            islands.add(id(op))

    def island(g, op, range_params, io):
        _float_island(g, op, range_params, io, islands)

    def integer_lstm(g, op, range_params, io):
        x = op.inputs[0]
        if x.dtype != "int8":
            from compiler.quantize.int8 import QuantizationError

            raise QuantizationError(f"op {op.name} (integer LSTM) reads {x.dtype} {x.name!r}")
        quantize_lstm(op, ranges)

    handlers = {i: island for i in islands}
    bases = _unrolled_bases(g)
    for op in g.ops:
        if id(op) in islands:
            continue
        if op.type == "CONCATENATION" and op.outputs[0].name in bases:
            handlers[id(op)] = _step_concat
        if op.type == _LSTM:
            handlers[id(op)] = integer_lstm
        elif op.type == "GATHER":
            handlers[id(op)] = _int8_gather
        elif op.type in ("SLICE", "REVERSE_V2"):  # a layer's last step; go_backwards
            handlers[id(op)] = _int8_slice
    return handlers


def _float_of(g: Graph, op: Op, v: Value) -> Value:
    """A float32 value equal to int8 ``v``: the float source of a boundary QUANTIZE, an existing
    DEQUANTIZE of ``v``, or a new DEQUANTIZE in front of ``op``."""
    for other in g.ops:
        if other.type == "QUANTIZE" and other.outputs[0] is v:
            if other.inputs[0].dtype == "float32":
                return other.inputs[0]
        if other.type == "DEQUANTIZE" and other.inputs[0] is v:
            return other.outputs[0]
    f = g.value(f"{v.name}/dequantized", v.shape, "float32")
    g.add_op("DEQUANTIZE", [v], [f], name=f.name, index=g.ops.index(op))
    return f


def _float_island(g: Graph, op: Op, range_params, io: str, islands: set) -> None:
    op.inputs = [
        _float_of(g, op, v) if v is not None and not v.is_const and v.dtype == "int8" else v
        for v in op.inputs
    ]
    _drop_unused_quantize(g)
    out = op.outputs[0]
    users = g.consumers().get(id(out), [])
    int8_readers = [u for u in users if id(u) not in islands]
    if not int8_readers and not (g.is_output(out) and io == "int8"):
        return  # stays float: read by islands only, or a float model output
    result = g.value(f"{out.name}/float", out.shape, "float32")
    op.outputs[0] = result
    for u in users:
        if id(u) in islands:
            u.inputs = [result if v is out else v for v in u.inputs]
    out.dtype, out.quant = "int8", range_params(out)
    g.add_op("QUANTIZE", [result], [out], name=out.name, index=g.ops.index(op) + 1)


def _drop_unused_quantize(g: Graph) -> None:
    """Removes boundary QUANTIZE ops nobody reads any more (islands read the float input)."""
    consumers = g.consumers()
    for op in [o for o in g.ops if o.type == "QUANTIZE"]:
        out = op.outputs[0]
        if not consumers.get(id(out)) and not g.is_output(out):
            g.ops.remove(op)


def _int8_slice(g: Graph, op: Op, range_params, io: str) -> None:
    """SLICE and REVERSE_V2 keep their input's parameters (they move values, as RESHAPE
    does)."""
    x = op.inputs[0]
    if x.dtype != "int8":
        from compiler.quantize.int8 import QuantizationError

        raise QuantizationError(f"op {op.name} ({op.type}) reads {x.dtype} value {x.name!r}")
    out = op.outputs[0]
    out.dtype, out.quant = "int8", x.quant


def _step_concat(g: Graph, op: Op, range_params, io: str) -> None:
    """The output sequence of an unrolled recurrence: when every step's state has the same
    parameters (shared step ranges, or TANH's fixed ones in a SimpleRNN), the sequence takes
    them and CONCATENATION copies bytes; otherwise the int8 rule (requantize to the
    calibrated range)."""
    from compiler.quantize.int8 import _requantize_to

    params = op.inputs[0].quant
    if not all(v.dtype == "int8" and v.quant == params for v in op.inputs):
        params = range_params(op.outputs[0])
        op.inputs = [_requantize_to(g, op, v, params) for v in op.inputs]
    op.outputs[0].dtype, op.outputs[0].quant = "int8", params


def _int8_gather(g: Graph, op: Op, range_params, io: str) -> None:
    table, ids = op.inputs
    out = op.outputs[0]
    if not table.is_const:  # a step of an int8 sequence: the values move, their scale stays
        if table.dtype != "int8":
            from compiler.quantize.int8 import QuantizationError

            raise QuantizationError(f"op {op.name} (GATHER) reads {table.dtype} {table.name!r}")
        out.dtype, out.quant = "int8", table.quant
        return
    data = table.data.astype(np.float32)
    params = activation_params(float(data.min()), float(data.max()))
    op.inputs = [Value(table.name, None, data=quantize_with(data, params), quant=params), ids]
    out.dtype, out.quant = "int8", params
