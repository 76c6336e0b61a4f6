"""Quantization of recurrent graphs: dynamic-range weights and float islands in full int8.

Dynamic range (TFLite's recommended mode for RNNs): the weight matrices of an LSTM / RNN op
become int8, symmetric per tensor (TFLite's hybrid UNIDIRECTIONAL_SEQUENCE_LSTM / RNN kernels
take one scale per weight tensor); a GRU's become int8 per row (it is unrolled into hybrid
FULLY_CONNECTED ops, which take per-channel scales). Biases stay float. As for Dense, an op
whose weight matrices hold fewer than ``DYNAMIC_MIN_ELEMENTS`` elements in all stays float.

Full int8: TFLite has no int8 GRU, and its int8 LSTM needs int16 cell states and intermediate
scales that post-training calibration of a Keras model does not give, so recurrent ops stay
float islands: DEQUANTIZE in front (one per int8 value, shared), QUANTIZE behind (only when an
int8 op reads the result; consecutive islands pass float values to each other). REVERSE_V2
(``go_backwards``) and the mask GATHER of ``Embedding(mask_zero=True)`` stay float with them.
An Embedding's GATHER is int8: its table quantized per tensor, its output with the same
parameters (GATHER copies bytes); a GATHER of a computed int8 value (a layer's last step)
and SLICE keep their input's parameters.
"""

from __future__ import annotations

import numpy as np

from compiler.ir import Graph, Op, Value
from compiler.passes.unroll_recurrent import RECURRENT_TYPES, mask_of
from compiler.quantize.params import activation_params, quantize_with, symmetric_weights

__all__ = ["quantize_recurrent_weights", "recurrent_handlers", "DYNAMIC_MIN_ELEMENTS"]

DYNAMIC_MIN_ELEMENTS = 1024
_FLOAT_ISLANDS = (*RECURRENT_TYPES, "REVERSE_V2", "SHAPE", "FILL")


def _matrix_slots(op: Op) -> tuple[int, ...]:
    if op.type == "UNIDIRECTIONAL_SEQUENCE_LSTM":
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


def _is_island(op: Op, consumers: dict, float_types=frozenset(), float_values=frozenset()):
    if op.type in _FLOAT_ISLANDS or op.type in float_types:
        return True
    if any(v.name in float_values for v in op.outputs):
        return True
    if op.type == "GATHER":  # the 0/1 mask of Embedding(mask_zero=True)
        users = consumers.get(id(op.outputs[0]), [])
        return bool(users) and all(mask_of(u) is op.outputs[0] for u in users)
    return False


def recurrent_handlers(g: Graph, float_types=frozenset(), float_values=frozenset()) -> dict:
    """``id(op) -> handler(g, op, range_params, io)`` for the ops this module quantizes in
    full-int8 mode (float islands and Embedding GATHERs); ``int8.quantize_int8`` calls them in
    place of its own rules. Ops of ``float_types`` (no int8 kernel) and the ops writing
    ``float_values`` (names) become float islands too."""
    consumers = g.consumers()
    islands = {id(op) for op in g.ops if _is_island(op, consumers, float_types, float_values)}

    def island(g, op, range_params, io):
        _float_island(g, op, range_params, io, islands)

    handlers = {i: island for i in islands}
    for op in g.ops:
        if op.type == "GATHER" and id(op) not in islands:
            handlers[id(op)] = _int8_gather
        elif op.type == "SLICE":  # a recurrent layer's last step
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
    """SLICE keeps its input's parameters (it moves values, as RESHAPE does)."""
    x = op.inputs[0]
    if x.dtype != "int8":
        from compiler.quantize.int8 import QuantizationError

        raise QuantizationError(f"op {op.name} (SLICE) reads {x.dtype} value {x.name!r}")
    out = op.outputs[0]
    out.dtype, out.quant = "int8", x.quant


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
