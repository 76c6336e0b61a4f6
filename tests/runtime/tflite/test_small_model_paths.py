"""Second implementations that TFLite Micro-sized models take (kernels whose numpy calls cost
more than their arithmetic there): each equals the plain path it stands in for, bit for bit.
LiteRT's reference kernels check both through the kernel tests (tests/runtime/tflite)."""

from __future__ import annotations

import numpy as np
import pytest

from runtime import Interpreter
from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels import arithmetic, fully_connected, pooling, softmax
from runtime.tflite.kernels.quantize import _affine_quantize, _within
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._litert import litert_interpreter
from tests.runtime.tflite.test_kernels import check, const, inp, one_op_model, out
from tests.runtime.tflite.test_quantize_fast_path import _general


def _kernel(data: bytes):
    it = Interpreter(model_content=data)
    it.allocate_tensors()
    (step,) = it._main.plan
    return step[1]


@pytest.mark.parametrize("seed", range(6))
def test_int8_softmax_in_python_integers_equals_the_vectorized_path(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    for beta in (1.0, 0.5, 2.0):
        s_in = float(np.float32(rng.uniform(1e-3, 2.0)))
        zp = int(rng.integers(-128, 128))
        rows, depth = int(rng.integers(1, 4)), int(rng.integers(1, 21))
        data = one_op_model(
            Op.SOFTMAX,
            [inp((rows, depth), T.INT8, s_in, zp)],
            [out((rows, depth), T.INT8, 1 / 256, -128)],
            {"beta": beta},
            version=2,
        )
        kernel = _kernel(data)
        for x in (
            rng.integers(-128, 128, (rows, depth), dtype=np.int8),
            np.full((rows, depth), rng.integers(-128, 128), np.int8),  # all equal: one max
            np.tile(np.array([-128, 127], np.int8), (rows, depth))[:, :depth],  # far apart
        ):
            assert x.size <= softmax.SMALL_INPUT_ELEMENTS
            small = kernel(x)[0]
            monkeypatch.setattr(softmax, "SMALL_INPUT_ELEMENTS", -1)
            vectorized = kernel(x)[0]
            monkeypatch.undo()
            np.testing.assert_array_equal(small, vectorized)


def test_quantize_range_test_is_never_wrong():
    """``_within`` may send an input to the general path needlessly, never the other way."""
    rng = np.random.default_rng(0)
    bound = 0.02 * 2.0**29
    for n in (1, 7, 640, 5000):
        for spread in (1e-3, 0.1, 0.45, 0.5, 0.9, 1.0, 2.0):
            x = (rng.uniform(-1, 1, n) * spread * bound).astype(np.float32)
            if _within(x, bound):
                assert np.abs(x.astype(np.float64)).max() < bound
            if spread <= 1e-3:  # well inside (as int8 data is, by 2^20): the cheap test passes
                assert _within(x, bound)
    for odd in (np.nan, np.inf, -np.inf, bound):
        assert not _within(np.array([0.0, odd], np.float32), bound)


@pytest.mark.parametrize("zero_point", [-128, 0, 77])
def test_quantize_fast_path_well_inside_its_range(zero_point):
    scale, info = np.float32(0.013), np.iinfo(np.int8)
    k = np.arange(-300, 300, dtype=np.float64)
    ties = ((k + 0.5) * np.float64(scale)).astype(np.float32)
    x = np.concatenate([ties, np.nextafter(ties, np.float32(np.inf)), np.nextafter(ties, -1)])
    assert _within(x, float(scale) * 2.0**29)
    np.testing.assert_array_equal(
        _affine_quantize(x, scale, zero_point, info), _general(x, scale, zero_point, info)
    )


@pytest.mark.parametrize(
    "shape,k,s,pad",
    [((1, 128, 3, 8), 3, 3, 1), ((2, 9, 7, 3), 2, 1, 1), ((1, 10, 10, 4), 3, 2, 1)],
)
def test_pool_windows_view_equals_the_common_one(shape, k, s, pad):
    x = np.random.default_rng(1).integers(-128, 128, shape, dtype=np.int8)
    oh, pt = c.pad_before(pad, shape[1], k, s, 1)
    ow, pl = c.pad_before(pad, shape[2], k, s, 1)
    g = (k, k, s, s, 1, 1, pt, pl, oh, ow)
    got = pooling._windows(x, g, -128)
    want = c.windows(x, k, k, s, s, 1, 1, pt, pl, oh, ow, -128)
    np.testing.assert_array_equal(got, want)
    assert not got.flags.writeable


def test_broadcast_without_growth_is_what_numpy_says():
    shapes = [(), (1,), (3,), (1, 3), (2, 3), (2, 1), (4, 2, 3), (4, 1, 3), (0, 3), (1, 1)]
    for sa in shapes:
        for sb in shapes:
            a, b = np.zeros(sa), np.zeros(sb)
            if arithmetic._no_growth(a, b):
                shape = np.broadcast_shapes(sa, sb)  # broadcastable
                assert int(np.prod(shape)) <= max(a.size, b.size)


@pytest.mark.parametrize(
    "shape,k,stride,padding",
    [
        ((1, 25, 5, 8), (25, 5), (25, 5), 1),  # a global pool (keyword spotting's)
        ((2, 5, 5, 3), (4, 4), (4, 4), 0),  # SAME: windows over the padding
        ((1, 2, 1, 6), (2, 1), (2, 1), 1),
    ],
)
def test_int8_average_pool_by_window_sums_matches_litert(shape, k, stride, padding):
    """More taps than output positions: one sum per window instead of the tap loop."""
    n, h, w, ch = shape
    o_shape = (n, -(-h // stride[0]), -(-w // stride[1]), ch) if padding == 0 else None
    if o_shape is None:
        o_shape = (n, (h - k[0]) // stride[0] + 1, (w - k[1]) // stride[1] + 1, ch)
    assert k[0] * k[1] >= o_shape[1] * o_shape[2]
    check(
        one_op_model(
            Op.AVERAGE_POOL_2D,
            [inp(shape, T.INT8, 0.1, -3)],
            [out(o_shape, T.INT8, 0.1, -3)],
            {
                "padding": padding,
                "stride_w": stride[1],
                "stride_h": stride[0],
                "filter_width": k[1],
                "filter_height": k[0],
                "fused_activation_function": 0,
            },
            version=2,
        ),
        seed=1,
    )


@pytest.mark.parametrize("per_channel", [True, False])
@pytest.mark.parametrize("ties", [True, False])
def test_int8_requantization_by_thresholds_equals_the_arithmetic(per_channel, ties):
    """Every accumulator near every threshold, and random ones over the reachable range."""
    rng = np.random.default_rng(int(per_channel) + 2 * int(ties))
    for _ in range(20):
        units = int(rng.integers(1, 30))
        k = units if per_channel else 1
        # powers of two make acc * scale land on halves: the ties the rounding must break
        scales = 2.0 ** -rng.integers(1, 12, k) if ties else rng.uniform(1e-5, 0.05, k)
        scale = scales if per_channel else float(scales[0])
        zp = int(rng.integers(-128, 128))
        lo = int(rng.integers(-128, 0))
        lo, hi = (-128, 127) if rng.random() < 0.3 else (lo, int(rng.integers(lo + 1, 128)))
        bound = rng.uniform(10, 1e6, units)
        found = fully_connected._search_requantizer(scale, zp, lo, hi, bound, units)
        assert found is not None
        thresholds, shift, levels = found
        # each channel's own thresholds (the sentinel too) and their neighbours, in its range
        own = thresholds.reshape(units, -1) - shift[:, None] if per_channel else thresholds
        own = np.broadcast_to(own, (units, own.shape[-1]))
        near = (own[:, :, None] + np.arange(-2, 3)).reshape(units, -1).T
        acc = np.concatenate(
            [
                np.clip(near, -np.floor(bound), np.floor(bound)),
                np.floor(rng.uniform(-1, 1, (50, units)) * bound),
            ]
        )
        want = fully_connected._requantized(acc, scale, zp, lo, hi).astype(np.int8)
        got = levels.take(np.searchsorted(thresholds, acc + shift, side="right"))
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("per_channel", [True, False])
def test_int8_fully_connected_small_output_path_equals_the_large_one(per_channel, monkeypatch):
    rng = np.random.default_rng(3)
    units, depth = 12, 40
    q = rng.integers(-127, 128, (units, depth)).astype(np.int8)
    scale = rng.uniform(0.001, 0.02, units).astype(np.float32)
    if not per_channel:
        scale = np.float32(scale.max())
    data = one_op_model(
        Op.FULLY_CONNECTED,
        [
            inp((3, depth), T.INT8, 0.03, 4),
            const(q, T.INT8, scale, np.zeros(np.size(scale), int)),
            const(
                rng.integers(-3000, 3000, units).astype(np.int32),
                T.INT32,
                (np.float32(0.03) * np.atleast_1d(scale)).astype(np.float32),
                np.zeros(np.size(scale), int),
            ),
        ],
        [out((3, units), T.INT8, 0.05, -7)],
        {"fused_activation_function": 1},
        version=5,
    )
    kernel = _kernel(data)
    for seed in range(5):
        x = np.random.default_rng(seed).integers(-128, 128, (3, depth), dtype=np.int8)
        small = kernel(x, None, None)[0]
        monkeypatch.setattr(fully_connected, "SEARCH_MAX_ELEMENTS", 0)
        large = kernel(x, None, None)[0]
        monkeypatch.undo()
        np.testing.assert_array_equal(small, large)


@pytest.mark.parametrize(
    "op,activation", [(Op.RELU, None), (Op.RELU6, None), (Op.ADD, 1), (Op.ADD, 3), (Op.MUL, 1)]
)
def test_float_clamps_keep_signed_zeros_and_nan_as_litert(op, activation):
    """The reference clamps as ``x < lo ? lo : x``: -0.0 stays -0.0 and NaN stays NaN."""
    x = np.array([[-0.0, np.nan, -1.5, 0.0, 7.0, -0.0]], np.float32)
    binary = activation is not None
    inputs = [inp(x.shape), inp(x.shape)] if binary else [inp(x.shape)]
    options = {"fused_activation_function": activation} if binary else {}
    data = one_op_model(op, inputs, [out(x.shape)], options)
    feed = {0: x, 1: np.where(np.signbit(x), x, np.float32(0.0)) if op == Op.ADD else x}
    results = []
    for it in (litert_interpreter(model_content=data), Interpreter(model_content=data)):
        it.allocate_tensors()
        for k, d in enumerate(it.get_input_details()):
            it.set_tensor(d["index"], feed[k])
        it.invoke()
        results.append(it.get_tensor(it.get_output_details()[0]["index"]))
    want, got = results
    np.testing.assert_array_equal(got, want)  # NaN where NaN
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("op", [Op.ADD, Op.SUB, Op.MUL])
def test_int8_pair_table_on_equal_shapes_every_pair_against_litert(op):
    """Equal shapes build the table index from the two inputs' bytes side by side."""
    codes = np.arange(256, dtype=np.uint8).view(np.int8)
    a = np.repeat(codes, 256).reshape(256, 256)
    b = np.tile(codes, 256).reshape(256, 256)
    q_out = (0.05 * 0.09 * 40, -3) if op == Op.MUL else (0.13, -3)
    data = one_op_model(
        op,
        [inp((256, 256), T.INT8, 0.05, 1), inp((256, 256), T.INT8, 0.09, 17)],
        [out((256, 256), T.INT8, *q_out)],
        {"fused_activation_function": 1},
        version=2,
    )
    check(data, feeds={0: a, 1: b}, runs=1)


@pytest.mark.parametrize(
    "op,q_out,out_type,options",
    [
        (Op.RELU, (0.07, -20), T.INT8, {}),
        (Op.RELU6, (0.03, -128), T.INT8, {}),
        (Op.LEAKY_RELU, (0.04, 9), T.INT8, {"alpha": 0.2}),
        (Op.QUANTIZE, (0.13, -60), T.INT8, {}),
        (Op.DEQUANTIZE, (None, None), T.FLOAT32, {}),
    ],
)
def test_int8_byte_table_kernels_on_every_value_against_litert(op, q_out, out_type, options):
    """One-input int8 kernels read their outputs from a 256-entry table of their arithmetic."""
    values = np.arange(-128, 128, dtype=np.int8).reshape(2, 128)
    data = one_op_model(
        op,
        [inp(values.shape, T.INT8, 0.05, 7)],
        [out(values.shape, out_type, *q_out)],
        options,
        version=2,
    )
    check(data, feeds={0: values}, runs=1)
