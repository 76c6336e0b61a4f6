"""Activation and elementwise-math IR ops as ONNX nodes (onnx.ai/onnx/operators).

HARD_SWISH is ``HardSwish`` from opset 14 and ``x * HardSigmoid(x; 1/6, 1/2)`` below; PRELU is
``PRelu`` (the slope broadcasts in either layout); LOG_SOFTMAX is ``LogSoftmax`` over the
channel axis; RSQRT is ``Reciprocal(Sqrt)``; SQUARE is ``Mul(x, x)``; SUM / REDUCE_MAX /
REDUCE_MIN are ``ReduceSum`` (axes as an input from opset 13) / ``ReduceMax`` / ``ReduceMin``
(axes as an input from opset 18), in NCHW when the input already is and the kept axes allow.
HARD_SIGMOID, SOFTPLUS, MISH and SELU are their ONNX nodes (an opset without the node never
sees them: ``DecomposeActivationsPass`` rewrote them).
"""

from __future__ import annotations

from compiler.export.onnx._emitter import NCHW, NHWC, TO_NCHW, Emitter, nchw_axis
from compiler.export.onnx._ops import _finish, _scalar_shape, _unary
from compiler.ir import Op
from compiler.passes.decompose_activations import SELU_ALPHA, SELU_SCALE

__all__ = ["MATH_CONVERTERS"]


def _layout(e: Emitter, values) -> str:
    return NCHW if e.prefers_nchw(values) else NHWC


def hard_swish(e: Emitter, op: Op) -> None:
    x = op.inputs[0]
    layout = _layout(e, [x])
    source = e.get(x, layout)
    if e.opset >= 14:
        _finish(e, op, layout, "HardSwish", [source])
        return
    gate = e.node("HardSigmoid", [source], base=f"{op.outputs[0].name}/gate", alpha=1 / 6, beta=0.5)
    _finish(e, op, layout, "Mul", [source, gate])


def prelu(e: Emitter, op: Op) -> None:
    layout = _layout(e, op.inputs)
    _finish(e, op, layout, "PRelu", [e.get(v, layout) for v in op.inputs])


def log_softmax(e: Emitter, op: Op) -> None:
    x = op.inputs[0]
    layout = _layout(e, [x])
    _finish(e, op, layout, "LogSoftmax", [e.get(x, layout)], axis=1 if layout == NCHW else -1)


def square(e: Emitter, op: Op) -> None:
    x = op.inputs[0]
    layout = _layout(e, [x])
    source = e.get(x, layout)
    _finish(e, op, layout, "Mul", [source, source])


def rsqrt(e: Emitter, op: Op) -> None:
    x = op.inputs[0]
    layout = _layout(e, [x])
    root = e.node("Sqrt", [e.get(x, layout)], base=f"{op.outputs[0].name}/sqrt")
    _finish(e, op, layout, "Reciprocal", [root])


def divide(e: Emitter, op: Op) -> None:
    layout = _layout(e, op.inputs)
    _finish(e, op, layout, "Div", [e.get(v, layout) for v in op.inputs])


def _reduce(onnx_type: str, axes_input_from: int):
    def convert(e: Emitter, op: Op) -> None:
        x, out = op.inputs[0], op.outputs[0]
        axes = sorted(int(a) % x.rank for a in op.inputs[1].data.reshape(-1))
        keep = bool(op.attrs["keep_dims"])
        layout = NHWC
        if x.rank == 4 and e.prefers_nchw([x]):
            kept_nhwc = [d for d in range(4) if d not in axes]
            kept_nchw = [d for d in TO_NCHW if d not in axes]
            if keep or kept_nhwc == kept_nchw:
                layout = NCHW
                axes = sorted(nchw_axis(a) for a in axes)
        source = e.get(x, layout)
        out_layout = layout if keep else NHWC
        name = e.output_name(out, out_layout)
        if e.opset >= axes_input_from:
            e.node(onnx_type, [source, _scalar_shape(e, axes)], name, keepdims=int(keep))
        else:
            e.node(onnx_type, [source], name, axes=axes, keepdims=int(keep))
        e.set(out, out_layout, name)

    return convert


def _native(onnx_type: str, **attrs):
    """HARD_SIGMOID / SOFTPLUS / MISH / SELU, kept only where the opset has the node
    (``DecomposeActivationsPass``)."""
    return _unary(onnx_type, **attrs)


MATH_CONVERTERS = {
    # Keras 3's hard sigmoid relu6(x + 3) / 6 is HardSigmoid(alpha=1/6, beta=1/2).
    "HARD_SIGMOID": _native("HardSigmoid", alpha=1 / 6, beta=0.5),
    "SOFTPLUS": _native("Softplus"),
    "MISH": _native("Mish"),
    # Keras's constants (ONNX's defaults are the same numbers rounded to float32).
    "SELU": _native("Selu", alpha=SELU_ALPHA, gamma=SELU_SCALE),
    "HARD_SWISH": hard_swish,
    "PRELU": prelu,
    "LOG_SOFTMAX": log_softmax,
    "EXP": _unary("Exp"),
    "LOG": _unary("Log"),
    "ABS": _unary("Abs"),
    "NEG": _unary("Neg"),
    "SQRT": _unary("Sqrt"),
    "RSQRT": rsqrt,
    "SQUARE": square,
    "DIV": divide,
    "SUM": _reduce("ReduceSum", 13),
    "REDUCE_MAX": _reduce("ReduceMax", 18),
    "REDUCE_MIN": _reduce("ReduceMin", 18),
}
