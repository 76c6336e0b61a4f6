"""The ONNX half of the reference runtime: ``InferenceSession`` with onnxruntime's Python API."""

from runtime.onnx.session import InferenceSession, ModelMetadata, NodeArg

__all__ = ["InferenceSession", "ModelMetadata", "NodeArg"]
