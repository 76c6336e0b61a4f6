"""A pure-numpy reference runtime for ``.tflite`` and ``.onnx`` files.

``Interpreter`` follows LiteRT's ``ai_edge_litert.interpreter.Interpreter`` Python API and
``InferenceSession`` follows onnxruntime's. This package never imports ``compiler``: it is the
independent check of what the compiler writes.
"""

from runtime._budget import Limits
from runtime.errors import (
    BudgetExceededError,
    InvalidInputError,
    InvalidModelError,
    KernelError,
    UnsupportedOpError,
)

__all__ = [
    "BudgetExceededError",
    "Interpreter",
    "InferenceSession",
    "Limits",
    "InvalidInputError",
    "InvalidModelError",
    "KernelError",
    "UnsupportedOpError",
]


def __getattr__(name):
    # Lazy, so that importing one format's runtime does not pay for the other's.
    if name == "Interpreter":
        from runtime.tflite.interpreter import Interpreter

        return Interpreter
    if name == "InferenceSession":
        from runtime.onnx.session import InferenceSession

        return InferenceSession
    raise AttributeError(f"module 'runtime' has no attribute {name!r}")
