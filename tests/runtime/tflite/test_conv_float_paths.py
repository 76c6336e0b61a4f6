"""Float CONV_2D through ``_conv_float``'s paths (the bias added over tiled rows, with and
without a remainder of rows; few-channel windows gathered tap by tap with the bias as one more
GEMM row) and past them (many channels, small maps, dilation, batches) equals LiteRT's
reference kernels within 1e-5 of the result's scale, NaN and inf inputs included."""

from __future__ import annotations

import numpy as np
import pytest

from runtime import Interpreter
from runtime.tflite.kernels import _conv_float
from runtime.tflite.schema import BuiltinOperator as Op
from tests.runtime.tflite._litert import litert_interpreter
from tests.runtime.tflite.test_conv_paths import conv_geometry
from tests.runtime.tflite.test_kernels import const, inp, one_op_model, out

# (input shape, out channels, kernel, stride, dilation, padding (0 SAME, 1 VALID), activation,
#  bias, which gather runs: by phase planes, tap by tap or none)
CASES = [
    ((1, 64, 64, 3), 24, (3, 3), (2, 2), 1, 0, 3, True, "phases"),  # a first layer (RELU6)
    ((1, 67, 69, 3), 16, (3, 3), (2, 2), 1, 1, 1, True, "phases"),  # odd sizes, VALID, RELU
    ((1, 48, 48, 1), 8, (5, 5), (1, 1), 1, 0, 0, False, "phases"),  # one channel, no bias
    ((3, 40, 40, 4), 6, (3, 2), (1, 2), 1, 0, 2, True, "phases"),  # batch, RELU_N1_TO_1
    ((2, 40, 40, 3), 8, (3, 3), (1, 1), 2, 0, 0, True, "taps"),  # dilation
    ((1, 64, 64, 3), 24, (5, 5), (2, 2), 1, 0, 0, True, "phases"),  # 5x5 stride 2 (BlazeFace)
    ((2, 37, 41, 2), 5, (2, 4), (3, 1), 1, 0, 3, True, "phases"),  # stride 3 > kernel height
    ((5, 64, 64, 1), 4, (3, 3), (1, 1), 1, 1, 0, True, "phases"),  # batch in several chunks
    ((1, 50, 80, 3), 6, (2, 5), (1, 3), 1, 1, 1, True, "phases"),  # VALID, leftover columns
    ((1, 40, 40, 5), 8, (3, 3), (2, 2), 1, 0, 0, True, None),  # 5 channels: one copy
    ((1, 20, 20, 3), 8, (3, 3), (1, 1), 1, 0, 0, True, None),  # 400 pixels: one copy
    ((1, 9, 7, 16), 64, (1, 1), (1, 1), 1, 0, 3, True, None),  # 1x1, remainder rows
    ((2, 56, 56, 16), 24, (1, 1), (1, 1), 1, 0, 1, True, None),  # 1x1 past one chunk
    ((1, 33, 31, 12), 96, (1, 1), (2, 2), 1, 1, 0, True, None),  # strided 1x1
    ((1, 15, 13, 8), 7, (3, 3), (1, 1), 1, 0, 0, True, None),  # im2col, odd channels
    ((1, 12, 11, 5), 192, (3, 3), (1, 2), 1, 0, 3, True, None),  # im2col, bias row (192 >= 4*45)
    ((1, 14, 14, 24), 144, (1, 1), (1, 1), 1, 0, 3, True, None),  # 1x1 expansion, bias row
]


def _model(case):
    shape, oc, k, stride, dil, padding, act, bias, _ = CASES[case]
    rng = np.random.default_rng(case)
    w = rng.normal(0, 0.5, (oc, k[0], k[1], shape[3])).astype(np.float32)
    o, opts = conv_geometry(Op.CONV_2D, shape, oc, k, stride, dil, padding, act)
    b = rng.normal(0, 1, oc).astype(np.float32) if bias else np.zeros(oc, np.float32)
    with_bias = one_op_model(Op.CONV_2D, [inp(shape), const(w), const(b)], [out(o)], opts)
    if bias:
        return with_bias, with_bias, shape
    # LiteRT's CONV_2D needs a bias: ours runs without one, LiteRT with zeros.
    without = one_op_model(Op.CONV_2D, [inp(shape), const(w)], [out(o)], opts)
    return with_bias, without, shape


def _compare(ref_data, data, x):
    ref = litert_interpreter(model_content=ref_data)
    ours = Interpreter(model_content=data)
    results = []
    for it in (ref, ours):
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        results.append(it.get_tensor(it.get_output_details()[0]["index"]))
    want, got = results
    assert got.dtype == want.dtype and got.shape == want.shape
    scale = float(np.max(np.abs(want[np.isfinite(want)]), initial=1.0))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * scale)
    return got


@pytest.fixture
def gathers(monkeypatch):
    """Counts the runs of the tap gather."""
    calls = []
    real = _conv_float.FloatConv.gathered

    def spy(self, x, win_shape, strides, pads, win=None):
        calls.append("taps" if strides is None else "phases")
        return real(self, x, win_shape, strides, pads, win)

    monkeypatch.setattr(_conv_float.FloatConv, "gathered", spy)
    return calls


@pytest.mark.parametrize("case", range(len(CASES)))
def test_paths_equal_litert(case, gathers):
    ref_data, data, shape = _model(case)
    x = np.random.default_rng(100 + case).normal(0, 2, shape).astype(np.float32)
    _compare(ref_data, data, x)
    assert gathers == ([CASES[case][-1]] if CASES[case][-1] else [])


@pytest.mark.parametrize("case", [0, 2, 4, 8, 11, 12, 15, 16])
def test_nonfinite_inputs_equal_litert(case, gathers):
    ref_data, data, shape = _model(case)
    x = np.random.default_rng(200 + case).normal(0, 2, shape).astype(np.float32)
    flat = x.reshape(-1)
    flat[::97] = np.nan
    flat[5::131] = np.inf
    flat[7::151] = -np.inf
    got = _compare(ref_data, data, x)
    assert np.isnan(got).any()
    assert gathers == ([CASES[case][-1]] if CASES[case][-1] else [])


def test_overflow_clamps_to_flt_max():
    # Activation NONE: products past FLT_MAX are +-FLT_MAX in LiteRT, through the bias row.
    # (One large input per window: sums of infinities of both signs depend on the order.)
    ref_data, data, shape = _model(2)
    x = np.zeros(shape, np.float32)
    x[0, 24, 24, 0] = 3e38
    got = _compare(ref_data, data, x)
    assert np.isfinite(got).all() and np.abs(got).max() == np.finfo(np.float32).max


def test_bias_rows_tiled_add_matches_broadcast():
    rng = np.random.default_rng(7)
    for oc, rows in ((64, 63), (64, 64), (6, 500), (1500, 3), (16, 1)):
        w = rng.normal(size=(5, oc)).astype(np.float32)
        b = rng.normal(size=oc).astype(np.float32)
        conv = _conv_float.FloatConv(w, b, lambda y: None)
        y = rng.normal(size=(rows, oc)).astype(np.float32)
        want = y + b
        conv.add_bias(y)
        np.testing.assert_array_equal(y, want)


@pytest.mark.parametrize("depth, oc, bias", [(16, 64, True), (16, 63, True), (16, 96, False)])
def test_bias_row_gemm_matches_bias_pass(depth, oc, bias):
    rng = np.random.default_rng(depth + oc)
    w = rng.normal(size=(depth, oc)).astype(np.float32)
    b = rng.normal(size=oc).astype(np.float32) if bias else None
    conv = _conv_float.FloatConv(w, b, lambda y: None)
    assert conv.augments == (bias and oc >= _conv_float.AUGMENT_MIN_RATIO * depth)
    cols = rng.normal(size=(300, depth)).astype(np.float32)[::2]  # (a strided view)
    assert cols.shape[0] * (depth + 1) <= _conv_float.AUGMENT_MAX_ELEMENTS
    y = np.empty((150, oc), np.float32)
    conv.gemm(cols, y)
    want = cols.astype(np.float64) @ w + (0 if b is None else b)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
