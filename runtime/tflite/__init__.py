"""Reference interpreter for ``.tflite`` flatbuffers: LiteRT's Python API over numpy kernels.

- ``schema``: our description of the TFLite schema subset (enums, table slots, defaults),
  shared with the compiler's writer.
- ``model.read_model``: a bounds-checked reader; every inconsistency is an
  ``InvalidModelError`` naming what is wrong.
- ``Interpreter``: ``ai_edge_litert.interpreter.Interpreter``'s API. Kernels follow TFLite's
  *reference* kernels: int8 results are bit-exact with LiteRT run with
  ``OpResolverType.BUILTIN_REF``; float and hybrid (dynamic-range) results agree within 1e-5.
- ``kernels.REGISTRY``: builtin operator -> kernel ``prepare``.
"""

__all__ = ["Interpreter"]


def __getattr__(name):
    # Lazy: importing ``runtime.tflite.schema`` (the compiler's writer does) must stay cheap.
    if name == "Interpreter":
        from runtime.tflite.interpreter import Interpreter

        return Interpreter
    raise AttributeError(f"module 'runtime.tflite' has no attribute {name!r}")
