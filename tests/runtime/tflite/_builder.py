"""A tiny test-only TFLite writer driven by ``runtime.tflite.schema``.

It writes any table from nested dicts, so tests can build small single-op models (checked
against LiteRT) and hand-crafted hostile files. Not the project's writer (that one lives in
``compiler/export/tflite``).
"""

from __future__ import annotations

import flatbuffers
import numpy as np
from flatbuffers import number_types as nt

from runtime.tflite import schema
from runtime.tflite.schema import BuiltinOperator, TensorType

_SLOT_ADDERS = {
    "bool": "PrependBoolSlot",
    "int8": "PrependInt8Slot",
    "uint8": "PrependUint8Slot",
    "int16": "PrependInt16Slot",
    "uint16": "PrependUint16Slot",
    "int32": "PrependInt32Slot",
    "uint32": "PrependUint32Slot",
    "int64": "PrependInt64Slot",
    "uint64": "PrependUint64Slot",
    "float32": "PrependFloat32Slot",
    "float64": "PrependFloat64Slot",
}
_NUMPY = {
    "bool": np.bool_,
    "int8": np.int8,
    "uint8": np.uint8,
    "int16": np.int16,
    "uint16": np.uint16,
    "int32": np.int32,
    "uint32": np.uint32,
    "int64": np.int64,
    "uint64": np.uint64,
    "float32": np.float32,
    "float64": np.float64,
}
_FLAGS = {
    "bool": nt.BoolFlags,
    "int8": nt.Int8Flags,
    "uint8": nt.Uint8Flags,
    "int16": nt.Int16Flags,
    "uint16": nt.Uint16Flags,
    "int32": nt.Int32Flags,
    "uint32": nt.Uint32Flags,
    "int64": nt.Int64Flags,
    "uint64": nt.Uint64Flags,
    "float32": nt.Float32Flags,
    "float64": nt.Float64Flags,
}


def _vector(b: flatbuffers.Builder, element: str, values, align: int = 0) -> int:
    arr = np.asarray(values, dtype=_NUMPY[element])
    size = arr.dtype.itemsize
    b.StartVector(size, len(arr), max(align, size))
    for v in arr[::-1]:
        b.Prepend(_FLAGS[element], v.item())
    return b.EndVector()


def encode_table(b: flatbuffers.Builder, table: str, values: dict) -> int:
    """Write ``values`` (field name -> value) as a table of type ``table``; returns its offset."""
    tdef = schema.TABLES[table]
    offsets = {}
    for f in tdef.fields:
        if f.name not in values or values[f.name] is None:
            continue
        v = values[f.name]
        if f.type == "string":
            offsets[f.name] = b.CreateString(v)
        elif f.type == "table":
            offsets[f.name] = encode_table(b, f.ref, v)
        elif f.type == "union":
            member, body = v
            offsets[f.name] = encode_table(b, member, body)
        elif f.type == "vector" and f.element == "table":
            items = [encode_table(b, f.ref, item) for item in v]
            b.StartVector(4, len(items), 4)
            for off in reversed(items):
                b.PrependUOffsetTRelative(off)
            offsets[f.name] = b.EndVector()
        elif f.type == "vector":
            align = schema.BUFFER_ALIGNMENT if (table, f.name) == ("Buffer", "data") else 0
            offsets[f.name] = _vector(b, f.element, v, align)
    b.StartObject(tdef.num_slots)
    for f in tdef.fields:
        if f.name in offsets:
            b.PrependUOffsetTRelativeSlot(f.slot, offsets[f.name], 0)
        elif f.name in values and values[f.name] is not None and f.type in _SLOT_ADDERS:
            # The builder forces defaults, so explicitly given values are always written.
            getattr(b, _SLOT_ADDERS[f.type])(f.slot, values[f.name], f.default)
    return b.EndObject()


def build(model: dict) -> bytes:
    """Serialize a Model dict (with ``TFL3`` identifier)."""
    b = flatbuffers.Builder(1024)
    b.ForceDefaults(True)
    root = encode_table(b, "Model", {"version": 3, **model})
    b.Finish(root, file_identifier=schema.FILE_IDENTIFIER)
    return bytes(b.Output())


def tensor(
    shape,
    ttype=TensorType.FLOAT32,
    name="t",
    buffer=0,
    scale=None,
    zero_point=None,
    quantized_dimension=0,
    shape_signature=None,
):
    """A Tensor dict; ``scale``/``zero_point`` may be scalars or sequences."""
    t = {"shape": list(shape), "type": int(ttype), "name": name, "buffer": buffer}
    if shape_signature is not None:
        t["shape_signature"] = list(shape_signature)
    if scale is not None:
        t["quantization"] = {
            "scale": np.atleast_1d(np.asarray(scale, np.float32)).tolist(),
            "zero_point": np.atleast_1d(
                np.asarray(0 if zero_point is None else zero_point, np.int64)
            ).tolist(),
            "quantized_dimension": quantized_dimension,
        }
    return t


def string_buffer(items) -> bytes:
    """LiteRT's string tensor buffer (``tensorflow/lite/string_util.h``): int32 count, count + 1
    int32 offsets from the buffer's start (the last is its length), then the bytes."""
    items = [s.encode() if isinstance(s, str) else bytes(s) for s in items]
    offsets = [4 * (len(items) + 2)]
    for s in items:
        offsets.append(offsets[-1] + len(s))
    return np.array([len(items), *offsets], "<i4").tobytes() + b"".join(items)


class GraphBuilder:
    """Collects tensors, constant buffers and operators of one main subgraph."""

    def __init__(self):
        self.tensors, self.buffers, self.operators = [], [{}], []
        self.opcodes: list[tuple[int, int]] = []
        self.subgraphs: list[dict] = []

    def add(
        self, shape, ttype=TensorType.FLOAT32, name=None, data=None, is_variable=False, **quant
    ) -> int:
        buffer = 0
        if data is not None:
            if ttype == TensorType.STRING:
                raw = string_buffer(np.asarray(data, dtype=object).reshape(shape).ravel())
            else:
                dtype = schema.TENSOR_TYPE_TO_NUMPY[ttype]
                raw = np.ascontiguousarray(np.asarray(data, dtype=dtype).reshape(shape)).tobytes()
            self.buffers.append({"data": np.frombuffer(raw, np.uint8).tolist()})
            buffer = len(self.buffers) - 1
        self.tensors.append(tensor(shape, ttype, name or f"t{len(self.tensors)}", buffer, **quant))
        if is_variable:
            self.tensors[-1]["is_variable"] = True
        return len(self.tensors) - 1

    def op(
        self, code: BuiltinOperator, inputs, outputs, options: dict | None = None, version: int = 1
    ) -> None:
        key = (int(code), version)
        if key not in self.opcodes:
            self.opcodes.append(key)
        entry = {
            "opcode_index": self.opcodes.index(key),
            "inputs": list(inputs),
            "outputs": list(outputs),
        }
        opt_type = schema.OPTIONS_OF_OP.get(code)
        if opt_type is not None:
            entry["builtin_options_type"] = int(opt_type)
            entry["builtin_options"] = (opt_type.name, options or {})
        self.operators.append(entry)

    def sub(self) -> GraphBuilder:
        """A builder for another subgraph of this model: it shares this one's buffers and
        operator codes; ``add_subgraph`` appends it."""
        child = GraphBuilder()
        child.buffers, child.opcodes = self.buffers, self.opcodes
        return child

    def add_subgraph(self, child: GraphBuilder, inputs, outputs, name="sub") -> int:
        """Append ``child`` (made by ``sub``) as a subgraph; returns its index in the model."""
        self.subgraphs.append(
            {
                "tensors": child.tensors,
                "inputs": list(inputs),
                "outputs": list(outputs),
                "operators": child.operators,
                "name": name,
            }
        )
        return len(self.subgraphs)

    def custom(self, name: str, inputs, outputs, custom_options: bytes = b"") -> None:
        """A CUSTOM operator ``name`` whose custom_options are the given raw bytes."""
        key = (int(BuiltinOperator.CUSTOM), 1, name)
        if key not in self.opcodes:
            self.opcodes.append(key)
        self.operators.append(
            {
                "opcode_index": self.opcodes.index(key),
                "inputs": list(inputs),
                "outputs": list(outputs),
                "custom_options": list(custom_options),
            }
        )

    def finish(self, inputs, outputs, signature=True) -> bytes:
        main = {
            "tensors": self.tensors,
            "inputs": list(inputs),
            "outputs": list(outputs),
            "operators": self.operators,
            "name": "main",
        }
        model = {
            "operator_codes": [
                {
                    "deprecated_builtin_code": schema.deprecated_builtin_code(key[0]),
                    "builtin_code": key[0],
                    "version": key[1],
                    # (code, version, name) keys are custom operators
                    "custom_code": key[2] if len(key) > 2 else None,
                }
                for key in self.opcodes
            ],
            "subgraphs": [main, *self.subgraphs],
            "buffers": self.buffers,
        }
        if signature:
            model["signature_defs"] = [
                {
                    "signature_key": "serving_default",
                    "subgraph_index": 0,
                    "inputs": [
                        {"name": self.tensors[i]["name"], "tensor_index": i} for i in inputs
                    ],
                    "outputs": [
                        {"name": self.tensors[i]["name"], "tensor_index": i} for i in outputs
                    ],
                }
            ]
        return build(model)
