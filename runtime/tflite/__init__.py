"""Reference interpreter for ``.tflite`` flatbuffers (LiteRT's Python API, numpy kernels)."""

__all__ = ["Interpreter"]


def __getattr__(name):
    # Lazy: importing ``runtime.tflite.schema`` (the compiler's writer does) must stay cheap.
    if name == "Interpreter":
        from runtime.tflite.interpreter import Interpreter

        return Interpreter
    raise AttributeError(f"module 'runtime.tflite' has no attribute {name!r}")
