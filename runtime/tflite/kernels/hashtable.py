"""Static hash tables: HASHTABLE, HASHTABLE_IMPORT, HASHTABLE_FIND, HASHTABLE_SIZE.

References: ``tflite/kernels/hashtable.cc``, ``hashtable_import.cc``, ``hashtable_find.cc``,
``hashtable_size.cc``, ``tflite/experimental/resource/static_hashtable.cc`` (LiteRT's default
resolver registers them; its reference resolver does not). HASHTABLE outputs its ``table_id``
as a RESOURCE handle ([1] int32) and creates the table at its first run, with the key and value
types of its options: int64 -> string or string -> int64, the only pairs LiteRT has. The first
HASHTABLE_IMPORT fills it (keys and values of one shape; a repeated key keeps its first value)
and later imports do nothing, as the converter runs the initializer at every invoke. FIND gives,
for each key, its value or the first element of the default tensor, in the keys' shape; it
fails on a table never imported. SIZE gives the number of entries ([1] int64). Tables live as
long as the interpreter, across invokes and subgraphs, as LiteRT's resources do; their entries
count against ``max_memory_bytes`` when imported.
"""

from __future__ import annotations

import numpy as np

from runtime import _budget
from runtime.errors import BudgetExceededError
from runtime.tflite import _strings
from runtime.tflite.kernels import _common as c
from runtime.tflite.schema import TensorType

STRING, RESOURCE = TensorType.STRING, TensorType.RESOURCE
# (key type, value type) pairs of LiteRT's StaticHashtable
_PAIRS = {(c.I64, STRING), (STRING, c.I64)}


class _Table:
    def __init__(self, key_type: int, value_type: int):
        self.key_type, self.value_type = key_type, value_type
        self.entries: dict | None = None  # None until the first import

    def nbytes(self) -> int:
        if not self.entries:
            return 0
        return sum(len(v) if isinstance(v, bytes) else 8 for kv in self.entries.items() for v in kv)


def _tables(ctx: c.OpContext) -> dict:
    return ctx.call_subgraph.resources.setdefault("hashtables", {})


def _check_handle(ctx: c.OpContext) -> None:
    handle = ctx.inputs[0]
    if handle.type != RESOURCE or len(handle.shape) != 1 or handle.shape[0] != 1:
        raise ctx.fail(
            f"input 0 must be a [1] RESOURCE handle, has type {c._tname(handle.type)} and shape "
            f"{list(handle.shape)}"
        )


def _check_pair(ctx: c.OpContext, key_type: int, value_type: int, what: str) -> None:
    if (key_type, value_type) not in _PAIRS:
        raise ctx.fail(
            f"{what} {c._tname(key_type)} -> {c._tname(value_type)}: LiteRT's hash tables map "
            "INT64 -> STRING or STRING -> INT64"
        )


def _table(ctx: c.OpContext, tables: dict, handle, key_type: int, value_type: int) -> _Table:
    table = tables.get(int(handle.reshape(-1)[0]))
    if table is None:
        raise ctx.fail(f"resource handle {int(handle.reshape(-1)[0])} names no hash table")
    if (table.key_type, table.value_type) != (key_type, value_type):
        raise ctx.fail(
            f"the table maps {c._tname(table.key_type)} -> {c._tname(table.value_type)}, used "
            f"with {c._tname(key_type)} -> {c._tname(value_type)}"
        )
    return table


def _keys(values: np.ndarray, ttype: int) -> list:
    flat = values.reshape(-1)
    return list(_strings.as_bytes(flat)) if ttype == STRING else flat.tolist()


def prepare_hashtable(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(0)
    key_type, value_type = ctx.options["key_dtype"], ctx.options["value_dtype"]
    _check_pair(ctx, key_type, value_type, "table type")
    if ctx.out_type() != RESOURCE:
        raise ctx.fail(f"output must be a RESOURCE tensor, has type {c._tname(ctx.out_type())}")
    table_id = int(ctx.options["table_id"])
    tables = _tables(ctx)

    def run():
        # an existing table keeps its types (CreateHashtableResourceIfNotAvailable)
        tables.setdefault(table_id, _Table(key_type, value_type))
        return [np.array([table_id], np.int32)]

    return run


def prepare_import(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(3, 0)
    _check_handle(ctx)
    key_type, value_type = ctx.in_type(1), ctx.in_type(2)
    _check_pair(ctx, key_type, value_type, "keys and values")
    if tuple(ctx.inputs[1].shape) != tuple(ctx.inputs[2].shape):
        raise ctx.fail(
            f"keys of shape {list(ctx.inputs[1].shape)} and values of shape "
            f"{list(ctx.inputs[2].shape)} differ"
        )
    tables = _tables(ctx)

    def run(handle, keys, values):
        table = _table(ctx, tables, handle, key_type, value_type)
        if table.entries is not None:
            return []
        if keys.shape != values.shape:
            raise ctx.fail(f"keys {list(keys.shape)} and values {list(values.shape)} differ")
        entries = {}
        for k, v in zip(_keys(keys, key_type), _keys(values, value_type)):
            entries.setdefault(k, v)  # std::unordered_map::insert keeps the first
        table.entries = entries
        total = sum(t.nbytes() for t in tables.values())
        limit = _budget.active().limits.max_memory_bytes
        if total > limit:
            table.entries = None
            raise BudgetExceededError(
                f"{ctx.where}: hash tables would hold {total} bytes, above the max_memory_bytes "
                f"limit of {limit}"
            )
        return []

    return run


def prepare_find(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(3)
    _check_handle(ctx)
    key_type, value_type = ctx.in_type(1), ctx.out_type()
    if ctx.in_type(2) != value_type:
        raise ctx.fail(
            f"default value has type {c._tname(ctx.in_type(2))}, output {c._tname(value_type)}"
        )
    _check_pair(ctx, key_type, value_type, "keys and output")
    tables = _tables(ctx)
    dtype = np.dtype(object) if value_type == STRING else np.dtype(np.int64)

    def run(handle, keys, default):
        table = _table(ctx, tables, handle, key_type, value_type)
        if table.entries is None:
            raise ctx.fail("hashtable need to be initialized before using (no HASHTABLE_IMPORT)")
        if default.size == 0:
            raise ctx.fail("default value tensor is empty")
        fallback = _keys(default, value_type)[0]
        found = [table.entries.get(k, fallback) for k in _keys(keys, key_type)]
        out = np.empty(len(found), dtype)
        out[:] = found
        return [out.reshape(keys.shape)]

    return run


def prepare_size(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1)
    _check_handle(ctx)
    if ctx.out_type() != c.I64:
        raise ctx.fail(f"output must be INT64, has type {c._tname(ctx.out_type())}")
    tables = _tables(ctx)

    def run(handle):
        table = tables.get(int(handle.reshape(-1)[0]))
        if table is None:
            raise ctx.fail(f"resource handle {int(handle.reshape(-1)[0])} names no hash table")
        return [np.array([len(table.entries or ())], np.int64)]

    return run
