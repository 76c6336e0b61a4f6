"""HASHTABLE_LOOKUP (numeric and STRING values, sorted, unsorted and extreme keys) and
SKIP_GRAM (every option combination on sentences with odd whitespace) against LiteRT's reference
kernels, exactly."""

from __future__ import annotations

import numpy as np
import pytest

from runtime import Interpreter, Limits
from runtime.errors import BudgetExceededError
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._builder import GraphBuilder
from tests.runtime.tflite._litert import litert_interpreter

NUMPY = {T.FLOAT32: np.float32, T.INT32: np.int32, T.UINT8: np.uint8, T.INT8: np.int8}


def run_both(model, feeds):
    outs = []
    for it in (Interpreter(model_content=model), litert_interpreter(model_content=model)):
        it.allocate_tensors()
        for index, value in feeds.items():
            it.set_tensor(index, value)
        it.invoke()
        outs.append([it.get_tensor(d["index"]) for d in it.get_output_details()])
    for got, want in zip(*outs):
        assert got.dtype == want.dtype and got.shape == want.shape, (got, want)
        np.testing.assert_array_equal(got, want)
    return outs[0]


def lookup_model(n_lookup, keys_shape, value_shape, value_type):
    g = GraphBuilder()
    lookup = g.add([n_lookup], T.INT32, "lookup")
    key = g.add(list(keys_shape), T.INT32, "key")
    value = g.add(list(value_shape), value_type, "value")
    out_shape = [n_lookup, *value_shape[1:]]
    out = g.add(out_shape, value_type, "out")
    hits = g.add([n_lookup], T.UINT8, "hits")
    g.op(Op.HASHTABLE_LOOKUP, [lookup, key, value], [out, hits])
    return g.finish([lookup, key, value], [out, hits])


KEYS = {
    "sorted": [-7, 0, 3, 9, 40, 41],
    "unsorted": [9, -7, 41, 3, 0, 40],
    "duplicates": [3, 3, 3, 9, 9, 40],
    "extreme": [-(2**31), -5, 0, 7, 2**31 - 1, 12],  # a - b wraps in LiteRT's comparator
}


@pytest.mark.parametrize("keys", sorted(KEYS))
@pytest.mark.parametrize("value_type", [T.FLOAT32, T.INT32, T.UINT8, T.INT8, T.STRING])
def test_hashtable_lookup_matches_litert(keys, value_type):
    rng = np.random.default_rng(len(keys) + int(value_type))
    key = np.array(KEYS[keys], np.int32)
    lookup = np.array([3, 9, -7, 1, 41, 40, 2**31 - 1, -(2**31), 0, 12], np.int32)
    if value_type == T.STRING:
        value = np.array([f"v{k}".encode() * (k % 3) for k in range(len(key))], dtype=object)
    else:
        value = rng.integers(1, 100, (len(key), 2, 3)).astype(NUMPY[value_type])
    model = lookup_model(len(lookup), key.shape, value.shape, value_type)
    out, hits = run_both(model, {0: lookup, 1: key, 2: value})
    assert hits.any() and not hits.all()


SENTENCES = [
    b"the quick brown fox jumps over the lazy dog",
    b" leading  and  double   spaces\tand\ttabs\nnewline ",
    b"one",
    b"",
    b"a b",
    b"\xc3\xa9t\xc3\xa9 \xe2\x82\xac x\x00y z",
]


@pytest.mark.parametrize("sentence", SENTENCES)
@pytest.mark.parametrize("ngram, skip", [(1, 0), (2, 0), (2, 2), (3, 1), (4, 3)])
@pytest.mark.parametrize("include_all", [False, True])
def test_skip_gram_matches_litert(sentence, ngram, skip, include_all):
    g = GraphBuilder()
    x = g.add([1], T.STRING, "sentence", data=np.array([sentence], dtype=object))
    y = g.add([1], T.STRING, "grams")
    opts = {"ngram_size": ngram, "max_skip_size": skip, "include_all_ngrams": include_all}
    g.op(Op.SKIP_GRAM, [x], [y], opts)
    run_both(g.finish([], [y]), {})


def test_skip_gram_walk_is_charged_to_the_loop_budget():
    g = GraphBuilder()
    words = b" ".join(b"w%d" % i for i in range(60))
    x = g.add([1], T.STRING, "sentence", data=np.array([words], dtype=object))
    y = g.add([1], T.STRING, "grams")
    opts = {"ngram_size": 20, "max_skip_size": 40, "include_all_ngrams": True}
    g.op(Op.SKIP_GRAM, [x], [y], opts)
    model = g.finish([], [y])
    # a constant sentence: the op runs (and is refused) when the interpreter is made
    with pytest.raises(BudgetExceededError, match="SKIP_GRAM"):
        Interpreter(model_content=model, limits=Limits(max_loop_iterations=1000))
