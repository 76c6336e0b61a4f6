"""Keras-style training, graph compilation and int8 export to ``.tflite`` and ``.onnx``.

``from compiler import keras`` gives the training frontend; ``compiler.compile(...)`` turns a
model (or a ``.keras`` file) into mobile model files.
"""

__all__ = ["keras", "compile"]


def __getattr__(name):
    # Lazy: the ``compile`` command and the runtime must not pay for the frontend at import.
    if name == "keras":
        import importlib

        return importlib.import_module("compiler.keras")
    if name == "compile":
        from compiler.driver import compile

        return compile
    raise AttributeError(f"module 'compiler' has no attribute {name!r}")
