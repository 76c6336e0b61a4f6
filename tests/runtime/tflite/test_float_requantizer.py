"""``float_requantizer`` (float64 MultiplyByQuantizedMultiplier) equals the int64 one on every
accumulator it accepts: random values up to the bound, the rounding ties of each channel and
their neighbours, 0 and +-1..3; and it refuses what it cannot do exactly."""

from __future__ import annotations

import numpy as np
import pytest

from runtime.tflite.kernels._fixed_point import (
    float_requantizer,
    quantize_multipliers,
    requantize,
)

_I32 = (-(2**31), 2**31 - 1)


@pytest.mark.parametrize("seed", range(8))
def test_equals_the_integer_requantize(seed):
    rng = np.random.default_rng(seed)
    channels = 24
    scales = rng.uniform(0.01, 0.99, channels) * 10.0 ** rng.integers(-6, 0, channels)
    scales[:2] = [0.5, 0.999999]  # r = 0 and r = 1 (shift 0 and -1)
    mult, shift = quantize_multipliers(scales)
    bound = np.minimum(np.floor(2.0**52 / mult) - 1, 2**31 - 1)
    requant = float_requantizer(mult, shift, bound, 0, *_I32)
    assert requant is not None
    rows = [(rng.uniform(-1, 1, (256, channels)) * bound).astype(np.int64)]
    rows.append(np.tile(np.arange(-3, 4)[:, None], (1, channels)))
    step = np.exp2(31 - shift) / mult  # acc per unit of output: ties at (j + 1/2) * step
    for j in range(-40, 40):
        tie = np.round((j + 0.5) * step)[None, :] + np.arange(-2, 3)[:, None]
        rows.append(np.clip(tie, -bound, bound).astype(np.int64))
    acc = np.concatenate(rows)
    want = requantize(acc.copy(), mult, shift, 0, *_I32, dtype=np.int64)
    got = requant(acc.astype(np.float64))
    np.testing.assert_array_equal(got.astype(np.int64), want)


def test_clamps_and_zero_point_as_requantize():
    mult, shift = quantize_multipliers(np.array([0.003, 0.07, 0.4]))
    requant = float_requantizer(mult, shift, np.full(3, 2.0**20), -5, -128, 127)
    acc = np.random.default_rng(1).integers(-(2**20), 2**20, (500, 3))
    want = requantize(acc.copy(), mult, shift, -5, -128, 127)
    np.testing.assert_array_equal(requant(acc.astype(np.float64)).astype(np.int8), want)


def test_refuses_what_it_cannot_do_exactly():
    mult, shift = quantize_multipliers(np.array([0.003, 0.07]))
    assert float_requantizer(mult, shift, np.full(2, 2.0**23), 0, -128, 127) is None
    left_mult, left_shift = quantize_multipliers(np.array([3.0]))  # a left shift
    assert float_requantizer(left_mult, left_shift, np.array([10.0]), 0, -128, 127) is None
