"""Turns each integer LSTM back into a float LSTM between DEQUANTIZE and QUANTIZE.

ONNX has no integer LSTM (onnxruntime's ``DynamicQuantizeLSTM`` is a contrib op), so the int8
graph that becomes the ``.tflite`` file with TFLite's integer UNIDIRECTIONAL_SEQUENCE_LSTM
(``compiler.quantize.integer_lstm``) becomes, in the ``.onnx`` file, QDQ around the float
op with the same numbers: the int8 input dequantized with its scale and zero point, the int8
weights kept with their per-tensor scales (the ONNX writer reads them through
DequantizeLinear, as for dynamic-range weights), the int32 biases as float
``b = q * input_scale * weight_scale``, and the float result quantized with the output's
scale and zero point into the same int8 value the rest of the graph reads. The cell state and
gate intermediates have no ONNX counterpart: the float op keeps them in float.
"""

from __future__ import annotations

import numpy as np

from compiler.ir import Graph, Value
from compiler.passes.pass_manager import Pass, PassResult

__all__ = ["DequantizeIntegerLstmPass"]


class DequantizeIntegerLstmPass(Pass):
    """Rewrites every integer LSTM (``op.attrs["integer"]``) as DEQUANTIZE -> float LSTM ->
    QUANTIZE."""

    def call(self, graph: Graph) -> PassResult:
        todo = [
            op
            for op in graph.ops
            if op.type == "UNIDIRECTIONAL_SEQUENCE_LSTM" and op.attrs.get("integer")
        ]
        for op in todo:
            x, out = op.inputs[0], op.outputs[0]
            at = graph.ops.index(op)
            fx = graph.value(f"{x.name}/dequantized", x.shape, "float32")
            graph.add_op("DEQUANTIZE", [x], [fx], name=fx.name, index=at)
            biases = [
                Value(
                    b.name,
                    None,
                    data=(b.data.astype(np.float64) * np.float64(b.quant.scale[0])).astype(
                        np.float32
                    ),
                )
                for b in op.inputs[9:13]
            ]
            result = graph.value(f"{out.name}/float", out.shape, "float32")
            op.inputs = [fx, *op.inputs[1:9], *biases]
            op.outputs = [result]
            del op.attrs["integer"]
            index = graph.ops.index(op) + 1
            graph.add_op("QUANTIZE", [result], [out], name=out.name, index=index)
        if todo:
            graph.validate()
        return PassResult(graph, bool(todo))
