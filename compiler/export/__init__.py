"""Model writers: ``tflite`` (flatbuffers) and ``onnx`` (the onnx package), imported lazily so
that writing one format does not pay for the other."""

from compiler.export.errors import ExportError

__all__ = ["ExportError", "write_tflite", "write_onnx"]


def __getattr__(name):
    if name == "write_tflite":
        from compiler.export.tflite import write_tflite

        return write_tflite
    if name == "write_onnx":
        from compiler.export.onnx import write_onnx

        return write_onnx
    raise AttributeError(f"module 'compiler.export' has no attribute {name!r}")
