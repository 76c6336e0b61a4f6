"""16x8 rewrite of a float graph: int16 activations, int8 weights, int64 biases.

TFLite's ``EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8`` mode, with the facts of
``tflite/tools/optimize/quantization_utils.cc`` and ``operator_property.cc``:

* activations: int16 symmetric per tensor, ``scale = max(|min|, |max|) / 32767`` (float32,
  the range widened to include 0), zero point 0;
* CONV_2D / TRANSPOSE_CONV / FULLY_CONNECTED weights: int8 symmetric per channel on axis 0,
  DEPTHWISE_CONV_2D on axis 3, exactly as in int8 mode; biases int64 with scale
  ``in_scale * w_scale`` per channel (``SymmetricPerChannelBiasQuantize<int64_t>``);
* SOFTMAX, LOGISTIC and TANH outputs (1/32768, 0);
* MAX_POOL_2D, AVERAGE_POOL_2D, RESHAPE, PAD, TRANSPOSE and the resizes keep their input's
  parameters;
  CONCATENATION, MAXIMUM and MINIMUM inputs are requantized to the output's parameters;
* ADD and SUB are written with ``pot_scale_int16 = false`` (the general-scale kernel).

Ops without a 16x8 kernel that this project's runtime reproduces bit for bit stay float
islands between DEQUANTIZE and QUANTIZE, as TFLiteConverter does when ``TFLITE_BUILTINS`` is
allowed next to the 16x8 op set; ``int8.float_islands`` lists them for ``--report``.
``io="float"`` adds QUANTIZE / DEQUANTIZE at the boundaries (keeping the model's names);
``io="int16"`` makes the inputs and outputs int16 (TFLiteConverter's
``inference_input_type = tf.int16``).
"""

from __future__ import annotations

import numpy as np

from compiler.ir import Graph, QuantParams, Value
from compiler.quantize.attention_masks import with_mask_ranges
from compiler.quantize.int8 import _INDEX_INPUTS, _WEIGHT_AXIS, QuantizationError
from compiler.quantize.params import quantize_with, round_half_away, symmetric_weights

__all__ = ["quantize_int16x8", "int16_params", "SUPPORTED_16X8"]

INT64_MAX = 2**63 - 1
_FIXED = {"SOFTMAX", "LOGISTIC", "TANH"}
OUTPUT_16X8 = (np.float32(1 / 32768), 0)
_SAME_AS_INPUT = {"MAX_POOL_2D", "AVERAGE_POOL_2D", "RESHAPE", "PAD", "TRANSPOSE"}
# The integer resize kernels copy or interpolate raw values, as for int8.
_SAME_AS_INPUT |= {"RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR"}
# GATHER copies rows: an Embedding's table is quantized like any constant and its output keeps
# the table's parameters; only when a 16x8 op reads it (an Embedding feeding a recurrent float
# island, or a mask, stays float).
_SAME_AS_INPUT |= {"GATHER"}
_INDEX = {**_INDEX_INPUTS, "GATHER": {1}}
_SHARED_PARAMS = {"CONCATENATION", "MAXIMUM", "MINIMUM"}
_WEIGHTED = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV"}
# What LiteRT runs in 16x8 and runtime/tflite reproduces (tests/runtime/tflite/
# test_int16_kernels.py); a few other ops (RSQRT, SLICE...) have LiteRT int16 kernels too, but
# stay float here until the runtime has them.
SUPPORTED_16X8 = (
    _FIXED
    | _SAME_AS_INPUT
    | _WEIGHTED
    | {"ADD", "SUB", "MUL", "MEAN", "CONCATENATION", "RELU", "RELU6", "LEAKY_RELU"}
    | {"BATCH_MATMUL", "MAXIMUM", "MINIMUM"}
)


def int16_params(lo: float, hi: float) -> QuantParams:
    """Symmetric int16 parameters covering [lo, hi] (and 0): ``max(|lo|, |hi|) / 32767``."""
    lo = np.float32(min(float(lo), 0.0))
    hi = np.float32(max(float(hi), 0.0))
    scale = np.float32(max(abs(lo), abs(hi)) / np.float32(32767))
    if not scale > 0:  # a tensor that is always 0: any scale represents it exactly
        return QuantParams(np.float32(1.0), 0)
    return QuantParams(scale, 0)


def quantize_bias_int64(b: np.ndarray, input_scale, weight_scales):
    """int64 bias with scale ``input_scale * weight_scale`` per channel and zero point 0."""
    scale = (np.float32(input_scale) * np.asarray(weight_scales, np.float32)).astype(np.float32)
    inverse = (1.0 / scale.astype(np.float64)).astype(np.float32)
    q = round_half_away(np.asarray(b, np.float32) * inverse)
    q = np.clip(q, -INT64_MAX, INT64_MAX).astype(np.int64)
    return q, QuantParams(scale, np.zeros(scale.shape, np.int64), 0)


class _Rewriter:
    """Converts values between float32 and int16 where an op needs the other form, once per
    value (the conversions are shared by all readers)."""

    def __init__(self, g: Graph, ranges: dict):
        self.g = g
        self.ranges = ranges
        self.int16: dict[int, Value] = {}
        self.float: dict[int, Value] = {}
        self.weights: dict = {}

    def params(self, value: Value) -> QuantParams:
        if value.name not in self.ranges:
            raise QuantizationError(f"no calibrated range for value {value.name!r}")
        lo, hi = self.ranges[value.name]
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise QuantizationError(
                f"value {value.name!r} reaches [{lo}, {hi}] on the calibration data; int16 "
                "needs a finite range (is an activation overflowing float32?)"
            )
        return int16_params(lo, hi)

    def as_int16(self, v: Value, before) -> Value:
        if v.dtype == "int16":
            return v
        if v.is_const:
            data = v.data.astype(np.float32)
            params = int16_params(float(data.min(initial=0)), float(data.max(initial=0)))
            return self.g.const(v.name, quantize_with(data, params, "int16"), quant=params)
        if id(v) not in self.int16:
            q = self.g.value(f"{v.name}/int16", v.shape, "int16", quant=self.params(v))
            self.g.add_op("QUANTIZE", [v], [q], name=q.name, index=self.g.ops.index(before))
            self.int16[id(v)] = q
        return self.int16[id(v)]

    def as_float(self, v: Value, before) -> Value:
        if v.dtype != "int16" or v.is_const:
            return v
        if id(v) not in self.float:
            f = self.g.value(f"{v.name}/dequantized", v.shape, "float32")
            self.g.add_op("DEQUANTIZE", [v], [f], name=f.name, index=self.g.ops.index(before))
            self.float[id(v)] = f
        return self.float[id(v)]

    def requantized(self, v: Value, params: QuantParams, before) -> Value:
        if v.quant == params:
            return v
        q = self.g.value(f"{v.name}/requantized", v.shape, "int16", quant=params)
        self.g.add_op("QUANTIZE", [v], [q], name=q.name, index=self.g.ops.index(before))
        return q


def _is_16x8(op, consumers: dict) -> bool:
    if op.type not in SUPPORTED_16X8 or len(op.outputs) != 1:
        return False
    if op.type == "GATHER":
        # Quantizing a float island's whole output to pick rows of it would be wasted work:
        # only a table (Embedding) or an int16 value is gathered in int16.
        readers = consumers.get(id(op.outputs[0]), [])
        if not any(u.type in SUPPORTED_16X8 - {"GATHER"} for u in readers):
            return False
        if not (op.inputs[0].is_const or op.inputs[0].dtype == "int16"):
            return False
    skip = _INDEX.get(op.type, set())
    tensors = [v for i, v in enumerate(op.inputs) if v is not None and i not in skip]
    if op.type in _WEIGHTED:
        if not all(v.is_const for v in op.inputs[1:] if v is not None):
            return False
        tensors = tensors[:1]
    return op.outputs[0].dtype == "float32" and all(
        v.dtype in ("float32", "int16") for v in tensors
    )


def quantize_int16x8(graph: Graph, ranges: dict, io: str = "float") -> Graph:
    """Returns a 16x8 copy of float ``graph`` using ``ranges`` (``(min, max)`` by value name,
    calibrated or learned)."""
    if io not in ("float", "int16"):
        raise QuantizationError(f"io must be 'float' or 'int16' for int16x8; received {io!r}")
    g = graph.copy()
    r = _Rewriter(g, with_mask_ranges(g, ranges))
    if io == "int16":
        for value in g.inputs:
            if value.dtype == "float32":
                value.dtype, value.quant = "int16", r.params(value)
    consumers = g.consumers()
    for op in list(g.ops):
        if _is_16x8(op, consumers):
            _quantize_op(r, op)
        else:  # a float island
            op.inputs = [None if v is None else r.as_float(v, op) for v in op.inputs]

    for i, out in enumerate(list(g.outputs)):
        wanted = "int16" if io == "int16" else "float32"
        if out.dtype == wanted or out.dtype not in ("int16", "float32"):
            continue
        name = out.name
        out.name = g.unique_name(f"{name}/{out.dtype}")
        if wanted == "float32":
            result = Value(name, out.shape, "float32")
            g.add_op("DEQUANTIZE", [out], [result], name=name)
        else:
            result = Value(name, out.shape, "int16", quant=r.params(Value(name, out.shape)))
            g.add_op("QUANTIZE", [out], [result], name=name)
        g.outputs[i] = result
    g.validate()
    return g


def _quantize_op(r: _Rewriter, op) -> None:
    out = op.outputs[0]
    if op.type in _SHARED_PARAMS:  # constants take the output's parameters directly
        shared = r.params(out)
        op.inputs = [
            r.g.const(v.name, quantize_with(v.data, shared, "int16"), quant=shared)
            if v.is_const
            else v
            for v in op.inputs
        ]
    skip = _INDEX.get(op.type, set())
    n_tensors = 1 if op.type in _WEIGHTED else len(op.inputs)
    op.inputs = [
        r.as_int16(v, op) if i < n_tensors and i not in skip and v is not None else v
        for i, v in enumerate(op.inputs)
    ]
    if op.type in _FIXED:
        params = QuantParams(*OUTPUT_16X8)
    elif op.type in _SAME_AS_INPUT:
        params = op.inputs[0].quant
    else:
        params = r.params(out)
    if op.type in _WEIGHTED:
        _quantize_weights(r, op)
    elif op.type in _SHARED_PARAMS:  # the kernels copy or compare raw values
        op.inputs = [r.requantized(v, params, op) for v in op.inputs]
    out.dtype, out.quant = "int16", params


def _quantize_weights(r: _Rewriter, op) -> None:
    x, weights = op.inputs[0], op.inputs[1]
    bias = op.inputs[2] if len(op.inputs) > 2 else None
    key = ("weights", id(weights))
    if key not in r.weights:
        q, w_params = symmetric_weights(weights.data, _WEIGHT_AXIS[op.type])
        r.weights[key] = Value(weights.name, None, data=q, quant=w_params)
    op.inputs[1] = r.weights[key]
    if bias is not None:
        key = ("bias", id(bias), float(x.quant.scale[0]))
        if key not in r.weights:
            qb, b_params = quantize_bias_int64(
                bias.data, x.quant.scale[0], op.inputs[1].quant.scale
            )
            taken = any(k[:2] == ("bias", id(bias)) for k in r.weights)
            name = r.g.unique_name(bias.name) if taken else bias.name
            r.weights[key] = Value(name, None, data=qb, quant=b_params)
        op.inputs[2] = r.weights[key]
