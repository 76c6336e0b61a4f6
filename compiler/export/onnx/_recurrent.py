"""Recurrent ops, GATHER and REVERSE_V2 as ONNX nodes (onnx.ai/onnx/operators: LSTM, GRU, RNN,
Gather, Slice).

ONNX's recurrent ops are time-major (``layout`` 0, the one onnxruntime's CPU kernels run):
``X`` (time, batch, in) is a Transpose of the batch-major input, and ``Y`` (time, 1, batch,
units) becomes (batch, time, units) by a Squeeze and a Transpose. Gate orders: LSTM i, o, f, c
(the IR's is i, f, c, o); GRU z, r, h (the same as Keras's); ``W`` (1, gates * units, in),
``R`` (1, gates * units, units), ``B`` = [Wb, Rb] (1, 2 * gates * units). Keras's GRU
``reset_after=True`` is ONNX's ``linear_before_reset=1``.

Int8 weights (dynamic-range mode) stay int8 initializers, each dequantized by one
DequantizeLinear (per channel on the gates * units axis) in front of the float op: onnxruntime
has no integer LSTM / GRU / RNN kernel (``DynamicQuantizeLSTM`` is a contrib op), so the
storage is what shrinks; the arithmetic stays float. Masked recurrent ops are unrolled before
export, by ``compiler.passes.export_passes("onnx")`` (which the compile driver runs; the writer
only writes): ONNX's ``sequence_lens`` covers only trailing padding.
"""

from __future__ import annotations

import numpy as np

from compiler.export.errors import ExportError
from compiler.export.onnx._emitter import NHWC, Emitter
from compiler.ir import Op, Value
from compiler.passes.unroll_recurrent import mask_of

__all__ = ["RECURRENT_CONVERTERS"]

_ACTIVATION = {"TANH": "Tanh", "RELU": "Relu"}


def _gates_data(value: Value) -> tuple[np.ndarray, np.ndarray | None]:
    """Float data (or int8 data and per-row scales) of a constant weight."""
    if value.quant is None:
        return value.data.astype(np.float32), None
    q = value.quant
    if np.any(q.zero_point != 0):
        raise ExportError(f"weight {value.name!r}: only symmetric int8 weights are supported")
    scales = np.broadcast_to(q.scale.astype(np.float32), (value.shape[0],))
    return value.data, scales


def _stacked(e: Emitter, values: list[Value], name: str) -> str:
    """``[1, sum(rows), cols]`` from per-gate weights: float, or int8 + DequantizeLinear."""
    parts = [_gates_data(v) for v in values]
    data = np.concatenate([p[0] for p in parts])[None]
    if all(p[1] is None for p in parts):
        return e.initializer(name, data.astype(np.float32))
    if any(p[1] is None for p in parts):
        raise ExportError(f"{name}: a recurrent op mixes int8 and float weights")
    scales = np.concatenate([p[1] for p in parts]).astype(np.float32)
    stored = e.initializer(f"{name}/int8", data.astype(np.int8))
    scale = e.initializer(f"{name}/scale", scales)
    zero = e.initializer(f"{name}/zero_point", np.zeros(scales.shape, np.int8))
    return e.node("DequantizeLinear", [stored, scale, zero], base=f"{name}/dequantized", axis=1)


def _activation(op: Op) -> str:
    name = op.attrs["cell_activation"]
    if name not in _ACTIVATION:
        raise ExportError(f"op {op.name}: cell activation {name} has no ONNX form here")
    return _ACTIVATION[name]


def _recurrent(e: Emitter, op: Op, onnx_type: str, w, r, bias, units: int, **attrs) -> None:
    x, out = op.inputs[0], op.outputs[0]
    base = out.name
    if mask_of(op) is not None:
        raise ExportError(
            f"op {op.name} ({op.type}) has a mask, which ONNX's {onnx_type} cannot express: "
            "unroll it first with compiler.passes.prepare_for_export(graph, 'onnx') "
            "(compiler.compile does)"
        )
    time_major = e.node("Transpose", [e.get(x)], base=f"{base}/time_major", perm=[1, 0, 2])
    b = e.initializer(f"{base}/B", bias[None].astype(np.float32))
    y = e.node(onnx_type, [time_major, w, r, b], base=f"{base}/Y", hidden_size=units, **attrs)
    axes = e.initializer(f"{base}/direction_axis", np.array([1], np.int64))
    squeezed = e.node("Squeeze", [y, axes], base=f"{base}/squeezed")
    e.node("Transpose", [squeezed], out.name, perm=[1, 0, 2])
    e.set(out, NHWC, out.name)


def lstm(e: Emitter, op: Op) -> None:
    units = op.inputs[5].shape[0]
    order = (0, 3, 1, 2)  # IR i, f, c, o -> ONNX i, o, f, c
    w = _stacked(e, [op.inputs[1 + k] for k in order], f"{op.outputs[0].name}/W")
    r = _stacked(e, [op.inputs[5 + k] for k in order], f"{op.outputs[0].name}/R")
    wb = np.concatenate([op.inputs[9 + k].data for k in order])
    act = _activation(op)
    _recurrent(
        e, op, "LSTM", w, r, np.concatenate([wb, np.zeros_like(wb)]), units,
        activations=["Sigmoid", act, act],
    )  # fmt: skip


def rnn(e: Emitter, op: Op) -> None:
    units = op.inputs[2].shape[0]
    w = _stacked(e, [op.inputs[1]], f"{op.outputs[0].name}/W")
    r = _stacked(e, [op.inputs[2]], f"{op.outputs[0].name}/R")
    wb = op.inputs[3].data
    _recurrent(
        e, op, "RNN", w, r, np.concatenate([wb, np.zeros_like(wb)]), units,
        activations=[_activation(op)],
    )  # fmt: skip


def gru(e: Emitter, op: Op) -> None:
    units = op.inputs[2].shape[1]
    w = _stacked(e, [op.inputs[1]], f"{op.outputs[0].name}/W")
    r = _stacked(e, [op.inputs[2]], f"{op.outputs[0].name}/R")
    bias = np.concatenate([op.inputs[3].data, op.inputs[4].data])
    _recurrent(
        e, op, "GRU", w, r, bias, units,
        activations=["Sigmoid", _activation(op)],
        linear_before_reset=int(bool(op.attrs["reset_after"])),
    )  # fmt: skip


def gather(e: Emitter, op: Op) -> None:
    params, indices = op.inputs
    source = e.get(params)
    e.node("Gather", [source, e.get(indices)], op.outputs[0].name, axis=int(op.attrs["axis"]))
    e.set(op.outputs[0], NHWC, op.outputs[0].name)


def reverse_v2(e: Emitter, op: Op) -> None:
    axes = [int(a) for a in op.inputs[1].data.reshape(-1)]
    base = op.outputs[0].name
    lowest = np.iinfo(np.int64).min
    inputs = [
        e.get(op.inputs[0]),
        e.initializer(f"{base}/starts", np.full(len(axes), -1, np.int64)),
        e.initializer(f"{base}/ends", np.full(len(axes), lowest, np.int64)),
        e.initializer(f"{base}/axes", np.array(axes, np.int64)),
        e.initializer(f"{base}/steps", np.full(len(axes), -1, np.int64)),
    ]
    e.node("Slice", inputs, base)
    e.set(op.outputs[0], NHWC, base)


_OPS = ("UNIDIRECTIONAL_SEQUENCE_LSTM", "UNIDIRECTIONAL_SEQUENCE_RNN", "GRU")

RECURRENT_CONVERTERS = {
    "UNIDIRECTIONAL_SEQUENCE_LSTM": lstm,
    "UNIDIRECTIONAL_SEQUENCE_RNN": rnn,
    "GRU": gru,
    "GATHER": gather,
    "REVERSE_V2": reverse_v2,
}
