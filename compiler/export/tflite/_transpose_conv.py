"""TRANSPOSE_CONV as a TFLite builtin (``tflite/kernels/transpose_conv.cc``).

TFLite's operator inputs are ``(output_shape, filter, input, bias)``. ``output_shape`` is an
int32 constant when the batch is known; otherwise ``prepare_graph`` computes it before the op as
``CONCATENATION(SHAPE(input)[:1], [h, w, out])`` (what TFLiteConverter writes for a dynamic
batch), so the output follows ``resize_tensor_input``. The bias is always written (op version
3, ``op_version.cc``); int8 is version 2 without a bias. No fused activation is written.
"""

from __future__ import annotations

import numpy as np

from compiler.ir import Graph, Op, Value
from runtime.tflite import schema

__all__ = ["prepare_graph", "operator_inputs", "make_writer", "TRANSPOSE_CONV_RUNTIME"]

_B = schema.BuiltinOperator
_SHAPE_ATTR = "output_shape_value"


def prepare_graph(graph: Graph) -> Graph:
    """``graph``, or a copy whose TRANSPOSE_CONV ops carry their ``output_shape`` value."""
    if not any(op.type == "TRANSPOSE_CONV" for op in graph.ops):
        return graph
    g = graph.copy()
    for op in [op for op in g.ops if op.type == "TRANSPOSE_CONV"]:
        op.attrs[_SHAPE_ATTR] = _output_shape(g, op)
    g.validate()
    return g


def _output_shape(g: Graph, op: Op) -> Value:
    x, out = op.inputs[0], op.outputs[0]
    base = out.name
    if out.shape[0] is not None:
        return g.const(f"{base}/output_shape", np.array(out.shape, np.int32))

    def add(type_, inputs, value: Value, **attrs) -> Value:
        g.add_op(type_, inputs, [value], attrs, name=value.name, index=g.ops.index(op))
        return value

    shape = add("SHAPE", [x], g.value(f"{base}/input_shape", (4,), "int32"))
    begin = g.const(f"{base}/batch_begin", np.zeros(1, np.int32))
    size = g.const(f"{base}/batch_size", np.ones(1, np.int32))
    batch = add("SLICE", [shape, begin, size], g.value(f"{base}/batch", (1,), "int32"))
    rest = g.const(f"{base}/output_hwc", np.array(out.shape[1:], np.int32))
    return add(
        "CONCATENATION",
        [batch, rest],
        g.value(f"{base}/output_shape", (4,), "int32"),
        axis=0,
    )


def operator_inputs(op: Op) -> list[Value | None] | None:
    """TFLite's input order for TRANSPOSE_CONV (None for other ops); a zero bias if absent."""
    if op.type != "TRANSPOSE_CONV":
        return None
    x, w = op.inputs[0], op.inputs[1]
    bias = op.inputs[2] if len(op.inputs) > 2 else None
    if bias is None:
        dtype = {"int8": np.int32, "int16": np.int64}.get(x.dtype, np.float32)
        bias = Value(f"{op.name}/zero_bias", None, data=np.zeros(w.shape[0], dtype))
    return [op.attrs[_SHAPE_ATTR], w, x, bias]


def _options(op: Op) -> dict:
    return {
        "padding": int(schema.Padding[op.attrs["padding"]]),
        "stride_h": int(op.attrs["stride"][0]),
        "stride_w": int(op.attrs["stride"][1]),
    }


def make_writer(writer_cls):
    """The ``OpWriter`` (class passed in by ``_ops``, which imports this module)."""
    return writer_cls(_B.TRANSPOSE_CONV, _options, lambda op: 3)


TRANSPOSE_CONV_RUNTIME = {
    (_B.TRANSPOSE_CONV, 1): "1.9.0",
    (_B.TRANSPOSE_CONV, 2): "2.2.0",
    (_B.TRANSPOSE_CONV, 3): "2.3.0",
}
