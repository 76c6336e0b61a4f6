"""gemmlowp's int16 fixed-point logistic and tanh, as tables over every int16 input.

References: gemmlowp ``fixedpoint/fixedpoint.h`` (the scalar ``std::int16_t`` paths of
``exp_on_negative_values``, ``one_over_one_plus_x_for_x_in_0_1``,
``one_minus_x_over_one_plus_x_for_x_in_0_1``, ``logistic``, ``tanh``), used by TFLite's
``PortableApplySigmoid`` (input Q3.12) and ``PortableApplyTanh<IntegerBits>`` (input
Q<bits>.<15-bits>); both return Q0.15.

int16 arithmetic in C++ promotes to int and stores back to int16, so sums, differences and
negations wrap (``_wrap``); the 32-bit constants are brought to 16 bits by a rounding shift of
16 (``RescaleConstantInitializer``). An int16 input has only 65,536 values, so each function is
evaluated once over all of them (vectorized, exact) and then applied by table lookup.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from runtime.tflite.kernels._fixed_point import rdbpot

_I16_MIN, _I16_MAX = -(1 << 15), (1 << 15) - 1
_ONE_Q0 = _I16_MAX  # FixedPoint<int16, 0>::One()
_BARREL = (1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242)


def _wrap(x):
    return ((np.asarray(x, np.int64) + (1 << 15)) & 0xFFFF) - (1 << 15)


def _const(raw32: int) -> int:
    """A 32-bit fixed-point constant rescaled to 16 bits (rounding shift right by 16)."""
    return int(rdbpot(raw32, 16))


def _srdhm(a, b):
    """int16 SaturatingRoundingDoublingHighMul: (a*b + 2^14) / 2^15, -1 * -1 -> max."""
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    out = (a * b + (1 << 14)) >> 15
    return np.where((a == _I16_MIN) & (b == _I16_MIN), _I16_MAX, out)


def _sat_shl(x, exponent: int):
    """SaturatingRoundingMultiplyByPOT<exponent> for exponent > 0 on int16."""
    threshold = (1 << (15 - exponent)) - 1
    shifted = _wrap(np.asarray(x, np.int64) << exponent)
    return np.where(x > threshold, _I16_MAX, np.where(x < -threshold, _I16_MIN, shifted))


def _rounding_half_sum(a, b):
    s = np.asarray(a, np.int64) + b
    t = s + np.where(s >= 0, 1, -1)
    return _wrap(np.sign(t) * (np.abs(t) // 2))  # C division truncates toward zero


def _exp_on_interval(a):
    """exp(a) for Q0.15 a in [-1/4, 0): Taylor series around -1/8."""
    x = _wrap(a + (1 << 12))
    x2 = _srdhm(x, x)
    x3 = _srdhm(x2, x)
    x4 = _srdhm(x2, x2)
    x4_over_4 = rdbpot(x4, 2)
    poly = rdbpot(_wrap(_srdhm(_wrap(x4_over_4 + x3), _const(715827883)) + x2), 1)
    constant = _const(1895147668)
    return np.clip(constant + _srdhm(constant, _wrap(x + poly)), _I16_MIN, _I16_MAX)


def _exp_on_negative_values(a, integer_bits: int):
    """exp(a) for a <= 0 in Q<integer_bits>, result Q0.15."""
    frac = 15 - integer_bits
    quarter = 1 << (frac - 2)
    a_mod = _wrap((a & (quarter - 1)) - quarter)
    rescaled = _sat_shl(a_mod, integer_bits) if integer_bits > 0 else a_mod
    result = _exp_on_interval(rescaled)
    remainder = _wrap(a_mod - a)
    for exponent, multiplier in zip(range(-2, 5), _BARREL):
        if integer_bits > exponent:
            bit = 1 << (frac + exponent)
            result = np.where(remainder & bit, _srdhm(result, _const(multiplier)), result)
    if integer_bits > 5:
        clamp = _const(-(1 << (36 - integer_bits)))
        result = np.where(a < clamp, 0, result)
    return np.where(a == 0, _ONE_Q0, result)


def _newton_reciprocal(a):
    """x ~= 1 / ((1 + a) / 2) in Q2.13 for Q0.15 a in [0, 1): three Newton-Raphson steps."""
    half_denominator = _rounding_half_sum(a, _ONE_Q0)
    x = _wrap(_const(1515870810) + _srdhm(half_denominator, _const(-1010580540)))
    for _ in range(3):
        one_minus = _wrap((1 << 13) - _srdhm(half_denominator, x))
        x = _wrap(x + _sat_shl(_srdhm(x, one_minus), 2))
    return x


def _logistic(a, integer_bits: int):
    positive = a > 0
    abs_input = np.where(positive, a, _wrap(-a))
    exp_neg = _exp_on_negative_values(_wrap(-abs_input), integer_bits)
    if_positive = _sat_shl(_newton_reciprocal(exp_neg), 1)  # 1 / (1 + e^-|a|), F1 -> F0
    if_negative = _wrap(_ONE_Q0 - if_positive)
    return np.where(a == 0, _const(1 << 30), np.where(positive, if_positive, if_negative))


def _tanh(a, integer_bits: int):
    negative = a < 0
    n = np.where(negative, a, _wrap(-a))  # -|a|
    # exp(2n), then (1 - x) / (1 + x) = -tanh(n)
    x = _newton_reciprocal(_exp_on_negative_values(n, integer_bits + 1))
    t = _sat_shl(_wrap(x - (1 << 13)), 2)
    return np.where(a == 0, 0, np.where(negative, _wrap(-t), t))


_ALL = np.arange(_I16_MIN, _I16_MAX + 1, dtype=np.int64)


@cache
def sigmoid_table() -> np.ndarray:
    """``ApplySigmoid``: Q3.12 input (index ``q + 32768``) -> Q0.15 output, int16."""
    table = _logistic(_ALL, 3).astype(np.int16)
    table.flags.writeable = False
    return table


@cache
def tanh_table(integer_bits: int) -> np.ndarray:
    """``ApplyTanh(integer_bits)`` for 0 <= integer_bits <= 6, as ``sigmoid_table``."""
    if not 0 <= integer_bits <= 6:
        raise ValueError(f"tanh integer bits must be in 0..6, received {integer_bits}")
    table = _tanh(_ALL, integer_bits).astype(np.int16)
    table.flags.writeable = False
    return table


def lookup(table: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Apply a 65,536-entry table to int16-valued ``x``."""
    return table[np.asarray(x, np.int64) + (1 << 15)]
