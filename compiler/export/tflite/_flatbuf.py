"""Writing TFLite tables with the ``flatbuffers`` Builder, by field name.

Field slots, scalar types and defaults come from ``runtime.tflite.schema`` (our description of
the schema), so the writer and the runtime's reader cannot disagree. Scalars equal to their
default are omitted, as flatc-generated code does.
"""

from __future__ import annotations

import flatbuffers
import numpy as np

from runtime.tflite import schema

__all__ = ["FlatWriter"]

_PREPEND_SLOT = {
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
_NUMPY = {name: np.dtype(fmt) for name, (fmt, _) in schema.SCALAR_FORMAT.items()}


class FlatWriter:
    """A flatbuffers Builder with helpers that take schema table and field names."""

    def __init__(self, initial_size: int = 1 << 16):
        self.builder = flatbuffers.Builder(initial_size)
        self._shared: dict = {}

    def shared(self, key, make) -> int:
        """The offset of an object written once and referenced wherever ``key`` recurs:
        a flatbuffer may point at one vector or table from many places, and per-channel
        quantization vectors (all-zero zero points, bias scales) repeat a lot in int8 models."""
        if key not in self._shared:
            self._shared[key] = make()
        return self._shared[key]

    def string(self, text: str) -> int:
        return self.shared(("string", text), lambda: self.builder.CreateString(text))

    def scalars(self, element: str, values) -> int:
        """A vector of scalars of schema type ``element`` (``"int32"``, ``"float32"``...)."""
        array = np.ascontiguousarray(np.asarray(values, dtype=_NUMPY[element]).reshape(-1))
        return self.shared(
            ("vector", element, array.tobytes()), lambda: self.builder.CreateNumpyVector(array)
        )

    def offsets(self, items: list[int]) -> int:
        """A vector of tables or strings, from their offsets."""
        b = self.builder
        b.StartVector(4, len(items), 4)
        for off in reversed(items):
            b.PrependUOffsetTRelative(off)
        return b.EndVector()

    def data(self, payload: bytes, alignment: int = schema.BUFFER_ALIGNMENT) -> int:
        """A ``[ubyte]`` vector whose first byte is aligned to ``alignment`` (Buffer.data)."""
        b = self.builder
        b.StartVector(1, len(payload), alignment)
        b.head -= len(payload)
        b.Bytes[b.head : b.head + len(payload)] = payload
        b.vectorNumElems = len(payload)
        return b.EndVector()

    def table(self, table_name: str, /, **fields) -> int:
        """Writes table ``table_name``; ``fields`` are scalars, offsets, strings or scalar lists.

        A ``str`` becomes a string and a list / tuple / array becomes a vector of the field's
        element type; ints given for string, vector, table or union fields are offsets.
        """
        spec = schema.TABLES[table_name]
        resolved = []
        for key, value in fields.items():
            field = spec.field(key)
            if field.deprecated:
                raise ValueError(f"field {table_name}.{key} is deprecated; it must not be written")
            if value is None:
                continue
            if field.type in _PREPEND_SLOT:
                resolved.append((field, value))
            elif isinstance(value, str):
                resolved.append((field, self.string(value)))
            elif isinstance(value, (list, tuple, np.ndarray)):
                resolved.append((field, self.scalars(field.element, value)))
            else:
                resolved.append((field, int(value)))
        b = self.builder
        b.StartObject(spec.num_slots)
        for field, value in sorted(resolved, key=lambda fv: fv[0].slot):
            if field.type in _PREPEND_SLOT:
                default = field.default if field.default is not None else 0
                if field.type == "bool":
                    value, default = bool(value), bool(default)
                getattr(b, _PREPEND_SLOT[field.type])(field.slot, value, default)
            else:
                b.PrependUOffsetTRelativeSlot(field.slot, value, 0)
        return b.EndObject()

    def finish(self, root: int) -> bytes:
        self.builder.Finish(root, file_identifier=schema.FILE_IDENTIFIER)
        return bytes(self.builder.Output())
