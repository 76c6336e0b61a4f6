"""SOFTMAX: float32, int8 (reference fixed-point kernel, not the optimized LUT) and int16
(``SoftmaxInt16``'s tables, see ``_int16``).

References: ``tflite/kernels/activations.cc`` (SoftmaxPrepare), ``reference/softmax.h``,
gemmlowp ``fixedpoint.h`` (``exp_on_negative_values``, ``one_over_one_plus_x_for_x_in_0_1``);
spec 2.7.9. Q-formats: the scaled difference is Q5.26, exponentials Q0.31, their sum Q12.19.
"""

from __future__ import annotations

import math

import numpy as np

from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels import _int16
from runtime.tflite.kernels._fixed_point import (
    INT32_MAX,
    quantize_multiplier,
    rdbpot,
    saturating_shl,
    srdhm,
    wrap_int32,
)

_SCALED_DIFF_INTEGER_BITS = 5
_ACCUM_INTEGER_BITS = 12
_BARREL = (1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242)


def _exp_on_interval(a):
    # exp(x) for x in [-1/4, 0), Q0.31: Taylor series around -1/8.
    x = a + (1 << 28)
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    poly = rdbpot(srdhm(rdbpot(x4, 2) + x3, 715827883) + x2, 1)
    const = 1895147668
    return const + srdhm(const, x + poly)


def exp_on_negative_values(a):
    """exp(a) for Q5.26 a <= 0, result Q0.31 (gemmlowp)."""
    quarter = 1 << 24
    a_mod = (a & (quarter - 1)) - quarter
    result = _exp_on_interval(saturating_shl(a_mod, 5))
    remainder = a_mod - a
    for k, mult in enumerate(_BARREL):
        bit = 1 << (24 + k)
        result = np.where(remainder & bit, srdhm(result, mult), result)
    return np.where(a == 0, INT32_MAX, result)


def _rounding_half_sum(a, b):
    s = a + b
    sign = np.where(s >= 0, 1, -1)
    t = s + sign
    return np.sign(t) * (np.abs(t) // 2)


def one_over_one_plus_x(a):
    """1 / (1 + a) for Q0.31 a in [0, 1), result Q0.31 (Newton-Raphson, gemmlowp)."""
    half_den = _rounding_half_sum(a, INT32_MAX)
    x = 1515870810 + srdhm(half_den, -1010580540)
    for _ in range(3):
        one_minus = (1 << 29) - srdhm(half_den, x)
        x = x + saturating_shl(srdhm(x, one_minus), 2)
    return saturating_shl(x, 1)


def _clz32(x):
    x = np.asarray(x, dtype=np.int64) & 0xFFFFFFFF
    out = np.full(x.shape, 32, dtype=np.int64)
    nz = x != 0
    out[nz] = 31 - np.floor(np.log2(x[nz].astype(np.float64))).astype(np.int64)
    # log2 of values just below a power of two can round up in float64; fix by checking.
    fix = nz & ((x >> (31 - out)) == 0)
    out[fix] -= 1
    return out


# Inputs up to this many elements run the reference kernel's arithmetic in Python integers
# (``softmax_int8_small``): on a handful of class scores (a TFLite Micro model's last layer)
# that is several times faster than the dozens of numpy calls the vectorized path makes.
SMALL_INPUT_ELEMENTS = 64


def _wrap_int32_int(x: int) -> int:
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def _one_over_one_plus_x_int(a: int) -> int:
    """``one_over_one_plus_x`` on one Python int: the same steps, with srdhm(a, b) as
    min((a * b + 2^30) >> 31, INT32_MAX) and the saturating left shift written out."""
    s = a + INT32_MAX  # _rounding_half_sum(a, INT32_MAX)
    t = s + 1 if s >= 0 else s - 1
    half_den = abs(t) // 2 if t >= 0 else -(abs(t) // 2)
    x = 1515870810 + min((half_den * -1010580540 + (1 << 30)) >> 31, INT32_MAX)
    for _ in range(3):
        one_minus = (1 << 29) - min((half_den * x + (1 << 30)) >> 31, INT32_MAX)
        step = min((x * one_minus + (1 << 30)) >> 31, INT32_MAX) << 2
        x = x + min(max(step, -(1 << 31)), INT32_MAX)
    return min(max(x << 1, -(1 << 31)), INT32_MAX)


def softmax_int8_small(x: np.ndarray, tables: tuple) -> np.ndarray:
    """The int8 kernel of ``prepare`` on a small input, row by row in Python integers: the
    same tables and the same fixed-point steps as the vectorized path (tested equal), the
    helpers above written out in the loop (their calls cost more than their arithmetic).

    ``tables``: the exponential of each difference to the row's maximum, 0 where the
    difference is below diff_min (0 then rounds to the output's -128, the kernel's value
    there), and each one's term of the sum."""
    exp_live, term_table = tables
    term = term_table.__getitem__
    rows = x.reshape(-1, x.shape[-1]).tolist()
    out = []
    for row in rows:
        shift = 255 - max(row)
        index = [v + shift for v in row]
        total = _wrap_int32_int(sum(map(term, index)))
        headroom = 32 - (total & 0xFFFFFFFF).bit_length()
        recip = _one_over_one_plus_x_int(
            _wrap_int32_int(((total << headroom) & 0xFFFFFFFF) - (1 << 31))
        )
        exponent = _ACCUM_INTEGER_BITS - headroom + 31 - 8
        mask = (1 << exponent) - 1
        half = mask >> 1
        for i in index:
            # rdbpot(srdhm(recip, e), exponent) - 128, clamped to int8
            p = min((recip * exp_live[i] + (1 << 30)) >> 31, INT32_MAX)
            q = (p >> exponent) + ((p & mask) > half + (p < 0)) - 128
            out.append(-128 if q < -128 else (127 if q > 127 else q))
    return np.array(out, np.int8).reshape(x.shape)


def _prepare_int16(ctx: c.OpContext, beta: float) -> c.Eval:
    # SoftmaxPrepare / reference_ops::SoftmaxInt16: exp and 1/(1+x) tables (see _int16).
    s_in, zp_in = c.per_tensor_qparams(ctx, ctx.inputs[0], "input")
    s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
    if zp_in != 0 or zp_out != 0 or abs(float(s_out) - 1 / 32768) > 0.001 / 32768:
        raise ctx.fail(
            "int16 softmax needs input zero point 0 and output (1/32768, 0); has "
            f"input zero point {zp_in}, output ({float(s_out)}, {zp_out})"
        )
    mult, shift = _int16.softmax_multiplier(float(s_in), beta)

    def run_int16(x):
        if x.size == 0:
            return [x.copy()]
        return [_int16.softmax(x, mult, shift)]

    return run_int16


def prepare(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1)
    beta = float(ctx.options["beta"])
    ttype = ctx.require_types((c.F32, c.I8, c.I16))
    if ttype == c.I16:
        return _prepare_int16(ctx, beta)
    if ttype == c.F32:

        def run_float(x):
            z = (x.astype(np.float64) - x.max(axis=-1, keepdims=True)) * beta
            e = np.exp(z)
            return [(e / e.sum(axis=-1, keepdims=True)).astype(np.float32)]

        return run_float
    s_in, _ = c.per_tensor_qparams(ctx, ctx.inputs[0], "input")
    s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
    if zp_out != -128 or abs(float(s_out) - 1 / 256) > 0.001 / 256:
        raise ctx.fail(
            f"int8 output must have scale 1/256 and zero point -128, has ({float(s_out)}, {zp_out})"
        )
    real = min(beta * float(s_in) * (1 << (31 - _SCALED_DIFF_INTEGER_BITS)), float(INT32_MAX))
    mult, left = quantize_multiplier(real)
    radius = math.floor(
        ((1 << _SCALED_DIFF_INTEGER_BITS) - 1)
        * (1 << (31 - _SCALED_DIFF_INTEGER_BITS))
        / (1 << left)
    )
    diff_min = -radius
    # An int8 difference to the row's maximum is one of 256 values, and each element's
    # exponential is a function of it alone: the same fixed-point code, run once at prepare
    # on every difference, then looked up (a table of the reference kernel's own results).
    diffs = np.arange(-255, 1, dtype=np.int64)
    exp_table = exp_on_negative_values(srdhm(wrap_int32(diffs << left), mult))
    live_table = diffs >= diff_min
    term_table = np.where(live_table, rdbpot(exp_table, _ACCUM_INTEGER_BITS), 0)

    tables = (np.where(live_table, exp_table, 0).tolist(), term_table.tolist())

    def run_int8(x):
        if x.size == 0:
            return [x.copy()]
        if x.size <= SMALL_INPUT_ELEMENTS and x.ndim:
            return [softmax_int8_small(x, tables)]
        xi = x.astype(np.int64)
        index = xi - xi.max(axis=-1, keepdims=True) + 255
        live, e = live_table[index], exp_table[index]
        total = wrap_int32(term_table[index].sum(axis=-1))
        headroom = _clz32(total)
        bits_over_unit = _ACCUM_INTEGER_BITS - headroom
        shifted = wrap_int32(((total << headroom) & 0xFFFFFFFF) - (1 << 31))
        recip = one_over_one_plus_x(shifted)
        out = rdbpot(srdhm(recip[..., None], e), (bits_over_unit + 31 - 8)[..., None]) - 128
        out = np.where(live, np.clip(out, -128, 127), -128)
        return [out.astype(np.int8)]

    return run_int8
