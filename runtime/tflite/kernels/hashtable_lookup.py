"""HASHTABLE_LOOKUP: rows of ``value`` found by binary search of each ``lookup`` in ``key``.

Reference: ``tflite/kernels/hashtable_lookup.cc``. Inputs: ``lookup`` and ``key`` (1-D int32)
and ``value`` (rank >= 1, as many rows as keys; 1-D when STRING). Outputs: the found rows
(zeros, or an empty string, where the key is absent) and ``hits`` (uint8, 1 where found).
LiteRT finds each key with C's ``bsearch`` and a comparator returning ``a - b``, so keys are
meant to be sorted; the search here is glibc's (halving ``[l, u)`` at ``(l + u) / 2``), so
unsorted keys give what LiteRT gives too. The comparator compares as exact integers: LiteRT's
build finds keys whose int32 difference would overflow (the compiler, free to assume no signed
overflow, compares ``a < b``), and so does this kernel (tested at -2^31 and 2^31 - 1).
"""

from __future__ import annotations

import numpy as np

from runtime.tflite import _strings
from runtime.tflite.kernels import _common as c
from runtime.tflite.schema import TensorType


def _bsearch(target: int, keys: list[int]) -> int:
    lo, hi = 0, len(keys)
    while lo < hi:
        mid = (lo + hi) // 2
        if target < keys[mid]:
            hi = mid
        elif target > keys[mid]:
            lo = mid + 1
        else:
            return mid
    return -1


def prepare(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(3, 2)
    lookup_t, key_t, value_t = ctx.inputs
    for name, t in (("lookup", lookup_t), ("key", key_t)):
        if t.type != c.I32 or len(t.shape) != 1:
            raise ctx.fail(f"{name} must be 1-D int32, has type {c._tname(t.type)} {t.shape}")
    if len(value_t.shape) < 1 or value_t.shape[0] != key_t.shape[0]:
        raise ctx.fail(f"value of shape {list(value_t.shape)} for {key_t.shape[0]} keys")
    is_string = value_t.type == TensorType.STRING
    if is_string and len(value_t.shape) != 1:
        raise ctx.fail(f"STRING value must be 1-D, has shape {list(value_t.shape)}")
    if ctx.outputs[1].type != c.U8:
        raise ctx.fail(f"hits must be UINT8, has type {c._tname(ctx.outputs[1].type)}")
    if ctx.out_type(0) != value_t.type:
        raise ctx.fail(
            f"output has type {c._tname(ctx.out_type(0))}, value {c._tname(value_t.type)}"
        )

    def run(lookup, key, value):
        if value.shape[0] == 0:
            raise ctx.fail("value has no rows")
        if key.shape[0] != value.shape[0]:
            raise ctx.fail(f"{key.shape[0]} keys for {value.shape[0]} value rows")
        keys = key.tolist()
        found = np.array([_bsearch(int(v), keys) for v in lookup.reshape(-1)], np.int64)
        hits = (found >= 0).astype(np.uint8)
        c.check_alloc(ctx, (len(found), *value.shape[1:]), "output", value.dtype.itemsize)
        rows = value[np.maximum(found, 0)]
        if is_string:
            rows = np.where(hits.astype(bool), _strings.as_bytes(rows), b"").astype(object)
        else:
            rows[found < 0] = 0
        return [rows, hits]

    return run
