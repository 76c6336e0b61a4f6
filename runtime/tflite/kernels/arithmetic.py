"""ADD, SUB, MUL (float32, int8 and int16), MAXIMUM, MINIMUM, DIV (float32): broadcasting, fused
activations. int16 (16x8) ADD / SUB use the int8 recipe with a left shift of 15 (add.cc's
general-scale kernel, pot_scale_int16 false).

References: ``tflite/kernels/add.cc``, ``sub.cc``, ``mul.cc``; ``reference/integer_ops/add.h``,
``mul.h``; spec 2.7.6-7. int8 ADD/SUB shift both inputs left by 20 bits, rescale each to the
common scale 2*max(s1, s2), add, and rescale to the output (double rounding throughout).
MUL's multiplier is the float32 product s1*s2 divided by s_out.
"""

from __future__ import annotations

import math

import numpy as np

from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels._fixed_point import (
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    rdbpot,
    srdhm,
    wrap_int32,
)
from runtime.tflite.kernels._int16 import checked_log2

_LEFT_SHIFT = 20


def _setup(ctx):
    ctx.check_arity(2)
    act = c.check_activation(ctx, ctx.options.get("fused_activation_function", 0))
    ttype = ctx.require_types((c.F32, c.I8, c.I16, c.I32, c.I64), inputs=(0, 1))
    return ttype, act


def _no_growth(a, b) -> bool:
    """Whether broadcasting ``a`` with ``b`` gives no more elements than the larger of them
    (an array that exists already, so nothing to check before allocating): equal shapes, a
    one-element operand, or one shape the other's trailing dimensions (a bias, a scale)."""
    sa, sb = a.shape, b.shape
    if sa == sb or a.size == 1 or b.size == 1:
        return True
    na, nb = len(sa), len(sb)
    return (nb < na and sa[na - nb :] == sb) or (na < nb and sb[nb - na :] == sa)


# How ``_float_or_int`` hands two operands to the ufunc (numpy's broadcasting machinery costs
# more than a small tensor's arithmetic, ~0.7 us of a 1.3 us (1, 64) x (1, 1) product):
_AS_IS, _B_SCALAR, _A_SCALAR, _B_AS_A, _A_AS_B, _GROWS = range(6)


def _operand_plan(sa: tuple, sb: tuple) -> int:
    """For operands of shapes ``sa`` and ``sb``: the same values elementwise at less cost. A
    one-element operand of no more dimensions than the other is made 0-d; one whose shape is
    the other's trailing dimensions with the same element count (leading 1s only) takes the
    other's shape; ``_GROWS`` where the result may be larger than both (checked each time)."""
    na, nb = len(sa), len(sb)
    size_a, size_b = math.prod(sa), math.prod(sb)
    if sa == sb:
        return _AS_IS
    if size_b == 1 and nb <= na:
        return _B_SCALAR
    if size_a == 1 and na <= nb:
        return _A_SCALAR
    if nb < na and sa[na - nb :] == sb:
        return _B_AS_A if size_a == size_b else _AS_IS
    if na < nb and sb[nb - na :] == sa:
        return _A_AS_B if size_a == size_b else _AS_IS
    return _GROWS


def _float_or_int(ctx, ttype, act, fn):
    lo, hi = c.activation_range_float(act)
    clamp = c.float_clamp(act)
    plans = {}  # (shape of a, shape of b) -> _operand_plan

    def run(a, b):
        key = (a.shape, b.shape)
        plan = plans.get(key)
        if plan is None:
            plan = _operand_plan(*key)
            if len(plans) > 16:  # (a model resized again and again)
                plans.clear()
            plans[key] = plan
        if plan == _AS_IS:
            y = fn(a, b)
        elif plan == _B_SCALAR:
            y = fn(a, b.reshape(()))
        elif plan == _A_SCALAR:
            y = fn(a.reshape(()), b)
        elif plan == _B_AS_A:
            y = fn(a, b.reshape(key[0]))
        elif plan == _A_AS_B:
            y = fn(a.reshape(key[1]), b)
        else:
            c.broadcast_shape(ctx, a, b)  # raises when they do not broadcast or it is too large
            y = fn(a, b)
        if ttype == c.F32:
            # float32 op float32 is float32 (a 0-d result is a numpy scalar: made an array)
            if type(y) is not np.ndarray:
                y = np.asarray(y, np.float32)
            clamp(y)  # (even NONE: an overflow is +-FLT_MAX; NaN and -0.0 kept)
            return [y]
        if act:
            y = np.clip(y, lo, hi).astype(y.dtype)
        return [y]

    return run


def _prepare_add_sub(ctx, sign: int):
    ttype, act = _setup(ctx)
    if ttype == c.I16:
        return _add_sub_int16(ctx, sign, act)
    if ttype != c.I8:
        return _float_or_int(ctx, ttype, act, np.add if sign > 0 else np.subtract)
    s1, zp1 = c.per_tensor_qparams(ctx, ctx.inputs[0], "input 0")
    s2, zp2 = c.per_tensor_qparams(ctx, ctx.inputs[1], "input 1")
    s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
    twice_max = 2 * max(float(s1), float(s2))
    m1, e1 = quantize_multiplier(float(s1) / twice_max)
    m2, e2 = quantize_multiplier(float(s2) / twice_max)
    mo, eo = quantize_multiplier(twice_max / ((1 << _LEFT_SHIFT) * float(s_out)))
    if max(e1, e2, eo) > 0:
        raise ctx.fail("int8 ADD/SUB needs input and output scales whose multipliers are < 1")
    lo, hi = c.activation_range_quantized(act, s_out, zp_out)
    # Each input's rescaled value depends on its own int8 value alone: the reference code run
    # once on all 256 of them, indexed by the values' bit patterns (as uint8) at run time.
    codes = np.arange(256, dtype=np.uint8).view(np.int8).astype(np.int64)
    a_table = rdbpot(srdhm((codes - zp1) << _LEFT_SHIFT, m1), -e1)
    b_table = rdbpot(srdhm((codes - zp2) << _LEFT_SHIFT, m2), -e2)

    def compute(a, b):
        a1 = a_table[a.astype(np.int8, copy=False).view(np.uint8)]
        b1 = b_table[b.astype(np.int8, copy=False).view(np.uint8)]
        raw = a1 + b1 if sign > 0 else a1 - b1
        y = rdbpot(srdhm(raw, mo), -eo) + zp_out
        return np.clip(y, lo, hi).astype(np.int8)

    return _pair_table_kernel(ctx, compute)


def _int16_qparams(ctx):
    operands = ((ctx.inputs[0], "input 0"), (ctx.inputs[1], "input 1"), (ctx.outputs[0], "output"))
    params = [c.per_tensor_qparams(ctx, t, what) for t, what in operands]
    if any(zp != 0 for _, zp in params):
        raise ctx.fail("int16 inputs and output must have zero point 0")
    return [float(s) for s, _ in params]


def _add_sub_int16(ctx, sign: int, act: int):
    # add.cc / sub.cc: with pot_scale_int16 false (what converters write for 16x8) the general
    # rescaling of the int8 kernels runs with a left shift of 15. The power-of-two path (the
    # option's default, for LSTM-style POT scales) is another kernel, not implemented here.
    s1, s2, s_out = _int16_qparams(ctx)
    if ctx.options.get("pot_scale_int16", True):
        pots = [checked_log2(s)[0] for s in (s1, s2, s_out)]
        if all(pots):
            raise ctx.unsupported("int16 ADD/SUB with pot_scale_int16 and power-of-two scales")
    twice_max = 2 * max(s1, s2)
    m1, e1 = quantize_multiplier(s1 / twice_max)
    m2, e2 = quantize_multiplier(s2 / twice_max)
    mo, eo = quantize_multiplier(twice_max / ((1 << 15) * s_out))
    lo, hi = c.activation_range_quantized(act, s_out, 0, np.int16)

    def run(a, b):
        c.broadcast_shape(ctx, a, b)
        a1 = multiply_by_quantized_multiplier(a.astype(np.int64) << 15, m1, e1)
        b1 = multiply_by_quantized_multiplier(b.astype(np.int64) << 15, m2, e2)
        raw = wrap_int32(a1 + b1 if sign > 0 else a1 - b1)
        y = multiply_by_quantized_multiplier(raw, mo, eo)
        return [np.clip(y, lo, hi).astype(np.int16)]

    return run


def prepare_add(ctx: c.OpContext) -> c.Eval:
    return _prepare_add_sub(ctx, +1)


def prepare_sub(ctx: c.OpContext) -> c.Eval:
    return _prepare_add_sub(ctx, -1)


def prepare_mul(ctx: c.OpContext) -> c.Eval:
    ttype, act = _setup(ctx)
    if ttype == c.I16:
        return _mul_int16(ctx, act)
    if ttype != c.I8:
        return _float_or_int(ctx, ttype, act, np.multiply)
    s1, zp1 = c.per_tensor_qparams(ctx, ctx.inputs[0], "input 0")
    s2, zp2 = c.per_tensor_qparams(ctx, ctx.inputs[1], "input 1")
    s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
    real = np.float32(np.float32(s1) * np.float32(s2)) / np.float32(s_out)
    mult, shift = quantize_multiplier(float(np.float32(real)))
    lo, hi = c.activation_range_quantized(act, s_out, zp_out)

    def compute(a, b):
        prod = (a.astype(np.int64) - zp1) * (b.astype(np.int64) - zp2)
        y = multiply_by_quantized_multiplier(prod, mult, shift) + zp_out
        return np.clip(y, lo, hi).astype(np.int8)

    return _pair_table_kernel(ctx, compute)


# Every (int8, int8) pair: the kernel's arithmetic run once on all of them at prepare.
_CODES = np.arange(256, dtype=np.uint8).view(np.int8)
_LITTLE_UINT16 = np.dtype("<u2")


def _pair_table_kernel(ctx, compute):
    """An int8 x int8 -> int8 elementwise kernel whose output depends on the two input values
    alone (quantization parameters fixed): ``compute`` evaluated once on all 65,536 pairs, then
    each output element read from that table by its inputs' bit patterns (a few passes over
    uint16 indices instead of a dozen over int64). The same function, so the same results."""
    table = compute(_CODES[:, None], _CODES[None, :]).reshape(-1)  # [a byte * 256 + b byte]

    def run(a, b):
        if a.shape == b.shape:
            # the index a byte * 256 + b byte made by placing the bytes side by side and
            # reading them as little-endian uint16: two copies instead of three passes
            pairs = np.empty(a.shape + (2,), np.int8)
            pairs[..., 0] = b
            pairs[..., 1] = a
            index = pairs.view(_LITTLE_UINT16)[..., 0]
        else:
            if not _no_growth(a, b):
                c.broadcast_shape(ctx, a, b)
            index = a.view(np.uint8).astype(np.uint16) << 8
            index = index | b.view(np.uint8)
        y = table.take(index)
        return [y if isinstance(y, np.ndarray) else np.asarray(y)]  # (0-d inputs: a scalar)

    return run


def _mul_int16(ctx, act: int):
    # mul.cc: the multiplier is float32 s1*s2/s_out as for int8; the product of two int16
    # values fits int32; zero points must be 0.
    s1, s2, s_out = _int16_qparams(ctx)
    real = np.float32(np.float32(s1) * np.float32(s2)) / np.float32(s_out)
    mult, shift = quantize_multiplier(float(np.float32(real)))
    lo, hi = c.activation_range_quantized(act, s_out, 0, np.int16)

    def run(a, b):
        c.broadcast_shape(ctx, a, b)
        prod = a.astype(np.int64) * b.astype(np.int64)
        y = multiply_by_quantized_multiplier(prod, mult, shift)
        return [np.clip(y, lo, hi).astype(np.int16)]

    return run


def _prepare_raw_binary(ctx: c.OpContext, fn, float_fn) -> c.Eval:
    # MAXIMUM/MINIMUM compare raw values: int8 inputs and output share quantization.
    ctx.check_arity(2)
    ttype = ctx.require_types((c.F32, c.I8, c.I16, c.I32, c.I64), inputs=(0, 1))
    if ttype == c.F32:
        fn = float_fn
    if ttype in (c.I8, c.I16):
        q = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
        for k in (0, 1):
            if c.per_tensor_qparams(ctx, ctx.inputs[k], f"input {k}") != q:
                raise ctx.unsupported("quantized inputs must share the output's quantization")

    def run(a, b):
        c.broadcast_shape(ctx, a, b)
        return [fn(a, b)]

    return run


def prepare_maximum(ctx: c.OpContext) -> c.Eval:
    return _prepare_raw_binary(ctx, np.maximum, _reference_maximum)


def prepare_minimum(ctx: c.OpContext) -> c.Eval:
    return _prepare_raw_binary(ctx, np.minimum, _reference_minimum)


# The reference kernels' float comparisons, ``a > b ? a : b`` and ``a < b ? a : b``: a NaN
# first operand gives the second (np.maximum would give NaN), and of equal values (-0.0, 0.0)
# the second comes out.
def _reference_maximum(a, b):
    return np.where(a > b, a, b)


def _reference_minimum(a, b):
    return np.where(a < b, a, b)


def prepare_div(ctx: c.OpContext) -> c.Eval:
    ttype, act = _setup(ctx)
    if ttype != c.F32:
        raise ctx.unsupported("only float32 DIV is supported")
    return _float_or_int(ctx, ttype, act, np.divide)
