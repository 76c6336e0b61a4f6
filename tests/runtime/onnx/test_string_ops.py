"""String ops against onnxruntime: StringConcat with broadcasting; StringSplit (runs of
spaces but not tabs, ends trimmed, a delimiter, maxsplit, empty strings); StringNormalizer
(stopwords with and without case, LOWER/UPPER, everything removed; locale "C", the one this
machine's onnxruntime can build); RegexFullMatch (RE2 syntax with ASCII classes, as
onnxruntime: non-ASCII letters are not \\w); TfIdfVectorizer (string and int pools, skips,
TF/IDF/TFIDF). Patterns Python's backtracking re could take exponential time on, and those RE2
refuses, are refused with UnsupportedOpError before any string is matched, fast."""

import time

import numpy as np
import pytest
from onnx import TensorProto, helper

from runtime.errors import BudgetExceededError, UnsupportedOpError
from runtime.onnx import InferenceSession
from tests.runtime.onnx.helpers import ort_session

S = TensorProto.STRING


def _model(op, opset, inputs, n_out=1, **attrs):
    node = helper.make_node(op, list(inputs), [f"y{i}" for i in range(n_out)], **attrs)
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info(
                n, S if a.dtype == object else helper.np_dtype_to_tensor_dtype(a.dtype), a.shape
            )
            for n, a in inputs.items()
        ],
        [helper.make_empty_tensor_value_info(f"y{i}") for i in range(n_out)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=9)


def _s(*values, shape=None):
    return np.array(values, dtype=object).reshape(shape or (len(values),))


WORDS = _s("Monday", "the", "THE", "café", "Tuesday", "and")
TEXT = _s("a b  c", " lead and trail ", "", "one,two,,three", "x", "héllo wörld", shape=(2, 3))

# (id, op, opset, inputs, outputs, attributes)
CASES = [
    ("concat_broadcast", "StringConcat", 20, {"a": TEXT, "b": _s("!", "?", "", shape=(1, 3))},
     1, {}),
    ("split_whitespace", "StringSplit", 20, {"x": TEXT}, 2, {}),
    ("split_comma_maxsplit", "StringSplit", 20, {"x": TEXT}, 2,
     {"delimiter": ",", "maxsplit": 1}),
    ("split_delimiter_space", "StringSplit", 20, {"x": TEXT}, 2, {"delimiter": " "}),
    ("normalize_stop_nocase_lower", "StringNormalizer", 10, {"x": WORDS}, 1,
     {"stopwords": ["the", "AND"], "case_change_action": "LOWER", "locale": "C"}),
    ("normalize_stop_case_upper_2d", "StringNormalizer", 10, {"x": WORDS.reshape(1, -1)}, 1,
     {"stopwords": ["the"], "is_case_sensitive": 1, "case_change_action": "UPPER",
      "locale": "C"}),
    ("normalize_all_removed", "StringNormalizer", 10, {"x": _s("a", "A")}, 1,
     {"stopwords": ["a"], "locale": "C"}),
    ("regex_words", "RegexFullMatch", 20, {"x": _s("abc_1", "ab c", "", "é", "Ab9")}, 1,
     {"pattern": r"\w+"}),
    ("regex_email", "RegexFullMatch", 20,
     {"x": _s("bob@gmail.com", "x bob@yahoo.com y", "bob@hotmail.com", "@gmail.com")}, 1,
     {"pattern": r"(\W|^)[\w.\-]{0,25}@(yahoo|gmail)\.com(\W|$)"}),
    ("regex_fixed_groups", "RegexFullMatch", 20, {"x": _s("123456", "12345", "123-456")}, 1,
     {"pattern": r"(\d{3})+"}),
    ("tfidf_strings_skip_tfidf", "TfIdfVectorizer", 9,
     {"x": _s("a", "b", "a", "c", "b", "a", "b", "c", shape=(2, 4))}, 1,
     {"mode": "TFIDF", "min_gram_length": 1, "max_gram_length": 2, "max_skip_count": 2,
      "ngram_counts": [0, 3], "ngram_indexes": [4, 0, 1, 2, 3],
      "pool_strings": ["a", "b", "c", "a", "b", "b", "c"], "weights": [1.0, 2.0, 3.0, 4.0, 5.0]}),
    ("tfidf_int_bigrams_idf", "TfIdfVectorizer", 9,
     {"x": np.array([1, 2, 3, 2, 3, 4, 2, 3], np.int32)}, 1,
     {"mode": "IDF", "min_gram_length": 2, "max_gram_length": 2, "max_skip_count": 1,
      "ngram_counts": [0, 2], "ngram_indexes": [4, 0, 1, 2, 3],
      "pool_int64s": [9, 2, 2, 3, 3, 4, 1, 3]}),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_matches_onnxruntime(case):
    _, op, opset, inputs, n_out, attrs = case
    model = _model(op, opset, inputs, n_out, **attrs)
    expected = ort_session(model).run(None, inputs)
    got = InferenceSession(model.SerializeToString()).run(None, inputs)
    for g, e in zip(got, expected, strict=True):
        assert g.shape == e.shape, (g.shape, e.shape)
        assert g.dtype == e.dtype or (g.dtype == object and e.dtype == object)
        assert g.tolist() == e.tolist()


@pytest.mark.parametrize(
    "pattern", [r"(a+)+$", r"(a|aa)*b", r"(x+x+)+y", r"(\w+\s?)*!", r"(a)\1", r"(?<=a)b"]
)
def test_dangerous_or_re2_unsupported_patterns_are_refused_fast(pattern):
    x = _s("a" * 40 + "!")
    model = _model("RegexFullMatch", 20, {"x": x}, pattern=pattern)
    start = time.perf_counter()
    with pytest.raises(UnsupportedOpError, match="RegexFullMatch"):
        InferenceSession(model.SerializeToString()).run(None, {"x": x})
    assert time.perf_counter() - start < 1.0


def test_tfidf_scan_beyond_the_cap_is_refused_before_it_starts():
    x = np.zeros(5000, np.int64)
    model = _model(
        "TfIdfVectorizer", 9, {"x": x}, mode="TF", min_gram_length=1, max_gram_length=3,
        max_skip_count=1 << 40, ngram_counts=[0], ngram_indexes=[0], pool_int64s=[0],
    )  # fmt: skip
    start = time.perf_counter()
    with pytest.raises(BudgetExceededError, match="TfIdfVectorizer"):
        InferenceSession(model.SerializeToString()).run(None, {"x": x})
    assert time.perf_counter() - start < 1.0


def test_random_strings_match_onnxruntime():
    """Seeded draws of strings made of letters, spaces, tabs, commas and a non-ASCII letter,
    split with and without a delimiter and maxsplit, matched and concatenated."""
    rng = np.random.default_rng(2)
    alphabet = ["a", "b", " ", ",", ";", "\t", "  ", ",,", "é"]
    for _ in range(60):
        x = _s(*("".join(rng.choice(alphabet, size=rng.integers(0, 8))) for _ in range(6)))
        x = x.reshape(2, 3)
        attrs = {}
        if rng.random() < 0.6:
            attrs["delimiter"] = str(rng.choice([",", " ", ";", ",,", "ab"]))
        if rng.random() < 0.5:
            attrs["maxsplit"] = int(rng.integers(0, 3))
        pattern = str(rng.choice([r"a+b*", r"[ab]{2,3}", r"(a|b),", r".*", r"\s+", r"(ab)+"]))
        for model, feeds in (
            (_model("StringSplit", 20, {"x": x}, 2, **attrs), {"x": x}),
            (_model("RegexFullMatch", 20, {"x": x}, pattern=pattern), {"x": x}),
            (_model("StringConcat", 20, {"a": x, "b": x[:1]}), {"a": x, "b": x[:1]}),
        ):
            expected = ort_session(model).run(None, feeds)
            got = InferenceSession(model.SerializeToString()).run(None, feeds)
            assert [g.tolist() for g in got] == [e.tolist() for e in expected], (attrs, x)
