"""Quantized IR ops as ONNX QDQ: DequantizeLinear -> float op -> QuantizeLinear.

The int8 graph that becomes the ``.tflite`` file becomes the ``.onnx`` file too, so both carry
the same scales and zero points. Each int8 activation read by an op is dequantized (once per
layout), the op's float ONNX form runs, and each int8 result is quantized back under the IR
value's name: the QDQ format onnxruntime's quantizer writes and its CPU provider fuses into
integer kernels. Weights stay int8 initializers (per-axis), biases int32, each read through a
DequantizeLinear (see ``weight`` and the converters' use of it).
"""

from __future__ import annotations

import numpy as np

from compiler.export.onnx._emitter import NCHW, NHWC, Emitter, nchw_axis
from compiler.ir import Op, Value

__all__ = ["is_quantized", "convert_quantized", "weight", "qparams", "origin"]

_INTEGER = ("int8", "int16", "int32", "int64")
# Inputs that the converters read as integer weights through ``weight``.
_WEIGHT_SLOTS = {
    "CONV_2D": (1, 2),
    "DEPTHWISE_CONV_2D": (1, 2),
    "TRANSPOSE_CONV": (1, 2),
    "FULLY_CONNECTED": (1, 2),
}
# Inputs that are shapes, axes or paddings: plain integer constants.
_INDEX_SLOTS = {"MEAN": (1,), "RESHAPE": (1,), "PAD": (1,), "TRANSPOSE": (1,)}


def is_quantized(op: Op) -> bool:
    """True for an op that reads or writes int8 values, other than the boundary QUANTIZE
    (float in) and DEQUANTIZE. An int8 -> int8 QUANTIZE (a requantization) counts."""
    if op.type == "QUANTIZE":
        return op.inputs[0].quant is not None
    if op.type == "DEQUANTIZE":
        return False
    return any(v is not None and v.quant is not None for v in op.inputs + op.outputs)


def qparams(e: Emitter, value: Value, axis_map=None) -> tuple[list[str], dict]:
    """Scale and zero-point initializers of ``value`` (made once), and the ``axis`` attribute
    for per-channel parameters, mapped by ``axis_map`` for a layout change."""
    q = value.quant
    if q.per_channel:
        scale = q.scale.astype(np.float32)
        zero = q.zero_point.astype(value.dtype)
        axis = q.quantized_dimension if axis_map is None else axis_map(q.quantized_dimension)
        attrs = {"axis": int(axis)}
    else:
        scale = np.asarray(q.scale[0], np.float32)
        zero = np.asarray(q.zero_point[0], dtype=value.dtype)
        attrs = {}
    key = (id(value), "qparams", attrs.get("axis"))
    if key not in e._consts:
        e._consts[key] = (
            e.initializer(f"{value.name}/scale", scale),
            e.initializer(f"{value.name}/zero_point", zero),
        )
    return list(e._consts[key]), attrs


def weight(e: Emitter, value: Value, tag: str, make, axis_map) -> str:
    """Float weights for a converter: a constant as given, or an integer constant dequantized
    by a DequantizeLinear whose input is ``make(data)`` (the converter's layout change) and
    whose axis is ``axis_map(quantized_dimension)``."""
    key = (id(value), f"dq/{tag}")
    if key not in e._consts and value.dtype == "int64":
        # A 16x8 int64 bias: DequantizeLinear takes no int64 input (opset 21), so the bias is
        # written dequantized, q * scale per channel, as the float ONNX op consumes it.
        q = value.quant
        shape = [1] * value.data.ndim
        if q.per_channel:
            shape[q.quantized_dimension] = -1
        real = value.data.astype(np.float64) * q.scale.astype(np.float64).reshape(shape)
        data = np.ascontiguousarray(make(real.astype(np.float32)))
        e._consts[key] = e.initializer(f"{value.name}/{tag}/dequantized", data)
    if key not in e._consts:
        data = make(value.data)
        stored = e.initializer(f"{value.name}/{tag}", np.ascontiguousarray(data, value.dtype))
        names, attrs = qparams(e, value, axis_map)
        e._consts[key] = e.node(
            "DequantizeLinear", [stored, *names], base=f"{value.name}/{tag}/dequantized", **attrs
        )
    return e._consts[key]


def _proxy(e: Emitter, name: str, value: Value) -> Value:
    # The emitter tracks values by id(): keep each stand-in alive for the whole export so
    # that no later object can reuse its id.
    proxy = Value(name, value.shape, "float32")
    e.__dict__.setdefault("_qdq_origin", {})[id(proxy)] = (proxy, value)
    return proxy


def origin(e: Emitter, value: Value) -> Value:
    """The graph value a float stand-in represents (``value`` itself if it is none)."""
    entry = e.__dict__.get("_qdq_origin", {}).get(id(value))
    return value if entry is None else entry[1]


def _dequantized(e: Emitter, value: Value) -> Value:
    """A float stand-in for int8 ``value``, available in every layout ``value`` has."""
    proxy = _proxy(e, f"{value.name}/dequantized", value)
    if value.is_const:
        names, attrs = qparams(e, value)
        source = e.const(value)
        e.set(proxy, NHWC, e.node("DequantizeLinear", [source, *names], base=proxy.name, **attrs))
        return proxy
    for layout in (NCHW, NHWC):
        if e.available(value, layout) or (layout == NHWC and not e.available(value, NCHW)):
            axis_map = nchw_axis if layout == NCHW else None
            names, attrs = qparams(e, value, axis_map)
            name = e.node(
                "DequantizeLinear", [e.get(value, layout), *names], base=proxy.name, **attrs
            )
            e.set(proxy, layout, name)
    return proxy


def convert_quantized(e: Emitter, op: Op, converter) -> None:
    """Runs ``converter`` on a float twin of ``op`` between DequantizeLinear and
    QuantizeLinear nodes."""
    keep = set(_WEIGHT_SLOTS.get(op.type, ())) | set(_INDEX_SLOTS.get(op.type, ()))
    inputs = []
    for i, v in enumerate(op.inputs):
        if v is None or i in keep or v.quant is None:
            inputs.append(v)
        else:
            inputs.append(_dequantized(e, v))
    outputs = [
        _proxy(e, f"{v.name}/float", v) if v.quant is not None and op.type != "QUANTIZE" else v
        for v in op.outputs
    ]
    converter(e, Op(op.type, inputs, outputs, dict(op.attrs), op.name))
    for real, proxy in zip(op.outputs, outputs):
        if proxy is real:
            continue
        for layout in (NCHW, NHWC):
            if not e.available(proxy, layout):
                continue
            axis_map = nchw_axis if layout == NCHW else None
            names, attrs = qparams(e, real, axis_map)
            name = e.node(
                "QuantizeLinear",
                [e.get(proxy, layout), *names],
                e.output_name(real, layout),
                **attrs,
            )
            e.set(real, layout, name)
