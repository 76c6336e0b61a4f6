"""Loading ``.tflite`` / ``.onnx`` files on this project's runtime, and the ``--against`` Keras
model, with the ports (inputs and outputs) verify matches and feeds.

The runtime, ``onnx`` and the frontend are imported only when a file that needs them is loaded.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from compiler._messages import one_line
from compiler.verify._ports import _QUANT_TYPES, KerasModel, ModelFile, Port, VerifyError


def _clean(name: str) -> str:
    """TFLiteConverter's ``serving_default_a:0`` -> ``a``; tf2onnx's ``x:0`` -> ``x``."""
    name = name.removeprefix("serving_default_")
    return re.sub(r":0$", "", name)


def _natural(name: str):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def _tflite_file(path: Path, content: bytes) -> ModelFile:
    from runtime import Interpreter
    from runtime.tflite import schema
    from runtime.tflite.model import read_model

    ours = Interpreter(model_content=content)
    model = read_model(content)
    sg = model.subgraphs[0]
    sig = next((s for s in model.signature_defs if s.subgraph_index == 0), None)
    in_names = {i: k for k, i in sig.inputs.items()} if sig else {}
    out_names = {i: k for k, i in sig.outputs.items()} if sig else {}
    consumers, producers = {}, {}
    for op in sg.operators:
        for i in op.inputs:
            consumers.setdefault(i, op)
        for o in op.outputs:
            producers[o] = op

    def params(t):
        q = sg.tensors[t].quantization
        if q is None or len(q.scale) != 1:
            return None, 0
        return float(q.scale[0]), int(q.zero_point[0])

    def port(t: int, names: dict, neighbour) -> Port:
        tensor = sg.tensors[t]
        sig_shape = tensor.shape_signature or tensor.shape
        name = names.get(t, tensor.name)
        scale, zp = params(t)
        if scale is None and neighbour is not None:
            scale, zp = neighbour
        return Port(
            name=name,
            key=t,
            shape=tuple(None if d < 0 else int(d) for d in sig_shape),
            dtype=np.dtype(tensor.dtype),
            aliases=frozenset({tensor.name, _clean(tensor.name)}),
            scale=scale,
            zero_point=zp,
        )

    def quantize_params(op):
        """Parameters of the QUANTIZE that a float input feeds (its int8 range)."""
        if op is None or op.op != schema.BuiltinOperator.QUANTIZE:
            return None
        scale, zp = params(op.outputs[0])
        return None if scale is None else (scale, zp)

    def dequantize_params(op):
        """Parameters of the int8 tensor that the DEQUANTIZE giving a float output reads."""
        if op is None or op.op != schema.BuiltinOperator.DEQUANTIZE:
            return None
        scale, zp = params(op.inputs[0])
        return None if scale is None else (scale, zp)

    in_order = list(sig.inputs.values()) if sig else list(sg.inputs)
    out_order = (
        [sig.outputs[k] for k in sorted(sig.outputs, key=_natural)] if sig else list(sg.outputs)
    )
    # A signature that does not list the graph's own inputs and outputs is not trusted.
    if sorted(in_order) != sorted(sg.inputs):
        in_order = list(sg.inputs)
    if sorted(out_order) != sorted(sg.outputs):
        out_order = list(sg.outputs)
    inputs = [port(t, in_names, quantize_params(consumers.get(t))) for t in in_order]
    outputs = [port(t, out_names, dequantize_params(producers.get(t))) for t in out_order]
    types = schema.TensorType
    reduced = (types.INT8, types.UINT8, types.INT16, types.FLOAT16)
    quantized = any(t.type in reduced for s in model.subgraphs for t in s.tensors)
    return ModelFile(path, "tflite", content, inputs, outputs, quantized, ours)


_ONNX_TYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(int16)": "int16",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(bool)": "bool",
}
_ONNX_QUANT_OPS = {
    "QuantizeLinear",
    "DequantizeLinear",
    "DynamicQuantizeLinear",
    "MatMulInteger",
    "ConvInteger",
    "QLinearConv",
    "QLinearMatMul",
}


def _onnx_file(path: Path, content: bytes) -> ModelFile:
    import onnx
    from onnx import numpy_helper

    from runtime import InferenceSession

    ours = InferenceSession(content)
    graph = onnx.load_model_from_string(content).graph
    consts = {t.name: t for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            consts[node.output[0]] = node.attribute[0].t

    def scalar_params(node):
        try:
            scale = numpy_helper.to_array(consts[node.input[1]])
            zp = numpy_helper.to_array(consts[node.input[2]]) if len(node.input) > 2 else 0
        except (KeyError, IndexError, ValueError):
            return None
        if np.size(scale) != 1 or np.size(zp) != 1:
            return None
        return float(np.ravel(scale)[0]), int(np.ravel(zp)[0])

    consumers, producers = {}, {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, node)
        for name in node.output:
            producers[name] = node

    def port(arg, node, op_type) -> Port:
        found = scalar_params(node) if node is not None and node.op_type == op_type else None
        dtype = _ONNX_TYPES.get(arg.type)
        if dtype is None:
            raise VerifyError(f"{path}: {arg.name!r} has type {arg.type}, which verify cannot feed")
        shape = tuple(d if isinstance(d, int) and d >= 0 else None for d in arg.shape or ())
        return Port(
            name=arg.name,
            key=arg.name,
            shape=shape,
            dtype=np.dtype(dtype),
            aliases=frozenset({_clean(arg.name)}),
            scale=found[0] if found else None,
            zero_point=found[1] if found else 0,
        )

    inputs = [
        port(a, consumers.get(a.name), "DequantizeLinear")
        if _ONNX_TYPES.get(a.type) in _QUANT_TYPES
        else port(a, consumers.get(a.name), "QuantizeLinear")
        for a in ours.get_inputs()
    ]
    outputs = [
        port(a, producers.get(a.name), "QuantizeLinear")
        if _ONNX_TYPES.get(a.type) in _QUANT_TYPES
        else port(a, producers.get(a.name), "DequantizeLinear")
        for a in ours.get_outputs()
    ]
    reduced = {onnx.TensorProto.INT8, onnx.TensorProto.UINT8, onnx.TensorProto.FLOAT16}
    quantized = any(n.op_type in _ONNX_QUANT_OPS for n in graph.node) or any(
        t.data_type in reduced for t in graph.initializer
    )
    return ModelFile(path, "onnx", content, inputs, outputs, quantized, ours)


def load_file(path: Path) -> ModelFile:
    """Reads a ``.tflite`` or ``.onnx`` file and loads it on this project's runtime."""
    if path.suffix not in (".tflite", ".onnx"):
        raise VerifyError(f"{path}: expected a .tflite or .onnx file")
    if path.exists() and not path.is_file():  # a FIFO would block the read for ever
        raise VerifyError(f"cannot read {path}: not a regular file")
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise VerifyError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        if path.suffix == ".tflite":
            return _tflite_file(path, content)
        return _onnx_file(path, content)
    except VerifyError:
        raise
    except Exception as exc:  # a corrupt file may break any parser: report it, do not crash
        raise VerifyError(f"cannot load {path}: {one_line(exc)}") from None


def load_keras(path: Path) -> KerasModel:
    """Loads ``--against``'s ``.keras`` file with the frontend."""
    if not path.is_file():
        problem = "not a regular file" if path.exists() else "no such file"
        raise VerifyError(f"--against: cannot read {path}: {problem}")
    from compiler.keras.models import load_model

    try:
        model = load_model(str(path), compile=False)  # only predict runs: no training setup
    except Exception as exc:  # the frontend's loader raises many types for a bad file
        raise VerifyError(f"--against: cannot load {path}: {one_line(exc)}") from None
    inputs = [
        Port(t.name, i, tuple(t.shape), np.dtype(t.dtype)) for i, t in enumerate(model.inputs)
    ]
    outputs = [
        Port(name, i, tuple(t.shape), np.dtype("float32"))
        for i, (name, t) in enumerate(zip(model.output_names, model.outputs))
    ]
    return KerasModel(path, model, inputs, outputs)


def _labels(paths: list[Path]) -> list[str]:
    """File names, with as many parent folders as it takes to tell same-named files apart."""
    labels = []
    for path in paths:
        parts = path.parts
        for n in range(1, len(parts) + 1):
            tail = parts[-n:]
            if all(p == path or p.parts[-n:] != tail for p in paths):
                break
        labels.append(str(Path(*tail)))
    return labels
