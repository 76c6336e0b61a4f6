"""Bounds-checked access to FlatBuffers tables, driven by the field tables in ``schema``.

The ``flatbuffers`` runtime library (``Table``, ``number_types``) does no bounds checking: a
hostile offset gives a ``struct.error``, an ``IndexError`` or, worse, a silently wrapped negative
index. Every position here is checked against the buffer before the library is asked to read it,
and every problem is an ``InvalidModelError`` naming the table and field.

A work budget bounds the total number of elements decoded, so that a file whose vectors all
point at the same large vector (a DAG, legal in FlatBuffers) cannot make decoding cost more than
a small multiple of the file's size.
"""

from __future__ import annotations

import numpy as np
from flatbuffers import number_types as nt
from flatbuffers.table import Table

from runtime.errors import InvalidModelError
from runtime.tflite.schema import SCALAR_FORMAT, TABLES
from runtime.tflite.schema import Table as TableDef

_NUMBER_TYPES = {
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
_NUMPY_LE = {
    "bool": np.dtype(np.bool_),
    "int8": np.dtype("i1"),
    "uint8": np.dtype("u1"),
    "int16": np.dtype("<i2"),
    "uint16": np.dtype("<u2"),
    "int32": np.dtype("<i4"),
    "uint32": np.dtype("<u4"),
    "int64": np.dtype("<i8"),
    "uint64": np.dtype("<u8"),
    "float32": np.dtype("<f4"),
    "float64": np.dtype("<f8"),
}


class Reader:
    """A flatbuffer in memory plus a decoding budget.

    Args:
        buf: the whole file.
        budget: maximum number of vector elements / tables decoded in total.
    """

    def __init__(self, buf: bytes, budget: int):
        self.buf = buf
        self.size = len(buf)
        self.budget = budget

    def spend(self, n: int, what: str) -> None:
        """Charge ``n`` units of decoding work; fail once the file has cost too much."""
        self.budget -= n
        if self.budget < 0:
            raise InvalidModelError(
                f"{what}: decoding needs more work than a file of {self.size} bytes justifies "
                "(vectors reused many times or impossibly large)"
            )

    def _check(self, pos: int, length: int, what: str) -> None:
        if pos < 0 or length < 0 or pos + length > self.size:
            raise InvalidModelError(
                f"{what}: bytes [{pos}, {pos + length}) lie outside the file of {self.size} bytes"
            )

    def u32(self, pos: int, what: str) -> int:
        self._check(pos, 4, what)
        return int.from_bytes(self.buf[pos : pos + 4], "little")

    def root(self, table: str) -> TableView:
        """The root table (its offset is the file's first 4 bytes)."""
        return self.table_at(self.u32(0, "root offset"), table, "root")

    def table_at(self, pos: int, table: str, what: str) -> TableView:
        """A view of the table of type ``table`` at absolute position ``pos``, validated."""
        self.spend(1, what)
        self._check(pos, 4, f"{what} ({table})")
        soffset = int.from_bytes(self.buf[pos : pos + 4], "little", signed=True)
        vtable = pos - soffset
        self._check(vtable, 4, f"{what} ({table}) vtable")
        vt_size = int.from_bytes(self.buf[vtable : vtable + 2], "little")
        inline_size = int.from_bytes(self.buf[vtable + 2 : vtable + 4], "little")
        if vt_size < 4 or vt_size % 2:
            raise InvalidModelError(f"{what} ({table}): malformed vtable size {vt_size}")
        self._check(vtable, vt_size, f"{what} ({table}) vtable")
        self._check(pos, max(inline_size, 4), f"{what} ({table}) inline data")
        return TableView(self, pos, vt_size, inline_size, TABLES[table], what)


class TableView:
    """One validated table; ``get(name)`` decodes a field by its schema description."""

    def __init__(self, reader, pos, vt_size, inline_size, tdef: TableDef, what: str):
        self.r = reader
        self.pos = pos
        self.vt_size = vt_size
        self.inline_size = inline_size
        self.tdef = tdef
        self.what = what
        self.tab = Table(reader.buf, pos)

    def _field_pos(self, name: str, width: int) -> int | None:
        # Absolute position of the field's inline bytes, or None when absent.
        f = self.tdef.field(name)
        vt = f.vtable_offset
        if vt >= self.vt_size:
            return None
        off = self.tab.Offset(vt)
        if off == 0:
            return None
        if off + width > self.inline_size:
            raise InvalidModelError(
                f"{self.what}.{name}: field offset {off} (+{width} bytes) overruns the table's "
                f"{self.inline_size} inline bytes"
            )
        return self.pos + off

    def has(self, name: str) -> bool:
        return self._field_pos(name, 1) is not None

    def scalar(self, name: str):
        f = self.tdef.field(name)
        width = SCALAR_FORMAT[f.type][1]
        p = self._field_pos(name, width)
        if p is None:
            return f.default
        return self.tab.Get(_NUMBER_TYPES[f.type], p)

    def _indirect(self, name: str) -> int | None:
        p = self._field_pos(name, 4)
        if p is None:
            return None
        target = p + self.r.u32(p, f"{self.what}.{name}")
        self.r._check(target, 4, f"{self.what}.{name}")
        return target

    def _vector(self, name: str, elem_size: int) -> tuple[int, int] | None:
        start = self._indirect(name)
        if start is None:
            return None
        n = self.r.u32(start, f"{self.what}.{name} length")
        if n * elem_size > self.r.size - start - 4:
            raise InvalidModelError(
                f"{self.what}.{name}: vector declares {n} elements of {elem_size} bytes, more "
                f"than the {max(self.r.size - start - 4, 0)} bytes left in the file"
            )
        return start + 4, n

    def length(self, name: str) -> int:
        """Number of elements of vector field ``name`` (0 when absent), without decoding them."""
        vec = self._vector(name, 4)
        return 0 if vec is None else vec[1]

    def string(self, name: str) -> str | None:
        vec = self._vector(name, 1)
        if vec is None:
            return None
        start, n = vec
        self.r.spend(1 + n // 64, f"{self.what}.{name}")
        return bytes(self.r.buf[start : start + n]).decode("utf-8", errors="replace")

    def array(self, name: str) -> np.ndarray | None:
        """A vector of scalars as a numpy array (a copy, native byte order)."""
        f = self.tdef.field(name)
        dtype = _NUMPY_LE[f.element]
        vec = self._vector(name, dtype.itemsize)
        if vec is None:
            return None
        start, n = vec
        self.r.spend(1 + n // 16, f"{self.what}.{name}")
        arr = np.frombuffer(self.r.buf, dtype=dtype, count=n, offset=start)
        return arr.astype(dtype.newbyteorder("="))

    def raw_bytes(self, name: str) -> memoryview | None:
        """A vector of ubyte as a zero-copy view of the file."""
        vec = self._vector(name, 1)
        if vec is None:
            return None
        start, n = vec
        self.r.spend(1, f"{self.what}.{name}")
        return memoryview(self.r.buf)[start : start + n]

    def table(self, name: str) -> TableView | None:
        f = self.tdef.field(name)
        target = self._indirect(name)
        if target is None:
            return None
        return self.r.table_at(target, f.ref, f"{self.what}.{name}")

    def union(self, name: str, table_name: str) -> TableView | None:
        target = self._indirect(name)
        if target is None:
            return None
        return self.r.table_at(target, table_name, f"{self.what}.{name}")

    def tables(self, name: str) -> list[TableView]:
        f = self.tdef.field(name)
        vec = self._vector(name, 4)
        if vec is None:
            return []
        start, n = vec
        self.r.spend(n, f"{self.what}.{name}")
        out = []
        for i in range(n):
            p = start + 4 * i
            target = p + self.r.u32(p, f"{self.what}.{name}[{i}]")
            out.append(self.r.table_at(target, f.ref, f"{self.what}.{name}[{i}]"))
        return out

    def to_dict(self) -> dict:
        """Every scalar, string and scalar-vector field (used for option tables)."""
        out = {}
        for f in self.tdef.fields:
            if f.deprecated:
                continue
            if f.type in SCALAR_FORMAT:
                out[f.name] = self.scalar(f.name)
            elif f.type == "string":
                out[f.name] = self.string(f.name)
            elif f.type == "vector" and f.element in _NUMPY_LE:
                arr = self.array(f.name)
                out[f.name] = None if arr is None else arr.tolist()
        return out
