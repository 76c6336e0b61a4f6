"""Trigonometric and hyperbolic ops: Cos, Sin, Tan, Acos, Asin, Atan, Acosh, Asinh, Atanh, Cosh,
Sinh (onnx.ai/onnx/operators), in the input's float type.

Arguments outside an inverse function's domain give NaN, as in C's libm that onnxruntime uses.
"""

import numpy as np

from runtime._fperrors import quiet


def _unary(fn, x):
    with quiet():  # (np.errstate's effect without its per-call cost)
        return np.asarray(fn(x), dtype=x.dtype)


def Cos(input):  # noqa: A002 - ONNX input name
    return _unary(np.cos, input)


def Sin(input):  # noqa: A002
    return _unary(np.sin, input)


def Tan(input):  # noqa: A002
    return _unary(np.tan, input)


def Acos(input):  # noqa: A002
    return _unary(np.arccos, input)


def Asin(input):  # noqa: A002
    return _unary(np.arcsin, input)


def Atan(input):  # noqa: A002
    return _unary(np.arctan, input)


def Acosh(input):  # noqa: A002
    return _unary(np.arccosh, input)


def Asinh(input):  # noqa: A002
    return _unary(np.arcsinh, input)


def Atanh(input):  # noqa: A002
    return _unary(np.arctanh, input)


def Cosh(input):  # noqa: A002
    return _unary(np.cosh, input)


def Sinh(input):  # noqa: A002
    return _unary(np.sinh, input)
