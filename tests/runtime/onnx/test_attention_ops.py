"""Attention (opsets 23-25) against onnxruntime for what the backend node suite leaves out:
every qk_matmul_output mode with softcap and a float mask (onnxruntime's mode 0 is the scores
before softcap), KV cache with causal masking, 3-D grouped-query inputs, float16 with and
without softmax_precision, opset 24's nonpad_kv_seqlen (also causal), 4-D bool masks, a fully
masked row, opset 25's sliding window; LinearAttention and CausalConvWithState (opset 27).
SwiGLU (opset 28), which onnxruntime 1.32 cannot run,
is refused by both. Hostile sizes are refused before the score matrix is allocated."""

import numpy as np
import pytest
from onnx import helper

from runtime import Limits
from runtime.errors import BudgetExceededError, InvalidModelError, UnsupportedOpError
from runtime.onnx import InferenceSession
from tests._oracles import ONNXRUNTIME, require
from tests.runtime.onnx.helpers import ort_session

RNG = np.random.default_rng(11)


def _f(*shape, dtype=np.float32):
    return RNG.normal(size=shape).astype(dtype)


def _model(op, opset, feeds, n_out=1, **attrs):
    """One node; a None feed is an omitted optional input."""
    node = helper.make_node(
        op,
        [n if a is not None else "" for n, a in feeds.items()],
        [f"y{i}" for i in range(n_out)],
        **attrs,
    )
    inputs = [
        helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), list(a.shape))
        for n, a in feeds.items()
        if a is not None
    ]
    outputs = [helper.make_empty_tensor_value_info(f"y{i}") for i in range(n_out)]
    graph = helper.make_graph([node], "g", inputs, outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=10)


Q, K, V = _f(2, 4, 3, 8), _f(2, 4, 5, 8), _f(2, 4, 5, 6)
PK, PV = _f(2, 4, 2, 8), _f(2, 4, 2, 6)
Q3, K3, V3 = _f(2, 3, 32), _f(2, 5, 16), _f(2, 5, 12)
MASK = _f(3, 5)
NO = {"attn_mask": None, "past_key": None, "past_value": None}

# (id, opset, feeds, outputs, attributes)
CASES = [
    *[
        (f"mode{m}_softcap_mask", 23, {"Q": Q, "K": K, "V": V, "attn_mask": MASK}, 4,
         {"qk_matmul_output_mode": m, "softcap": 2.0})
        for m in range(4)
    ],
    ("causal_past", 23, {"Q": Q, "K": K, "V": V, "attn_mask": None, "past_key": PK,
                         "past_value": PV}, 3, {"is_causal": 1}),
    ("causal_past_bool_mask", 23, {"Q": Q, "K": K, "V": V, "attn_mask": RNG.random((3, 7)) > 0.3,
                                   "past_key": PK, "past_value": PV}, 3, {"is_causal": 1}),
    ("3d_gqa", 23, {"Q": Q3, "K": K3, "V": V3}, 1, {"q_num_heads": 4, "kv_num_heads": 2}),
    ("3d_gqa_causal_scale", 23, {"Q": Q3, "K": K3, "V": V3}, 1,
     {"q_num_heads": 4, "kv_num_heads": 2, "is_causal": 1, "scale": 0.3}),
    ("fp16", 23, {"Q": Q.astype(np.float16), "K": K.astype(np.float16),
                  "V": V.astype(np.float16)}, 1, {}),
    ("fp16_softmax_fp32", 23, {"Q": Q.astype(np.float16), "K": K.astype(np.float16),
                               "V": V.astype(np.float16)}, 1, {"softmax_precision": 1}),
    ("nonpad_kv_seqlen", 24, {"Q": Q, "K": K, "V": V, **NO,
                              "nonpad_kv_seqlen": np.array([3, 5], np.int64)}, 1, {}),
    ("nonpad_kv_seqlen_causal", 24, {"Q": Q, "K": K, "V": V, **NO,
                                     "nonpad_kv_seqlen": np.array([4, 5], np.int64)}, 1,
     {"is_causal": 1}),
    ("bool_mask_4d", 23, {"Q": Q, "K": K, "V": V, "attn_mask": RNG.random((2, 1, 3, 5)) > 0.2},
     1, {}),
    ("fully_masked_row", 23, {"Q": Q, "K": K, "V": V, "attn_mask": np.zeros((3, 5), bool)}, 1, {}),
    ("sliding_window", 25, {"Q": Q, "K": K, "V": V}, 1,
     {"left_window_size": 1, "right_window_size": 0}),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_attention_matches_onnxruntime(case):
    _, opset, feeds, n_out, attrs = case
    model = _model("Attention", opset, feeds, n_out, **attrs)
    fed = {k: v for k, v in feeds.items() if v is not None}
    expected = ort_session(model).run(None, fed)
    got = InferenceSession(model.SerializeToString()).run(None, fed)
    tol = 2e-3 if Q.dtype != fed["Q"].dtype else 1e-5
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_allclose(g.astype(np.float64), e, rtol=tol, atol=tol)


B, T = 2, 5
RECURRENT = [
    ("linear_attention_gated_delta_gqa", "LinearAttention", 27,
     {"q": _f(B, T, 4 * 3), "k": _f(B, T, 2 * 3), "v": _f(B, T, 2 * 4),
      "s": _f(B, 2, 3, 4), "d": -np.abs(_f(B, T, 2 * 3)), "b": np.abs(_f(B, T, 2))},
     {"q_num_heads": 4, "kv_num_heads": 2}),
    ("linear_attention_linear_scale", "LinearAttention", 27,
     {"q": _f(B, T, 6), "k": _f(B, T, 6), "v": _f(B, T, 4)},
     {"q_num_heads": 2, "kv_num_heads": 2, "update_rule": "linear", "scale": 0.7}),
    ("causal_conv_bias_past_silu", "CausalConvWithState", 27,
     {"x": _f(B, 3, 6), "w": _f(3, 1, 4), "b": _f(3), "p": _f(B, 3, 3)}, {"activation": "silu"}),
    ("causal_conv_k1", "CausalConvWithState", 27, {"x": _f(B, 3, 6), "w": _f(3, 1, 1)}, {}),
]  # fmt: skip


@pytest.mark.parametrize("case", RECURRENT, ids=[c[0] for c in RECURRENT])
def test_recurrent_ops_match_onnxruntime(case):
    _, op, opset, feeds, attrs = case
    model = _model(op, opset, feeds, 2, **attrs)
    expected = ort_session(model).run(None, feeds)
    got = InferenceSession(model.SerializeToString()).run(None, feeds)
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)


def test_swiglu_refused_like_onnxruntime():
    """SwiGLU (opset 28): onnxruntime 1.32 has no kernel for it (nor for the Swish of its
    function body), so no model that onnxruntime opens uses it; this runtime refuses it too."""
    ort = require("onnxruntime", ONNXRUNTIME)
    model = _model("SwiGLU", 28, {"A": _f(2, 4), "B": _f(2, 4)})
    with pytest.raises(ort.capi.onnxruntime_pybind11_state.NotImplemented):
        ort_session(model)
    with pytest.raises(UnsupportedOpError, match="SwiGLU"):
        InferenceSession(model.SerializeToString())


def test_attention_score_matrix_over_budget_is_refused_before_allocation():
    q = np.zeros((1, 1, 4096, 1), np.float32)
    model = _model("Attention", 23, {"Q": q, "K": q, "V": q})
    session = InferenceSession(model.SerializeToString(), limits=Limits(max_tensor_bytes=1 << 20))
    with pytest.raises(BudgetExceededError, match="Attention"):
        session.run(None, {"Q": q, "K": q, "V": q})


@pytest.mark.parametrize(
    "feeds, attrs, match",
    [
        ({"Q": _f(1, 3, 8), "K": _f(1, 3, 8), "V": _f(1, 3, 8)}, {"q_num_heads": 3,
                                                              "kv_num_heads": 3}, "heads"),
        ({"Q": _f(1, 3, 2, 4), "K": _f(1, 2, 2, 4), "V": _f(1, 2, 2, 4)}, {}, "heads"),
        ({"Q": _f(1, 2, 2, 4), "K": _f(1, 2, 2, 4), "V": _f(1, 2, 2, 4),
          "attn_mask": _f(2, 3)}, {}, "attn_mask"),
    ],
)  # fmt: skip
def test_attention_bad_shapes_are_model_errors(feeds, attrs, match):
    model = _model("Attention", 23, feeds, **attrs)
    with pytest.raises(InvalidModelError, match=match):
        InferenceSession(model.SerializeToString()).run(None, feeds)


def test_tensor_scatter_linear_overflow_is_refused():
    cache, update = _f(2, 3, 4, 2), _f(2, 3, 2, 2)
    feeds = {"c": cache, "u": update, "i": np.array([1, 3], np.int64)}
    model = _model("TensorScatter", 24, feeds)
    with pytest.raises(InvalidModelError, match="write index"):
        InferenceSession(model.SerializeToString()).run(None, feeds)
    circular = _model("TensorScatter", 24, feeds, mode="circular")
    expected = ort_session(circular).run(None, feeds)[0]
    got = InferenceSession(circular.SerializeToString()).run(None, feeds)[0]
    np.testing.assert_array_equal(got, expected)


def _random_attention(rng):
    """A random Attention node and feeds: opset 23-25, 3-D or 4-D, grouped heads, a KV cache,
    a bool or float mask of rank 2-4, causal, scale, softcap, every qk_matmul_output mode,
    nonpad_kv_seqlen, sliding windows."""
    opset = int(rng.choice([23, 24, 25]))
    b, kvh = int(rng.integers(1, 3)), int(rng.choice([1, 2]))
    qh, d, dv = kvh * int(rng.choice([1, 2])), int(rng.choice([4, 8])), int(rng.choice([4, 6]))
    s, n, p = int(rng.integers(1, 5)), int(rng.integers(1, 6)), int(rng.choice([0, 0, 2]))
    three = rng.random() < 0.3
    f = lambda *shape: rng.normal(size=shape).astype(np.float32)  # noqa: E731
    if three:
        feeds = {"Q": f(b, s, qh * d), "K": f(b, n, kvh * d), "V": f(b, n, kvh * dv)}
    else:
        feeds = {"Q": f(b, qh, s, d), "K": f(b, kvh, n, d), "V": f(b, kvh, n, dv)}
    feeds.update(attn_mask=None, past_key=None, past_value=None)
    if rng.random() < 0.5:
        shape = [(s, n + p), (1, s, n + p), (b, 1, s, n + p), (qh, s, n + p)][rng.integers(0, 4)]
        feeds["attn_mask"] = rng.random(shape) > 0.3 if rng.random() < 0.5 else f(*shape)
    if p:
        feeds["past_key"], feeds["past_value"] = f(b, kvh, p, d), f(b, kvh, p, dv)
    elif opset >= 24 and rng.random() < 0.4:
        feeds["nonpad_kv_seqlen"] = rng.integers(1, n + 1, size=b).astype(np.int64)
    attrs = {"qk_matmul_output_mode": int(rng.integers(0, 4))}
    if three:
        attrs.update(q_num_heads=qh, kv_num_heads=kvh)
    for key, draw in (("is_causal", lambda: 1), ("scale", lambda: float(rng.uniform(0.1, 1))),
                      ("softcap", lambda: float(rng.uniform(1, 5)))):  # fmt: skip
        if rng.random() < 0.35:
            attrs[key] = draw()
    if opset == 25 and rng.random() < 0.5:
        attrs["left_window_size"] = int(rng.integers(-1, 3))
        attrs["right_window_size"] = int(rng.integers(-1, 3))
    return opset, feeds, attrs


@pytest.mark.parametrize("seed", range(8))
def test_random_attention_matches_onnxruntime(seed):
    """Each kernel as onnxruntime's: 23/24 hide keys with the float's lowest value (shown by
    qk_matmul_output mode 2) and let one new query after a KV cache see every key; 25 hides
    them with -inf and keeps the causal frontier at the cache's length."""
    rng = np.random.default_rng(seed)
    compared = 0
    for _ in range(24):
        opset, feeds, attrs = _random_attention(rng)
        model = _model("Attention", opset, feeds, 4, **attrs)
        fed = {k: v for k, v in feeds.items() if v is not None}
        try:
            expected = ort_session(model).run(None, fed)
        except Exception:  # shapes onnxruntime's kernel does not take (e.g. a short mask)
            continue
        got = InferenceSession(model.SerializeToString()).run(None, fed)
        for g, e in zip(got, expected, strict=True):
            assert g.shape == e.shape
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-4)
        compared += 1
    assert compared >= 12


def test_linear_attention_state_over_budget_is_refused_before_allocation():
    # Inputs of 2 x 4096 floats would make a 4096 x 4096 recurrent state per head.
    feeds = {"q": _f(1, 1, 4096), "k": _f(1, 1, 4096), "v": _f(1, 1, 4096)}
    model = _model("LinearAttention", 27, feeds, 2, q_num_heads=1, kv_num_heads=1,
                   update_rule="linear")  # fmt: skip
    session = InferenceSession(model.SerializeToString(), limits=Limits(max_tensor_bytes=1 << 24))
    with pytest.raises(BudgetExceededError, match="LinearAttention"):
        session.run(None, feeds)
