"""The LSTM op (one step, LiteRT's FULL kernel) in float, hybrid and 8x8->16 integer, and
layer-norm LSTMs in float and hybrid, against LiteRT's reference kernels: integer tensors
exactly, float ones within 1e-5."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import runtime
from runtime.errors import InvalidModelError, UnsupportedOpError
from tests._oracles import LITERT, require
from tests.runtime.tflite._integer_lstm_models import (
    float_lstm_model,
    integer_lstm_model,
    tflite_quantized,
)
from tests.runtime.tflite._litert import compare_all_tensors, litert_interpreter, run_both
from tests.runtime.tflite.test_lstm_integer import _check

_COMBOS = list(itertools.product([False, True], repeat=4))  # cifg, peephole, ln, projection


def _options(cifg, peephole, layer_norm, projection):
    return {
        "batch": 3,
        "n_input": 3,
        "n_cell": 5,
        "n_output": 3 if projection else None,
        "cifg": cifg,
        "peephole": peephole,
        "layer_norm": layer_norm,
    }


@pytest.mark.parametrize("cifg,peephole,layer_norm,projection", _COMBOS)
def test_integer_lstm_op_matches_litert(cifg, peephole, layer_norm, projection):
    options = _options(cifg, peephole, layer_norm, projection)
    _check(integer_lstm_model(single_step=True, seed=11, **options), seed=11, invokes=3)


@pytest.mark.parametrize(
    "cifg,peephole,layer_norm,projection", [c for c in _COMBOS if not (c[0] and c[2])]
)
def test_integer_lstm_op_from_tflites_quantizer_matches_litert(
    cifg, peephole, layer_norm, projection
):
    wrapper = require("ai_edge_litert._pywrap_tensorflow_lite_calibration_wrapper", LITERT)
    model = float_lstm_model(
        single_step=True, seed=4, **_options(cifg, peephole, layer_norm, projection)
    )
    rng = np.random.default_rng(4)
    samples = [rng.normal(0, 1, (3, 3)) for _ in range(6)]
    _check(tflite_quantized(model, samples, wrapper), seed=4, invokes=3)


def _compare_float(model: bytes, seed: int) -> None:
    ours = runtime.Interpreter(model_content=model, experimental_preserve_all_tensors=True)
    ref = litert_interpreter(model_content=model)
    ref.allocate_tensors()
    detail = ref.get_input_details()[0]
    rng = np.random.default_rng(seed)
    run_both(ours, ref, {detail["index"]: rng.normal(0, 1, detail["shape"]).astype(np.float32)})
    assert compare_all_tensors(ours, ref) > 10
    x = rng.normal(0, 1, detail["shape"]).astype(np.float32)
    for it in (ours, ref):
        it.set_tensor(detail["index"], x)
        it.invoke()
    compare_all_tensors(ours, ref)


@pytest.mark.parametrize("cifg,peephole,layer_norm,projection", _COMBOS)
@pytest.mark.parametrize("hybrid", [False, True])
def test_float_and_hybrid_lstm_op_match_litert(cifg, peephole, layer_norm, projection, hybrid):
    options = _options(cifg, peephole, layer_norm, projection)
    _compare_float(float_lstm_model(single_step=True, hybrid=hybrid, seed=2, **options), 2)


@pytest.mark.parametrize("time_major", [False, True])
@pytest.mark.parametrize("hybrid", [False, True])
@pytest.mark.parametrize("cifg,projection", [(False, False), (True, True)])
def test_float_and_hybrid_layer_norm_sequences_match_litert(time_major, hybrid, cifg, projection):
    options = _options(cifg, True, True, projection)
    model = float_lstm_model(steps=4, time_major=time_major, hybrid=hybrid, seed=3, **options)
    _compare_float(model, 3)


def _load(model: bytes):
    it = runtime.Interpreter(model_content=model)
    it.allocate_tensors()
    return it


def test_lstm_op_refusals():
    with pytest.raises(UnsupportedOpError, match="8x8->8"):
        _load(integer_lstm_model(single_step=True, n_intermediates=12))
    with pytest.raises(InvalidModelError, match="rank 3, expected 2"):
        _load(integer_lstm_model(single_step=True, tweak={"x": {"shape": [2, 1, 3]}}))
    with pytest.raises(InvalidModelError, match="intermediate tensors"):
        _load(integer_lstm_model(single_step=True, n_intermediates=4))
