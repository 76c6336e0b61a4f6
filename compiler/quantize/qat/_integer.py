"""The int8 MEAN kernel's arithmetic, for the simulation to reproduce it exactly.

TFLite's reference ``QuantizedMeanOrSum`` (``reference/reduce.h``; ``reduce.cc`` Prepare)
sums the int8 codes in int32, removes the input zero point, and scales by
``s_in / (n * s_out)`` through a fixed-point multiplier whose 1/n is folded in by integer
division: ``M' = floor(M * 2^k / n)`` with ``k = min(floor(log2 n), 32, 31 + shift)``, then
``MultiplyByQuantizedMultiplier`` (gemmlowp's double rounding: ``SaturatingRoundingDoubling
HighMul`` then ``RoundingDivideByPOT``, ties away from zero). The truncation in ``M'`` makes
the result differ from ``round(mean / s_out)`` by one step on a few percent of values.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["int8_mean"]


def _quantize_multiplier(m: float) -> tuple[int, int]:
    """``(M, shift)`` with ``m ~= M * 2^(shift - 31)``, ``M`` in [2^30, 2^31)."""
    if m == 0.0:
        return 0, 0
    fraction, shift = math.frexp(m)
    fixed = int(math.copysign(math.floor(abs(fraction) * 2**31 + 0.5), fraction))
    if fixed == 2**31:
        fixed, shift = fixed // 2, shift + 1
    return (0, 0) if shift < -31 else (fixed, shift)


def _multiply(x: np.ndarray, multiplier: int, shift: int) -> np.ndarray:
    """``MultiplyByQuantizedMultiplier`` on int64 arrays holding int32 values."""
    left, right = max(shift, 0), max(-shift, 0)
    x = x.astype(np.int64) << left
    high = (x * multiplier + (1 << 30)) >> 31  # rounding doubling high multiply
    mask = (1 << right) - 1
    threshold = (mask >> 1) + (high < 0)
    return (high >> right) + ((high & mask) > threshold)


def int8_mean(total: np.ndarray, count: int, in_scale, out_scale, out_zero_point: int):
    """int8 MEAN output codes from ``total`` = sum of (code - input zero point) over
    ``count`` elements."""
    multiplier, shift = _quantize_multiplier(float(np.float64(in_scale) / np.float64(out_scale)))
    k = min(int(math.floor(math.log2(count))), 32, 31 + shift)
    scaled = (multiplier << k) // count if k >= 0 else multiplier // count
    return np.clip(_multiply(total, scaled, shift - k) + out_zero_point, -128, 127)
