"""The folded int8 requantization (``_folded_requant``) equals the integer requantize on every
accumulator its bound admits, including GEMMs whose sums reach that bound, and refuses what it
cannot do exactly; int8 CONV_2D and DEPTHWISE_CONV_2D on random parameters (both of its paths,
the unfolded fallback, and the kernels' window, im2col and 1x1 paths) equal LiteRT's reference
kernels."""

from __future__ import annotations

import numpy as np
import pytest

from runtime.tflite.kernels._common import activation_range_quantized
from runtime.tflite.kernels._fixed_point import quantize_multipliers, requantize
from runtime.tflite.kernels._folded_requant import fold_requantization
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite.test_conv_paths import conv_geometry
from tests.runtime.tflite.test_kernels import check, const, inp, one_op_model, out


def _ties(mult, shift, bias, bound, span=200):
    """Sums whose accumulators sit on each channel's rounding ties and their neighbours."""
    step = np.exp2(31 - shift) / mult  # accumulator per unit of output
    rows = []
    for j in range(-span, span):
        tie = np.round((j + 0.5) * step - bias)[None, :] + np.arange(-2, 3)[:, None]
        rows.append(np.clip(tie, -bound, bound).astype(np.int64))
    return rows


@pytest.mark.parametrize("seed", range(12))
def test_equals_the_integer_requantize(seed):
    rng = np.random.default_rng(seed)
    channels = 16
    scales = rng.uniform(0.01, 0.99, channels) * 10.0 ** rng.integers(-4, 0, channels)
    scales[:2] = [0.5, 0.999999]  # r = 0 and r = 1
    mult, shift = quantize_multipliers(scales)
    zp = int(rng.integers(-128, 128))
    # even seeds: lo >= zp (the RELU path); odd: a clamp below the zero point (general path)
    lo = max(zp, -128) if seed % 2 == 0 else int(rng.integers(-128, min(zp, 0) + 1))
    hi = int(rng.integers(max(lo, zp), 128))
    abs_w = rng.integers(1, 3000, channels)
    bias = rng.integers(-20000, 20000, channels)
    folded = None
    while folded is None:  # drop the smallest multipliers until every channel folds
        folded = fold_requantization(mult, shift, bias, abs_w, zp, lo, hi)
        if folded is None:
            k = int(np.argmin(scales))
            scales[k] *= 10
            mult[k], shift[k] = (a[0] for a in quantize_multipliers(scales[k : k + 1]))
    bound = 128 * abs_w
    rows = [(rng.uniform(-1, 1, (256, channels)) * bound).astype(np.int64)]
    rows.append(np.stack([bound, -bound, np.zeros_like(bound)]))
    sums = np.concatenate(rows + _ties(mult, shift, bias, bound))
    want = requantize(sums + bias, mult, shift, zp, lo, hi)
    got = folded.finish(sums * folded.scale + folded.offset)
    np.testing.assert_array_equal(got, want)


def _largest_weight_sum(mult, shift, bias, channel):
    """The largest sum |w| of ``channel`` that ``fold_requantization`` accepts (bisection)."""

    def folds(total):
        sums = np.ones(len(mult), np.int64)
        sums[channel] = total
        return fold_requantization(mult, shift, bias, sums, 0, -128, 127) is not None

    lo, hi = 1, 2**40
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if folds(mid) else (lo, mid)
    return lo


def test_gemm_sums_at_the_bound():
    # int8 weights whose sum |w| is the largest the bound admits (one more is refused), in a
    # float64 GEMM: BLAS sums in its own order and blocks, exact only while every partial sum
    # stays below 2^53 units; rows at (nearly) +-128 * sum|w| and random rows.
    rng = np.random.default_rng(7)
    channels = 4
    mult, shift = quantize_multipliers(np.full(channels, 2.0**-15 * 0.999))
    bias = np.array([0, 1000, -1000, 7])
    totals = [_largest_weight_sum(mult, shift, bias, ch) for ch in range(channels)]
    depth = max(totals) // 127 + 2
    w = np.zeros((depth, channels), np.int64)
    for ch, total in enumerate(totals):
        w[: total // 127, ch] = 127
        w[total // 127, ch] = total % 127
        w[:, ch] *= rng.choice([-1, 1], depth)
    abs_w = np.abs(w).sum(axis=0)
    assert list(abs_w) == totals and np.all(128 * abs_w * mult > 2.0**52)
    folded = fold_requantization(mult, shift, bias, abs_w, 0, -128, 127)
    assert folded is not None
    x = rng.integers(-128, 128, (400, depth))
    x[: 2 * channels] = np.concatenate([np.where(w.T > 0, -128, 127), np.where(w.T > 0, 127, -128)])
    y = x.astype(np.float64) @ (w * folded.scale) + folded.offset
    want = requantize(x @ w + bias, mult, shift, 0, -128, 127)
    np.testing.assert_array_equal(folded.finish(y), want)


def test_refuses_what_it_cannot_do_exactly():
    mult, shift = quantize_multipliers(np.array([0.003, 3.0]))  # the second shifts left
    assert fold_requantization(mult[:1], shift[:1], [0], [1000], 0, -128, 127) is not None
    assert fold_requantization(mult, shift, [0, 0], [1000, 1000], 0, -128, 127) is None
    # a tiny multiplier (large right shift) with a zero point: zp 2^(31+r) passes 2^53
    small_m, small_s = quantize_multipliers(np.array([1e-6]))
    assert fold_requantization(small_m, small_s, [0], [10], 100, -128, 127) is None
    # a weight sum whose products pass 2^53
    assert fold_requantization(mult[:1], shift[:1], [0], [2**22], 0, -128, 127) is None


def _conv_model(rng, op, shape, oc, k, stride, dil, padding, act, s_out, zp_in, zp_out):
    ic = shape[3]
    wshape = (oc, k[0], k[1], ic) if op == Op.CONV_2D else (1, k[0], k[1], oc)
    axis = 0 if op == Op.CONV_2D else 3
    q = rng.integers(-127, 128, wshape).astype(np.int8)
    scale = rng.uniform(0.002, 0.02, oc).astype(np.float32)
    s_in = np.float32(0.05)
    bias = rng.integers(-3000, 3000, oc).astype(np.int32)
    o, opts = conv_geometry(op, shape, oc, k, stride, dil, padding, act)
    data = one_op_model(
        op,
        [
            inp(shape, T.INT8, s_in, zp_in),
            const(q, T.INT8, scale, np.zeros(oc, int), qdim=axis),
            const(bias, T.INT32, (s_in * scale).astype(np.float32), np.zeros(oc, int)),
        ],
        [out(o, T.INT8, s_out, zp_out)],
        opts,
        version=3,
    )
    # what the kernels fold: bias with the input zero point's correction, sum |w| per channel
    axes = (1, 2, 3) if op == Op.CONV_2D else (0, 1, 2)
    wi = q.astype(np.int64)
    m, s = quantize_multipliers(s_in * scale.astype(np.float64) / np.float64(np.float32(s_out)))
    lo, hi = activation_range_quantized(act, s_out, zp_out)
    b_eff = bias - zp_in * wi.sum(axis=axes)
    folded = fold_requantization(m, s, b_eff, np.abs(wi).sum(axis=axes), zp_out, lo, hi)
    return data, folded is not None


# (op, input shape, out channels, kernel, stride, dilation, padding, activation, output scale)
KERNEL_CASES = [
    (Op.CONV_2D, (1, 9, 1, 20), 12, (1, 1), (1, 1), 1, 0, 0, 0.5),  # 1x1, general path
    (Op.CONV_2D, (2, 9, 7, 6), 10, (1, 1), (2, 2), 1, 1, 3, 0.5),  # 1x1 stride 2, RELU6
    (Op.CONV_2D, (1, 11, 3, 12), 9, (3, 3), (1, 1), 1, 0, 1, 0.8),  # depth 108: float32 GEMM
    (Op.CONV_2D, (1, 10, 10, 4), 5, (3, 2), (2, 1), 2, 0, 2, 0.5),  # dilated, RELU_N1_TO_1
    (Op.CONV_2D, (1, 6, 6, 8), 7, (1, 1), (1, 1), 1, 0, 0, 4000.0),  # too small: not folded
    (Op.DEPTHWISE_CONV_2D, (1, 9, 8, 6), 6, (3, 3), (1, 1), 1, 0, 0, 0.3),  # general path
    (Op.DEPTHWISE_CONV_2D, (2, 8, 9, 3), 6, (3, 3), (2, 2), 1, 1, 1, 0.3),  # mult 2, stride 2
    (Op.DEPTHWISE_CONV_2D, (1, 12, 1, 5), 5, (9, 1), (1, 1), 2, 0, 3, 0.3),  # 9x1, dilated
    (Op.DEPTHWISE_CONV_2D, (1, 7, 7, 4), 4, (3, 3), (1, 2), 1, 0, 2, 0.3),  # width stride 2
    (Op.DEPTHWISE_CONV_2D, (1, 6, 5, 4), 4, (3, 3), (1, 1), 1, 0, 0, 4000.0),  # not folded
    (Op.DEPTHWISE_CONV_2D, (1, 9, 7, 1), 4, (3, 3), (1, 1), 1, 0, 1, 0.3),  # one input channel
    (Op.CONV_2D, (1, 40, 40, 1), 6, (3, 3), (1, 1), 1, 0, 1, 0.5),  # 1600 rows, tap by tap
    (Op.CONV_2D, (1, 100, 90, 3), 4, (1, 1), (1, 1), 1, 0, 0, 0.5),  # 1x1 past one chunk
]


@pytest.mark.parametrize("case", range(len(KERNEL_CASES)))
def test_kernels_equal_litert(case):
    op, shape, oc, k, stride, dil, padding, act, s_out = KERNEL_CASES[case]
    for seed in range(3):
        rng = np.random.default_rng(100 * case + seed)
        zp_in, zp_out = (int(v) for v in rng.integers(-128, 128, 2))
        data, folds = _conv_model(
            rng, op, shape, oc, k, stride, dil, padding, act, s_out, zp_in, zp_out
        )
        assert folds == (s_out < 10)  # the case exercises the path it is meant to
        check(data, seed)


@pytest.mark.parametrize("seed", range(16))
def test_random_geometry_equals_litert(seed):
    # Random windows (size, stride, dilation, padding), batch, channels, activation and zero
    # points: the int8 paths' window arithmetic (the float one: test_conv_paths).
    rng = np.random.default_rng(1000 + seed)
    k = tuple(int(v) for v in rng.integers(1, 5, 2))
    stride = tuple(int(v) for v in rng.integers(1, 3, 2))
    dil = int(rng.integers(1, 3))
    padding = int(rng.integers(0, 2))
    act = int(rng.integers(0, 4))
    ic = int(rng.integers(1, 6))
    shape = (int(rng.integers(1, 3)), *(int(v) for v in rng.integers(5, 12, 2)), ic)
    if padding == 1 and min(shape[1 + i] - (k[i] - 1) * dil for i in range(2)) < 1:
        padding = 0  # VALID needs the window to fit
    for op in (Op.CONV_2D, Op.DEPTHWISE_CONV_2D):
        mult = int(rng.integers(1, 3)) if op == Op.DEPTHWISE_CONV_2D else 1
        oc = ic * mult if op == Op.DEPTHWISE_CONV_2D else int(rng.integers(1, 9))
        zp_in, zp_out = (int(v) for v in rng.integers(-128, 128, 2))
        data, _ = _conv_model(rng, op, shape, oc, k, stride, dil, padding, act, 0.5, zp_in, zp_out)
        check(data, seed)
