"""Weight-only modes: dynamic-range int8 and float16 weights, float activations.

* ``dynamic`` (TFLite's dynamic-range quantization): CONV_2D and FULLY_CONNECTED weights with
  at least ``DYNAMIC_MIN_ELEMENTS`` elements become int8, symmetric per channel on axis 0; the
  ops keep float inputs and outputs and run TFLite's hybrid kernels, which quantize the
  activations on the fly. Smaller weights stay float, as in TFLiteConverter (its threshold is
  1024 elements), since the saving is negligible and hybrid kernels cost a quantization step.
* ``float16``: every float weight becomes float16, read through a DEQUANTIZE op (TFLite's
  float16 quantization); biases stay float32.
"""

import numpy as np

from compiler.ir import Graph
from compiler.quantize.params import symmetric_weights
from compiler.quantize.recurrent import quantize_recurrent_weights

__all__ = ["quantize_dynamic", "quantize_float16", "DYNAMIC_MIN_ELEMENTS"]

DYNAMIC_MIN_ELEMENTS = 1024
_HYBRID_OPS = {"CONV_2D": 0, "FULLY_CONNECTED": 0}
_WEIGHT_SLOT = {"CONV_2D": 1, "DEPTHWISE_CONV_2D": 1, "FULLY_CONNECTED": 1}


def quantize_dynamic(graph: Graph) -> Graph:
    """int8 weights for the large CONV_2D / FULLY_CONNECTED weights; float everywhere else."""
    g = graph.copy()
    for op in g.ops:
        axis = _HYBRID_OPS.get(op.type)
        weights = op.inputs[1] if axis is not None else None
        if weights is None or not weights.is_const or weights.data.size < DYNAMIC_MIN_ELEMENTS:
            continue
        q, params = symmetric_weights(weights.data, axis)
        op.inputs[1] = g.const(weights.name, q, quant=params)
    quantize_recurrent_weights(g)  # LSTM / RNN per tensor, GRU per row (hybrid kernels)
    return g


def quantize_float16(graph: Graph) -> Graph:
    """float16 copies of the weights of CONV / DEPTHWISE_CONV / FULLY_CONNECTED, dequantized
    to float32 by an op at run time."""
    g = graph.copy()
    for op in list(g.ops):
        slot = _WEIGHT_SLOT.get(op.type)
        weights = op.inputs[slot] if slot is not None else None
        if weights is None or not weights.is_const or weights.dtype != "float32":
            continue
        half = g.const(f"{weights.name}/fp16", weights.data.astype(np.float16))
        full = g.value(weights.name, weights.shape, "float32")
        g.add_op("DEQUANTIZE", [half], [full], name=full.name, index=g.ops.index(op))
        op.inputs[slot] = full
    return g
