"""HASHTABLE, HASHTABLE_IMPORT, HASHTABLE_FIND and HASHTABLE_SIZE against LiteRT (its default
resolver: the reference one does not register them): both key/value pairs LiteRT has, tables
kept across invokes, a repeated key keeping its first value, and what LiteRT refuses."""

from __future__ import annotations

import numpy as np
import pytest

from runtime import Interpreter
from runtime.errors import InvalidModelError
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._builder import GraphBuilder
from tests.runtime.tflite._litert import litert_interpreter

WORDS = np.array([b"cat", b"dog", b"", b"fish\x00", b"cat", b"bird"], dtype=object)
# LiteRT's default resolver warns that preserving tensors is for debugging.
pytestmark = pytest.mark.filterwarnings("ignore:.*experimental_preserve_all_tensors")
IDS = np.array([7, -3, 0, 1 << 40, 7, 12], np.int64)


def table_model(key_type, value_type, keys, values, default, query_shape, import_op=True):
    """HASHTABLE -> HASHTABLE_IMPORT(constant keys, values) -> FIND(input queries) and SIZE."""
    g = GraphBuilder()
    handle = g.add([1], T.RESOURCE, "handle")
    g.op(
        Op.HASHTABLE,
        [],
        [handle],
        {"table_id": 3, "key_dtype": int(key_type), "value_dtype": int(value_type)},
    )
    k = g.add([len(keys)], key_type, "keys", data=keys)
    v = g.add([len(values)], value_type, "values", data=values)
    if import_op:
        g.op(Op.HASHTABLE_IMPORT, [handle, k, v], [])
    query = g.add(list(query_shape), key_type, "query")
    d = g.add([], value_type, "default", data=np.array(default, dtype=values.dtype))
    found = g.add(list(query_shape), value_type, "found")
    g.op(Op.HASHTABLE_FIND, [handle, query, d], [found])
    size = g.add([1], T.INT64, "size")
    g.op(Op.HASHTABLE_SIZE, [handle], [size])
    return g.finish([query], [found, size])


def run_both(model, queries):
    ours = Interpreter(model_content=model)
    ref = litert_interpreter(model_content=model, reference=False)
    for it in (ours, ref):
        it.allocate_tensors()
    for q in queries:  # several invokes: the table is imported once and kept
        outs = []
        for it in (ours, ref):
            index = it.get_input_details()[0]["index"]
            it.set_tensor(index, q)
            it.invoke()
            outs.append([it.get_tensor(d["index"]) for d in it.get_output_details()])
        for got, want in zip(*outs):
            assert got.dtype == want.dtype and got.shape == want.shape, (got, want)
            np.testing.assert_array_equal(got, want)
    return ours, ref


def test_string_to_int64_table():
    model = table_model(T.STRING, T.INT64, WORDS, IDS, -1, (2, 3))
    queries = [
        np.array([[b"cat", b"x", b""], [b"fish\x00", b"fish", b"bird"]], dtype=object),
        np.array([[b"dog", b"dog", b"cat"], [b"", b"\xff", b"Bird"]], dtype=object),
    ]
    run_both(model, queries)


def test_int64_to_string_table():
    model = table_model(T.INT64, T.STRING, IDS, WORDS, b"<unk>", (4,))
    queries = [np.array([7, 12, 5, 1 << 40], np.int64), np.array([0, -3, -3, 99], np.int64)]
    run_both(model, queries)


def test_find_before_import_fails_like_litert():
    model = table_model(T.STRING, T.INT64, WORDS, IDS, -1, (1,), import_op=False)
    ours = Interpreter(model_content=model)
    ours.allocate_tensors()
    ours.set_tensor(ours.get_input_details()[0]["index"], WORDS[:1])
    with pytest.raises(InvalidModelError, match="initialized"):
        ours.invoke()
    ref = litert_interpreter(model_content=model, reference=False)
    ref.allocate_tensors()
    ref.set_tensor(ref.get_input_details()[0]["index"], WORDS[:1])
    with pytest.raises(RuntimeError):
        ref.invoke()


@pytest.mark.parametrize("key_type, value_type", [(T.INT64, T.INT64), (T.STRING, T.STRING)])
def test_type_pairs_litert_lacks_are_refused(key_type, value_type):
    g = GraphBuilder()
    handle = g.add([1], T.RESOURCE, "handle")
    opts = {"table_id": 0, "key_dtype": int(key_type), "value_dtype": int(value_type)}
    g.op(Op.HASHTABLE, [], [handle], opts)
    size = g.add([1], T.INT64, "size")
    g.op(Op.HASHTABLE_SIZE, [handle], [size])
    model = g.finish([], [size])
    with pytest.raises(InvalidModelError, match="INT64 -> STRING or STRING -> INT64"):
        Interpreter(model_content=model)
    with pytest.raises(RuntimeError):
        litert_interpreter(model_content=model, reference=False).allocate_tensors()
