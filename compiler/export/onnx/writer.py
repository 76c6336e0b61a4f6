"""Serializes an IR graph as an ONNX model with the ``onnx`` package.

Inputs and outputs are NHWC like the Keras model, with a dynamic batch (``dim_param
"batch"``); convolutions run NCHW inside, with at most one Transpose per model input and
output (``_emitter``). The default opset is 17. Serialization is deterministic.
"""

from __future__ import annotations

import onnx
from onnx import helper

from compiler.export.errors import ExportError
from compiler.export.onnx._emitter import NCHW, NHWC, TO_NHWC, Emitter
from compiler.export.onnx._ops import CONVERTERS
from compiler.export.onnx._qdq import convert_quantized, is_quantized
from compiler.export.onnx._recurrent import RECURRENT_CONVERTERS
from compiler.ir import Graph, Value

__all__ = ["write_onnx", "to_onnx_model", "DEFAULT_OPSET", "SUPPORTED_OPSETS"]

DEFAULT_OPSET = 17
SUPPORTED_OPSETS = range(13, 22)
PRODUCER = "kestrel-mobile"


def _value_info(e: Emitter, value: Value):
    dims = ["batch" if d is None else d for d in value.shape]
    return helper.make_tensor_value_info(value.name, e.elem_type(value), dims)


def to_onnx_model(graph: Graph, opset: int = DEFAULT_OPSET) -> onnx.ModelProto:
    """Builds the ``ModelProto`` of ``graph`` (see ``write_onnx``)."""
    if opset not in SUPPORTED_OPSETS:
        raise ExportError(
            f"ONNX opset {opset} is not supported; expected {SUPPORTED_OPSETS.start}.."
            f"{SUPPORTED_OPSETS.stop - 1}"
        )
    graph.validate()
    values = [*graph.inputs, *(v for op in graph.ops for v in op.outputs)]
    int16 = [v.name for v in values if v.dtype == "int16" and v.quant is not None]
    if int16 and opset < 21:
        raise ExportError(
            f"int16 value {int16[0]!r} needs ONNX opset 21 or later (int16 QuantizeLinear / "
            f"DequantizeLinear); received opset {opset}"
        )
    for op in graph.ops:
        if op.type not in CONVERTERS:
            raise ExportError(
                f"op {op.name} ({op.type}) cannot be written to ONNX; run the passes first "
                f"(they remove BATCH_NORM and DROPOUT). Writable: {sorted(CONVERTERS)}"
            )
    e = Emitter(graph, opset)
    for op in graph.ops:
        if is_quantized(op) and op.type not in RECURRENT_CONVERTERS:  # int8 weights: own path
            convert_quantized(e, op, CONVERTERS[op.type])
        else:
            CONVERTERS[op.type](e, op)
    for value in graph.outputs:
        if value.is_const or graph.is_input(value):
            raise ExportError(f"graph output {value.name!r} must be computed by an op")
        if e.available(value, NHWC):
            if e.get(value, NHWC) != value.name:
                e.node("Identity", [e.get(value, NHWC)], value.name)
        else:  # computed in NCHW: the one Transpose of this output
            e.node("Transpose", [e.get(value, NCHW)], value.name, perm=list(TO_NHWC))
    onnx_graph = helper.make_graph(
        e.nodes,
        graph.name,
        [_value_info(e, v) for v in graph.inputs],
        [_value_info(e, v) for v in graph.outputs],
        initializer=e.initializers,
    )
    opset_ids = [helper.make_opsetid("", opset)]
    model = helper.make_model(
        onnx_graph,
        opset_imports=opset_ids,
        producer_name=PRODUCER,
        producer_version="0.1.0",
        ir_version=helper.find_min_ir_version_for(opset_ids),
    )
    return model


def write_onnx(graph: Graph, opset: int = DEFAULT_OPSET, check: bool = False) -> bytes:
    """Returns the ``.onnx`` bytes of ``graph``.

    Args:
        graph: an IR graph whose ops all have an ONNX converter.
        opset: the default-domain opset (13 to 21).
        check: run ``onnx.checker.check_model(full_check=True)`` on the result.

    Raises:
        ExportError: the graph holds something ONNX (or this writer) cannot express.
    """
    model = to_onnx_model(graph, opset)
    if check:
        onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString(deterministic=True)
