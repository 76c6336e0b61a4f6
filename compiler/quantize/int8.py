"""Full-integer int8 rewrite of a float graph, per the TFLite int8 spec.

Per op (TFLite's 8-bit quantization spec):

* CONV_2D / TRANSPOSE_CONV / FULLY_CONNECTED weights: int8 symmetric per channel on axis 0;
  DEPTHWISE_CONV_2D: on axis 3. Biases int32 with scale ``in_scale * w_scale`` and zp 0.
* activations: int8 asymmetric per tensor from the calibrated range;
* SOFTMAX and LOGISTIC outputs (1/256, -128), TANH outputs (1/128, 0);
* MAX_POOL_2D, AVERAGE_POOL_2D, RESHAPE, PAD and TRANSPOSE keep their input's parameters;
  CONCATENATION, MAXIMUM and MINIMUM inputs whose parameters differ from the output's are
  requantized first;
* ``io="float"`` adds QUANTIZE after each input and DEQUANTIZE before each output, keeping the
  model's input and output names; ``io="int8"`` makes the model's inputs and outputs int8.
"""

import numpy as np

from compiler.ir import Graph, QuantParams, Value
from compiler.quantize.attention_masks import with_mask_ranges
from compiler.quantize.params import (
    LOGISTIC_PARAMS,
    SOFTMAX_PARAMS,
    TANH_PARAMS,
    activation_params,
    quantize_bias,
    quantize_with,
    symmetric_weights,
)
from compiler.quantize.recurrent import recurrent_handlers

__all__ = ["quantize_int8", "QuantizationError", "float_islands"]

_FIXED = {"SOFTMAX": SOFTMAX_PARAMS, "LOGISTIC": LOGISTIC_PARAMS, "TANH": TANH_PARAMS}
_SAME_AS_INPUT = {"MAX_POOL_2D", "AVERAGE_POOL_2D", "RESHAPE", "PAD", "TRANSPOSE"}
# The int8 resize kernels copy or interpolate raw values: the output keeps the input's params.
_SAME_AS_INPUT |= {"RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR"}
_WEIGHT_AXIS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "TRANSPOSE_CONV": 0, "FULLY_CONNECTED": 0}
# Ops whose int8 kernels compare or copy raw values: every input takes the output's params
# (TFLite's MAXIMUM / MINIMUM kernels ignore quantization; CONCATENATION copies bytes).
_SHARED_PARAMS = {"CONCATENATION", "MAXIMUM", "MINIMUM"}
# Inputs that are integer metadata (shapes, axes, paddings), not tensors to quantize.
_INDEX_INPUTS = {"MEAN": {1}, "RESHAPE": {1}, "PAD": {1}, "TRANSPOSE": {1}}
_INDEX_INPUTS.update({"RESIZE_NEAREST_NEIGHBOR": {1}, "RESIZE_BILINEAR": {1}})
# REDUCE_MAX / REDUCE_MIN compare raw int8 values: the output keeps the input's parameters.
_SAME_AS_INPUT |= {"REDUCE_MAX", "REDUCE_MIN"}
_INDEX_INPUTS.update({"REDUCE_MAX": {1}, "REDUCE_MIN": {1}})
_SUPPORTED = (
    set(_FIXED)
    | _SAME_AS_INPUT
    | set(_WEIGHT_AXIS)
    | {
        "MEAN",
        "ADD",
        "SUB",
        "MUL",
        "CONCATENATION",
        "MAXIMUM",
        "MINIMUM",
        "RELU",
        "RELU6",
        "RELU_N1_TO_1",
        "LEAKY_RELU",
        "BATCH_MATMUL",
        # LayerNormalization's builtins (squared_difference.cc, elementwise.cc Rsqrt).
        "SQUARED_DIFFERENCE",
        "RSQRT",
    }
    # Activations with int8 kernels in LiteRT (hard_swish.h, prelu.h; ELU, GELU, EXP by table).
    | {"HARD_SWISH", "PRELU", "ELU", "GELU", "EXP"}
)
# Ops without an int8 kernel in LiteRT stay float (DEQUANTIZE before, QUANTIZE after), like
# the recurrent ones; ``float_islands`` lists them for ``--report``. Graph plumbing with
# handlers of its own is not among them.
_NOT_FLOAT_ISLANDS = {"QUANTIZE", "DEQUANTIZE", "GATHER", "SLICE"}


class QuantizationError(ValueError):
    """The graph cannot be quantized as asked (an op without an int8 form, a missing range)."""


def quantize_int8(graph: Graph, ranges: dict, io: str = "float", float_values=frozenset()) -> Graph:
    """Returns an int8 copy of float ``graph`` using calibrated ``ranges`` by value name; the
    ops writing the values named in ``float_values`` stay float islands (e.g. normalizations
    chosen by ``compiler.quantize.normalization.float_normalizations``)."""
    g = graph.copy()
    ranges = with_mask_ranges(g, ranges)
    float_types = {op.type for op in g.ops} - _SUPPORTED - _NOT_FLOAT_ISLANDS
    # Float islands (recurrent ops, ops without int8 kernels) and Embedding GATHERs.
    handlers = recurrent_handlers(g, float_types, float_values, ranges)

    def range_params(value: Value) -> QuantParams:
        if value.name not in ranges:
            raise QuantizationError(f"no calibrated range for value {value.name!r}")
        lo, hi = ranges[value.name]
        if not (np.isfinite(lo) and np.isfinite(hi)):
            # e.g. exp of a large input: no int8 scale covers an infinite float value.
            raise QuantizationError(
                f"value {value.name!r} reaches [{lo}, {hi}] on the calibration data; int8 "
                "needs a finite range (is an activation overflowing float32?)"
            )
        return activation_params(lo, hi)

    body = list(g.ops)
    for value in list(g.inputs):
        if value.dtype != "float32":
            continue
        params = range_params(value)
        if io == "int8":
            value.dtype, value.quant = "int8", params
            continue
        q = g.value(f"{value.name}/int8", value.shape, "int8", quant=params)
        for op in body:
            op.inputs = [q if v is value else v for v in op.inputs]
        g.add_op("QUANTIZE", [value], [q], name=q.name, index=0)

    cache: dict = {}
    for op in body:
        if id(op) in handlers:
            handlers[id(op)](g, op, range_params, io)
        else:
            _quantize_op(g, op, range_params, cache)

    for i, out in enumerate(list(g.outputs)):
        if io == "int8" or out.dtype != "int8":
            continue
        name = out.name
        out.name = g.unique_name(f"{name}/int8")
        result = Value(name, out.shape, "float32")
        g.add_op("DEQUANTIZE", [out], [result], name=name)
        g.outputs[i] = result
    g.validate()
    return g


def _quantize_op(g: Graph, op, range_params, cache: dict) -> None:
    out = op.outputs[0]
    if op.type in _FIXED:
        scale, zp = _FIXED[op.type]
        params = QuantParams(scale, zp)
    elif op.type in _SAME_AS_INPUT:
        params = op.inputs[0].quant
    else:
        params = range_params(out)

    if op.type in _WEIGHT_AXIS:
        _quantize_weights(g, op, cache)
    elif op.type in _SHARED_PARAMS:
        op.inputs = [_requantize_to(g, op, v, params) for v in op.inputs]
    else:
        skip = _INDEX_INPUTS.get(op.type, set())
        op.inputs = [
            v if (i in skip or v is None or not v.is_const) else _const_activation(g, v)
            for i, v in enumerate(op.inputs)
        ]
    for v in op.inputs:
        if v is not None and v.dtype == "float32":
            raise QuantizationError(f"op {op.name} ({op.type}) still reads float value {v.name!r}")
    out.dtype, out.quant = "int8", params


def _quantize_weights(g: Graph, op, cache: dict) -> None:
    x, weights = op.inputs[0], op.inputs[1]
    bias = op.inputs[2] if len(op.inputs) > 2 else None
    if not weights.is_const:
        raise QuantizationError(
            f"op {op.name} ({op.type}) has computed weights; int8 needs constants"
        )
    # The int8 constants replace the float ones under the same names. A layer called twice
    # shares its int8 weights; its biases differ when the calls' input scales do.
    key = ("weights", id(weights))
    if key not in cache:
        q, w_params = symmetric_weights(weights.data, _WEIGHT_AXIS[op.type])
        cache[key] = Value(weights.name, None, data=q, quant=w_params)
    op.inputs[1] = cache[key]
    if bias is not None:
        key = ("bias", id(bias), float(x.quant.scale[0]))
        if key not in cache:
            qb, b_params = quantize_bias(bias.data, x.quant.scale[0], op.inputs[1].quant.scale)
            taken = any(k[:2] == ("bias", id(bias)) for k in cache)
            name = g.unique_name(bias.name) if taken else bias.name
            cache[key] = Value(name, None, data=qb, quant=b_params)
        op.inputs[2] = cache[key]


def _const_activation(g: Graph, v: Value) -> Value:
    params = activation_params(float(np.min(v.data)), float(np.max(v.data)))
    return g.const(v.name, quantize_with(v.data, params), quant=params)


def _requantize_to(g: Graph, op, v: Value, params: QuantParams) -> Value:
    if v.is_const:
        return g.const(v.name, quantize_with(v.data, params), quant=params)
    if v.quant == params:
        return v
    q = g.value(f"{v.name}/requantized", v.shape, "int8", quant=params)
    g.add_op("QUANTIZE", [v], [q], name=q.name, index=g.ops.index(op))
    return q


def float_islands(graph: Graph) -> list[str]:
    """``"output (TYPE)"`` of each op of an int8 ``graph`` that computes in float32 (inputs and
    outputs float, not a boundary QUANTIZE / DEQUANTIZE): what ``--report`` lists."""
    found = []
    for op in graph.ops:
        if op.type in ("QUANTIZE", "DEQUANTIZE"):
            continue
        values = [v for v in op.inputs + op.outputs if v is not None and not v.is_const]
        if values and all(v.dtype == "float32" for v in values):
            found.append(f"{op.outputs[0].name} ({op.type})")
    return found
