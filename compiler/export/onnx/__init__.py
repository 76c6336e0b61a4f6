"""The ``.onnx`` writer (the ``onnx`` package; NHWC model I/O, NCHW convolutions inside)."""

from compiler.export.onnx.writer import DEFAULT_OPSET, SUPPORTED_OPSETS, to_onnx_model, write_onnx

__all__ = ["write_onnx", "to_onnx_model", "DEFAULT_OPSET", "SUPPORTED_OPSETS"]
