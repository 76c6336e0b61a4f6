"""The ONNX half of the reference runtime: ``InferenceSession`` with onnxruntime's Python API.

Example:
    >>> from runtime import InferenceSession
    >>> session = InferenceSession("model.onnx")
    >>> (probabilities,) = session.run(None, {session.get_inputs()[0].name: images})

``InferenceSession(path, keep_intermediates=True)`` keeps every value of the last run in
``session.intermediates`` for op-by-op comparisons. The ops implemented are listed in
``runtime.onnx.ops.REGISTRY``; a model using anything else is refused at load time with
``UnsupportedOpError``, and a corrupt or hostile file with ``InvalidModelError``.
"""

from runtime.onnx.session import InferenceSession, ModelMetadata, NodeArg

__all__ = ["InferenceSession", "ModelMetadata", "NodeArg"]
