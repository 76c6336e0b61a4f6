"""SQUARED_DIFFERENCE, RSQRT and REDUCE_PROD (float32 and int8; int32 too for the first and
last): the ops of LayerNormalization as TFLite writes it.

References: ``tflite/kernels/squared_difference.cc``; ``elementwise.cc`` (``RsqrtEval``,
``SetRsqrtOutputMultiplier``); ``internal/common.h`` (``GetInvSqrtQuantizedMultiplierExp``,
a gemmlowp fixed-point Newton iteration); ``reduce.cc`` and ``reference/reduce.h``
(``QuantizedReduceProd``).

int8 SQUARED_DIFFERENCE: both inputs shifted left by 7 and rescaled to the common scale
``2 * max(s1, s2)`` (multipliers below one), the difference squared in int32 and rescaled by
``(2 * max)^2 / (2^14 * s_out)``. int8 RSQRT: for ``v = q - zp_in`` (``v < 0`` is an error,
``v = 0`` gives 127) the inverse square root of ``v`` as a quantized multiplier, applied to 1
with 20 extra bits, then the output multiplier ``1 / (sqrt(s_in) * s_out)`` (float32 sqrt and
product, as the C++ computes them). With 256 possible inputs the kernel is a table made once.
int8 REDUCE_PROD: every product step is rescaled by ``s_in / s_out^(1/n)`` with the int64
MultiplyByQuantizedMultiplier, and the product once more at the end.
"""

from __future__ import annotations

import numpy as np

from runtime import _budget
from runtime._fperrors import quiet
from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels._fixed_point import (
    INT32_MAX,
    INT32_MIN,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    rdbpot,
    srdhm,
    wrap_int32,
)

_SD_LEFT_SHIFT = 7
_RSQRT_SHIFT = 20
_ONE32 = np.ones((), np.float32)  # (float32 with float32; cheaper than a Python 1 per call)


def _smaller_than_one(ctx, m: float, what: str) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp: the multiplier must be in (0, 1)."""
    if not 0.0 < m < 1.0:
        raise ctx.fail(f"{what} multiplier {m} must be in (0, 1) for the int8 kernel")
    return quantize_multiplier(m)


def prepare_squared_difference(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(2)
    ttype = ctx.require_types((c.F32, c.I32, c.I8), inputs=(0, 1))
    if ttype == c.F32:

        def run_float(a, b):
            c.broadcast_shape(ctx, a, b)
            d = a.astype(np.float32) - b.astype(np.float32)
            return [(d * d).astype(np.float32)]

        return run_float
    if ttype == c.I32:

        def run_int32(a, b):
            c.broadcast_shape(ctx, a, b)
            d = a.astype(np.int64) - b
            return [(d * d).astype(np.int32)]

        return run_int32
    s1, zp1 = c.per_tensor_qparams(ctx, ctx.inputs[0], "input 0")
    s2, zp2 = c.per_tensor_qparams(ctx, ctx.inputs[1], "input 1")
    s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
    twice_max = 2.0 * float(max(s1, s2))
    m1, e1 = _smaller_than_one(ctx, float(s1) / twice_max, "input 0")
    m2, e2 = _smaller_than_one(ctx, float(s2) / twice_max, "input 1")
    real_out = twice_max * twice_max / ((1 << (2 * _SD_LEFT_SHIFT)) * float(s_out))
    mo, eo = _smaller_than_one(ctx, real_out, "output")

    def run_int8(a, b):
        c.broadcast_shape(ctx, a, b)
        a1 = rdbpot(srdhm((a.astype(np.int64) - zp1) << _SD_LEFT_SHIFT, m1), -e1)
        b1 = rdbpot(srdhm((b.astype(np.int64) - zp2) << _SD_LEFT_SHIFT, m2), -e2)
        diff = a1 - b1
        y = rdbpot(srdhm(diff * diff, mo), -eo) + zp_out
        return [np.clip(y, -128, 127).astype(np.int8)]

    return run_int8


def _sat_shl(x: int, k: int) -> int:
    return max(INT32_MIN, min(INT32_MAX, x * (1 << k)))


def _srdhm(a: int, b: int) -> int:
    return int(srdhm(a, b))


def inv_sqrt_multiplier(value: int) -> tuple[int, int]:
    """GetInvSqrtQuantizedMultiplierExp(value, kReverseShift = -1): ``(multiplier, shift)``
    with ``1 / sqrt(value) ~= multiplier * 2^(shift - 31)``."""
    if value <= 1:
        return INT32_MAX, 0
    shift = 11
    while value >= 1 << 29:
        value //= 4
        shift += 1
    pairs = (32 - value.bit_length() - 1) // 2 - 1
    shift -= pairs
    value <<= 2 * pairs
    # Newton-Raphson in gemmlowp FixedPoint<int32, 3>: x <- 1.5 x - (v / 2) x^3, from x = 1.
    half_input = int(rdbpot(value >> 1, 1))
    half_three = (1 << 28) + (1 << 27)
    x = 1 << 28
    for _ in range(5):
        x3 = _sat_shl(_srdhm(_srdhm(x, x), x), 6)  # F9 -> F3
        x = _sat_shl(_srdhm(half_three, x) - _srdhm(half_input, x3), 3)  # F6 -> F3
    x = _srdhm(x, 1518500250)  # * sqrt(2) / 2
    if shift < 0:
        x = ((x << -shift) + (1 << 31)) % (1 << 32) - (1 << 31)  # int32 shift
        shift = 0
    return x, -shift


def _rsqrt_table(ctx, s_in, zp_in, s_out, zp_out) -> np.ndarray:
    """Output for each int8 input (index ``q + 128``); -1000 marks inputs below ``zp_in``."""
    root = np.float32(np.sqrt(np.float32(s_in)))
    real = 1.0 / float(np.float32(root * np.float32(s_out)))
    mult, shift = quantize_multiplier(real)
    table = np.full(256, -1000, np.int64)
    for q in range(max(zp_in, -128), 128):
        value = q - zp_in
        if value == 0:
            table[q + 128] = 127
            continue
        inv, inv_shift = inv_sqrt_multiplier(value)
        data = int(multiply_by_quantized_multiplier(1, inv, inv_shift + _RSQRT_SHIFT))
        out = int(multiply_by_quantized_multiplier(data, mult, shift - _RSQRT_SHIFT)) + zp_out
        table[q + 128] = min(max(out, -128), 127)
    return table


def prepare_rsqrt(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1)
    ttype = ctx.require_types((c.F32, c.I8))
    if ttype == c.F32:

        def run_float(x):
            with quiet():  # rsqrt(0) = inf, rsqrt(-1) = nan, as in C
                # 1.f / std::sqrt(x): both steps in float32 (x is float32 already)
                return [np.divide(_ONE32, np.sqrt(x))]

        return run_float
    s_in, zp_in = c.per_tensor_qparams(ctx, ctx.inputs[0], "input")
    s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
    table = _rsqrt_table(ctx, s_in, zp_in, s_out, zp_out)

    def run_int8(x):
        if x.size and int(x.min()) < zp_in:
            raise ctx.fail("Rsqrt is only defined for positive values")
        return [table[x.astype(np.int64) + 128].astype(np.int8)]

    return run_int8


def _mbqm_int64(x, multiplier: int, shift: int):
    """MultiplyByQuantizedMultiplier's int64-input overload: a 16-bit multiplier, one rounding,
    the result cast to int32."""
    reduced = (multiplier + (1 << 15)) >> 16 if multiplier < 0x7FFF0000 else 0x7FFF
    total = 15 - shift
    y = (np.asarray(x, np.int64) * reduced + (1 << (total - 1))) >> total
    return wrap_int32(y)


def _prod_axes(ctx, x, axis):
    axes = set()
    for a in np.ravel(axis).tolist():
        if not -x.ndim <= a < x.ndim:
            raise ctx.fail(f"axis {a} out of range for input of rank {x.ndim}")
        axes.add(a % x.ndim)
    return tuple(sorted(axes))


def prepare_reduce_prod(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(2)
    keep = bool(ctx.options["keep_dims"])
    ttype = ctx.require_types((c.F32, c.I32, c.I64, c.I8))
    if ctx.in_type(1) not in (c.I32, c.I64):
        raise ctx.fail("axis input must be int32 or int64")
    if ttype != c.I8:

        def run(x, axis):
            acc_type = np.float32 if ttype == c.F32 else x.dtype
            y = np.prod(x, axis=_prod_axes(ctx, x, axis), keepdims=keep, dtype=acc_type)
            return [np.asarray(y).astype(x.dtype)]

        return run
    s_in, zp_in = c.per_tensor_qparams(ctx, ctx.inputs[0], "input")
    s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")

    def run_int8(x, axis):
        axes = _prod_axes(ctx, x, axis)
        kept = [a for a in range(x.ndim) if a not in axes]
        n = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
        if x.size == 0 or n == 0:
            shape = [1 if a in axes else d for a, d in enumerate(x.shape)]
            shape = shape if keep else [x.shape[a] for a in kept]
            return [np.zeros(shape, np.int8)]
        # Each product step is rescaled by s_in / s_out^(1/n) (GetQuantProdScaling), so that
        # the n steps together scale by s_in^n / s_out without overflowing int32.
        scaling = float(s_in) / float(s_out) ** (1.0 / n)
        mult, shift = quantize_multiplier(scaling)
        # Reduced values of one output in row-major order, as the reference iterates them.
        v = np.transpose(x, kept + list(axes)).reshape(-1, n).astype(np.int64) - zp_in
        acc = v[:, 0]
        budget = _budget.active()
        for k in range(1, n):  # a loop the file sizes: charged to the run's budget
            budget.iterate(ctx.where)
            acc = _mbqm_int64(acc * v[:, k], mult, shift)
        y = _mbqm_int64(acc, mult, shift) + zp_out
        shape = [1 if a in axes else d for a, d in enumerate(x.shape)]
        shape = shape if keep else [x.shape[a] for a in kept]
        return [np.clip(y, -128, 127).astype(np.int8).reshape(shape)]

    return run_int8
