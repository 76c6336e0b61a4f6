"""Running a file on this project's runtime, LiteRT (reference and default kernels) and
onnxruntime, and the Keras model; the optional runtimes load only when first used."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys

import numpy as np

from compiler._messages import one_line
from compiler.verify._ports import KerasModel, ModelFile, VerifyError


def _run_interpreter(interpreter, f: ModelFile, feeds: dict) -> list[np.ndarray]:
    for port in f.inputs:
        value = feeds[port.key]
        if tuple(value.shape) != tuple(interpreter.get_tensor(port.key).shape):
            interpreter.resize_tensor_input(port.key, list(value.shape))
    interpreter.allocate_tensors()
    for port in f.inputs:
        interpreter.set_tensor(port.key, feeds[port.key])
    interpreter.invoke()
    return [np.array(interpreter.get_tensor(p.key)) for p in f.outputs]


def _run_ours(f: ModelFile, feeds: dict) -> list[np.ndarray]:
    try:
        if f.kind == "tflite":
            f.ours.allocate_tensors()
            return _run_interpreter(f.ours, f, feeds)
        return [np.asarray(a) for a in f.ours.run([p.key for p in f.outputs], feeds)]
    except ValueError as exc:
        raise VerifyError(f"{f.label} failed on this project's runtime: {one_line(exc)}") from None


def _optional(module: str, package: str):
    try:
        return importlib.import_module(module), None
    except ImportError:
        return None, f"{package} not installed"


@contextlib.contextmanager
def _native_stderr_silenced():
    """LiteRT's C++ writes "INFO: Created TensorFlow Lite XNNPACK delegate" straight to file
    descriptor 2 when an interpreter first runs; the command's stderr is kept for its errors.
    Failures still reach the caller as exceptions."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no usable descriptor 2 (embedded use): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _run_litert(f: ModelFile, feeds: dict, reference: bool):
    module, missing = _optional("ai_edge_litert.interpreter", "ai_edge_litert")
    if module is None:
        return None, missing
    kwargs = (
        {"experimental_op_resolver_type": module.OpResolverType.BUILTIN_REF} if reference else {}
    )
    with _native_stderr_silenced():
        interpreter = module.Interpreter(model_content=f.content, **kwargs)
        interpreter.allocate_tensors()
        return _run_interpreter(interpreter, f, feeds), None


def onnxruntime_session(source):
    """An onnxruntime CPU session on ``source`` (a path or the file's bytes) that keeps int8 exact.

    On x86 CPUs without VNNI, onnxruntime by default rewrites int8 QDQ groups to uint8
    activations, and its uint8 x int8 kernels saturate pairwise sums to int16: results then
    drift from the file's arithmetic by many steps. Keeping int8 keeps them exact; ARM phones
    are not affected either way. Its MatMulNBits fusion (int8 weights through DequantizeLinear
    into MatMul) computes with int8 activations by default; accuracy level 1 (float) keeps the
    arithmetic of int16 (16x8) activations as the file states it.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.qdqisint8allowed", "1")
    options.add_session_config_entry("session.qdq_matmulnbits_accuracy_level", "1")
    return onnxruntime.InferenceSession(
        str(source) if not isinstance(source, bytes) else source,
        options,
        providers=["CPUExecutionProvider"],
    )


def _run_onnxruntime(f: ModelFile, feeds: dict):
    module, missing = _optional("onnxruntime", "onnxruntime")
    if module is None:
        return None, missing
    session = onnxruntime_session(f.content)
    return session.run([p.key for p in f.outputs], feeds), None


def _run_keras(keras: KerasModel, data: list[np.ndarray]) -> list[np.ndarray]:
    x = data[0] if len(data) == 1 else list(data)
    try:
        y = keras.model.predict(x, verbose=0)
    except Exception as exc:
        raise VerifyError(f"--against: {keras.path} failed to run: {one_line(exc)}") from None
    y = list(y.values()) if isinstance(y, dict) else y
    return [np.asarray(a) for a in (y if isinstance(y, (list, tuple)) else [y])]
