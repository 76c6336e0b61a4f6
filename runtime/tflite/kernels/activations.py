"""LOGISTIC, TANH, ELU, GELU, LEAKY_RELU, RELU, RELU6, RELU_N1_TO_1 (float32 and int8; LOGISTIC,
TANH, LEAKY_RELU, RELU and RELU6 also int16 for 16x8 models); HARD_SWISH is in ``hard_swish``.

References: ``tflite/kernels/activations.cc``; ``kernels/internal/common.h``
(``LUTPopulateInt8``); spec 2.7.10. int8 LOGISTIC/TANH use a 256-entry table built in float32
(both the reference and the optimized kernels); the int8 ReLUs requantize with
MultiplyByQuantizedMultiplier.
"""

from __future__ import annotations

import math

import numpy as np

from runtime._fperrors import quiet
from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels import _int16
from runtime.tflite.kernels._byte_tables import byte_table, table_kernel
from runtime.tflite.kernels._fixed_point import (
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    round_half_away,
)


def _lut_int8(fn, s_in, zp_in, s_out, zp_out) -> np.ndarray:
    v = np.arange(-128, 128, dtype=np.int32)
    xf = (np.float32(s_in) * (v - zp_in).astype(np.float32)).astype(np.float32)
    yf = fn(xf)
    inv = np.float32(1.0) / np.float32(s_out)
    r = round_half_away((yf * inv).astype(np.float32))
    q = np.clip(r + zp_out, -128, 127).astype(np.int8)
    # lut[(uint8)x]: reorder from value order -128..127 to uint8 index order.
    return np.concatenate([q[128:], q[:128]])


# 1 as a 0-d float32 array: float32 with float32 arrays, without the per-call conversion of a
# Python number (~0.6 us, as much as the arithmetic on a few values).
_ONE32 = np.ones((), np.float32)


def _sigmoid32(x):
    with quiet():  # exp overflow gives inf, and 1 / (1 + inf) = 0
        e = np.exp(np.negative(x.astype(np.float64))).astype(np.float32)
    # 1.f / (1.f + e) in float32: in place, except on one value (where numpy's out= costs more
    # than a new array)
    if e.size > 1:
        e += _ONE32
        return np.divide(_ONE32, e, out=e)
    y = np.divide(_ONE32, np.add(e, _ONE32))
    return y if type(y) is np.ndarray else np.asarray(y)  # (0-d: an array)


def _tanh32(x):
    return np.tanh(x.astype(np.float64)).astype(np.float32)


def _lut_kernel(fn):
    def prepare(ctx: c.OpContext) -> c.Eval:
        ctx.check_arity(1)
        ttype = ctx.require_types((c.F32, c.I8))
        if ttype == c.F32:
            return lambda x: [fn(x)]
        s_in, zp_in = c.per_tensor_qparams(ctx, ctx.inputs[0], "input")
        s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
        return table_kernel(_lut_int8(fn, s_in, zp_in, s_out, zp_out))

    return prepare


def _with_int16(prepare_8, tanh: bool):
    """LOGISTIC / TANH: the int16 kernels (16x8) interpolate LiteRT's sigmoid table; the
    others go to ``prepare_8``."""

    def prepare(ctx: c.OpContext) -> c.Eval:
        if ctx.inputs and ctx.inputs[0] is not None and ctx.in_type(0) == c.I16:
            ctx.check_arity(1)
            ctx.require_types((c.I16,))
            s_in, zp_in = c.per_tensor_qparams(ctx, ctx.inputs[0], "input")
            s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
            pot, log2 = _int16.checked_log2(float(s_out))
            if zp_in != 0 or zp_out != 0 or not pot or log2 != -15:
                raise ctx.fail(
                    "int16 input needs zero point 0 and the output (2^-15, 0); has input zero "
                    f"point {zp_in}, output ({float(s_out)}, {zp_out})"
                )
            mult, shift = _int16.sigmoid_params(float(s_in), tanh)
            fn = _int16.tanh if tanh else _int16.logistic
            return lambda x: [fn(x, mult, shift)]
        return prepare_8(ctx)

    return prepare


prepare_logistic = _with_int16(_lut_kernel(_sigmoid32), tanh=False)
prepare_tanh = _with_int16(_lut_kernel(_tanh32), tanh=True)


def _relu_kernel(lo_f, hi_f):
    def prepare(ctx: c.OpContext) -> c.Eval:
        ctx.check_arity(1)
        # int16 (16x8) RELU / RELU6: the same QuantizedReluX with int16 bounds.
        ttype = ctx.require_types((c.F32, c.I8, c.I16) if lo_f == 0 else (c.F32, c.I8))
        if ttype == c.F32:
            lo, hi = np.float32(lo_f), np.float32(hi_f)
            if hi_f == np.inf:  # RELU: one pass (np.clip's wrapper costs more than the work)
                return lambda x: [np.asarray(np.maximum(lo, x))]

            def run_float(x):
                y = np.asarray(np.maximum(lo, x))  # (a new array: clamped in place)
                np.minimum(hi, y, out=y)
                return [y]

            return run_float
        info = np.iinfo(np.int8 if ttype == c.I8 else np.int16)
        s_in, zp_in = c.per_tensor_qparams(ctx, ctx.inputs[0], "input")
        s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
        if ttype == c.I16 and (zp_in or zp_out):
            raise ctx.fail("int16 input and output zero points must be 0")
        mult, shift = quantize_multiplier(float(np.float64(s_in) / np.float64(s_out)))
        qlo = (
            info.min
            if lo_f == -np.inf
            else max(info.min, zp_out + int(round_half_away(lo_f / s_out)))
        )
        qhi = (
            info.max
            if hi_f == np.inf
            else min(info.max, zp_out + int(round_half_away(hi_f / s_out)))
        )

        def run(x):
            y = multiply_by_quantized_multiplier(x.astype(np.int64) - zp_in, mult, shift) + zp_out
            return [np.clip(y, qlo, qhi).astype(info.dtype)]

        if ttype == c.I8:
            return table_kernel(byte_table(lambda v: run(v)[0], np.int8))
        return run

    return prepare


prepare_relu = _relu_kernel(0.0, np.inf)
prepare_relu6 = _relu_kernel(0.0, 6.0)
prepare_relu_n1_to_1 = _relu_kernel(-1.0, 1.0)


def _elu32(x):
    # std::expm1 on a float: libm's float expm1 (numpy's float32 expm1 calls the same), whose
    # last-bit rounding can move a table entry by one step when computed in double instead.
    x = np.asarray(x, dtype=np.float32)
    return np.where(x < 0, np.expm1(np.minimum(x, np.float32(0))), x).astype(np.float32)


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def _gelu32(approximate: bool):
    def fn(x):
        v = x.astype(np.float64)
        if approximate:
            inner = math.sqrt(2 / math.pi) * (v + 0.044715 * v**3)
            return (0.5 * v * (1.0 + np.tanh(inner))).astype(np.float32)
        return (0.5 * v * (1.0 + _erf(v * math.sqrt(0.5)))).astype(np.float32)

    return fn


def prepare_elu(ctx: c.OpContext) -> c.Eval:
    """ELU (``elu.cc``): x < 0 ? expm1(x) : x; int8 through the 256-entry table."""
    return _lut_kernel(_elu32)(ctx)


def prepare_gelu(ctx: c.OpContext) -> c.Eval:
    """GELU (``gelu.cc``): erf form, or the tanh form when ``approximate``; int8 by table."""
    return _lut_kernel(_gelu32(bool(ctx.options["approximate"])))(ctx)


def prepare_leaky_relu(ctx: c.OpContext) -> c.Eval:
    """LEAKY_RELU (``leaky_relu.cc``): int8 requantizes each side with its own multiplier,
    both computed in float32 (in_s * alpha / out_s and in_s / out_s)."""
    ctx.check_arity(1)
    alpha = np.float32(ctx.options["alpha"])
    ttype = ctx.require_types((c.F32, c.I8, c.I16))
    if ttype == c.F32:
        return lambda x: [np.where(x > 0, x, x * alpha).astype(np.float32)]
    info = np.iinfo(np.int8 if ttype == c.I8 else np.int16)  # int16: 16x8, same recipe
    s_in, zp_in = c.per_tensor_qparams(ctx, ctx.inputs[0], "input")
    s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
    if ttype == c.I16 and (zp_in or zp_out):
        raise ctx.fail("int16 input and output zero points must be 0")
    m_alpha, e_alpha = quantize_multiplier(float(np.float32(s_in * alpha) / s_out))
    m_id, e_id = quantize_multiplier(float(np.float32(s_in / s_out)))

    def run(x):
        v = x.astype(np.int64) - zp_in
        pos = multiply_by_quantized_multiplier(v, m_id, e_id)
        neg = multiply_by_quantized_multiplier(v, m_alpha, e_alpha)
        y = np.where(v >= 0, pos, neg) + zp_out
        return [np.clip(y, info.min, info.max).astype(info.dtype)]

    if ttype == c.I8:
        return table_kernel(byte_table(lambda v: run(v)[0], np.int8))
    return run
