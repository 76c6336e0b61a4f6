"""Activation and elementwise-math IR ops as TFLite builtins: HARD_SWISH, PRELU, LOG_SOFTMAX,
EXP, LOG, ABS, NEG, SQRT, RSQRT, SQUARE, DIV, SUM, REDUCE_MAX, REDUCE_MIN.

Versions follow ``tools/versioning/op_version.cc`` and the ranges LiteRT registers
(``kernels/register_ref.cc``): HARD_SWISH, PRELU, LOG, NEG, SQRT and SQUARE have one version
for every type; LOG_SOFTMAX, EXP, RSQRT, SUM, REDUCE_MAX and REDUCE_MIN are version 2 in int8.
Minimum runtimes are from ``tools/versioning/runtime_version.cc``.
"""

from __future__ import annotations

from compiler.export.tflite._ops import OpWriter
from compiler.ir import Op
from runtime.tflite import schema

__all__ = ["MATH_WRITERS", "MATH_RUNTIME"]

_B = schema.BuiltinOperator


def _int8(op: Op) -> bool:
    return op.inputs[0].dtype == "int8"


def _one(op: Op) -> int:
    return 1


def _two_if_int8(op: Op) -> int:
    return 2 if _int8(op) else 1


def _reducer(op: Op) -> dict:
    return {"keep_dims": bool(op.attrs["keep_dims"])}


_ACT = lambda op: {  # noqa: E731
    "fused_activation_function": int(schema.ActivationFunctionType[op.attrs["activation"]])
}

MATH_WRITERS = {
    "HARD_SWISH": OpWriter(_B.HARD_SWISH, None, _one),
    "PRELU": OpWriter(_B.PRELU, None, _one),
    "LOG_SOFTMAX": OpWriter(_B.LOG_SOFTMAX, lambda op: {}, _two_if_int8),
    "EXP": OpWriter(_B.EXP, lambda op: {}, _two_if_int8),
    "LOG": OpWriter(_B.LOG, None, _one),
    "ABS": OpWriter(_B.ABS, lambda op: {}, _one),
    "NEG": OpWriter(_B.NEG, lambda op: {}, _one),
    "SQRT": OpWriter(_B.SQRT, None, _one),
    "RSQRT": OpWriter(_B.RSQRT, None, _two_if_int8),
    "SQUARE": OpWriter(_B.SQUARE, lambda op: {}, _one),
    "DIV": OpWriter(_B.DIV, _ACT, _one),
    "SUM": OpWriter(_B.SUM, _reducer, _two_if_int8),
    "REDUCE_MAX": OpWriter(_B.REDUCE_MAX, _reducer, _two_if_int8),
    "REDUCE_MIN": OpWriter(_B.REDUCE_MIN, _reducer, _two_if_int8),
}

MATH_RUNTIME = {
    (_B.HARD_SWISH, 1): "1.15.0",
    (_B.PRELU, 1): "1.8.0",
    (_B.LOG_SOFTMAX, 1): "1.14.0",
    (_B.LOG_SOFTMAX, 2): "1.14.0",
    (_B.EXP, 1): "1.7.0",
    (_B.LOG, 1): "1.14.0",
    (_B.ABS, 1): "1.13.0",
    (_B.NEG, 1): "1.9.0",
    (_B.SQRT, 1): "1.10.0",
    (_B.RSQRT, 1): "1.10.0",
    (_B.RSQRT, 2): "2.5.0",
    (_B.SQUARE, 1): "1.12.0",
    (_B.DIV, 1): "1.6.0",
    (_B.SUM, 1): "1.10.0",
    (_B.SUM, 2): "1.15.0",
    (_B.REDUCE_MAX, 1): "1.11.0",
    (_B.REDUCE_MAX, 2): "1.14.0",
    (_B.REDUCE_MIN, 1): "1.11.0",
    (_B.REDUCE_MIN, 2): "1.14.0",
}
