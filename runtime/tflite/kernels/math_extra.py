"""POW, FLOOR_DIV, FLOOR_MOD, ATAN2, SIGN, RELU_0_TO_1 and ADD_N (float32 and integers).

References: ``tflite/kernels/pow.cc``, ``floor_div.cc``, ``floor_mod.cc``, ``atan2.cc``,
``sign.cc``, ``activations.cc`` (Relu0To1), ``add_n.cc``. Binary ops broadcast, except
ATAN2. POW on int32 computes in double, gives INT32_MIN where the result does not fit, and
refuses negative exponents; FLOOR_DIV on floats is
``floor(double(a) / double(b))`` and on integers rounds toward minus infinity; FLOOR_MOD takes the
divisor's sign (C's fmod / % corrected when the signs differ); division by zero (float too) or
integer modulo by zero is an error, as in LiteRT. SIGN gives -1, 0 or 1 (NaN for NaN).
ADD_N adds its two or more inputs in order.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c


def _binary(types, compute):
    def prepare(ctx: c.OpContext) -> c.Eval:
        ctx.check_arity(2)
        ctx.require_types(types, inputs=(0, 1))

        def run(a, b):
            c.broadcast_shape(ctx, a, b)
            return [np.asarray(compute(ctx, a, b)).astype(a.dtype, copy=False)]

        return run

    return prepare


def _pow(ctx, a, b):
    if a.dtype.kind == "f":
        with np.errstate(all="ignore"):
            return np.power(a, b)
    if np.any(b < 0):
        raise ctx.fail("POW of int32 does not support negative exponents")
    # std::pow(int, int) computes in double; the conversion back to int32 of a value out of
    # range gives INT32_MIN on the x86 and Arm builds (cvttsd2si's "integer indefinite").
    with np.errstate(all="ignore"):
        r = np.power(a.astype(np.float64), b.astype(np.float64))
    fits = np.abs(r) < 2.0**31
    return np.where(fits, np.trunc(np.where(fits, r, 0)), -(2.0**31)).astype(np.int64)


def _check_divisor(ctx, b, floats=False):
    if (floats or b.dtype.kind != "f") and np.any(b == 0):
        raise ctx.fail("division by zero")


def _floor_div(ctx, a, b):
    _check_divisor(ctx, b, floats=True)  # (floor_div.cc refuses a float 0 too; not floor_mod.cc)
    if a.dtype.kind == "f":  # std::floor of the quotient in double, then float32
        with np.errstate(all="ignore"):
            return np.floor(a.astype(np.float64) / b.astype(np.float64))
    return np.floor_divide(a.astype(np.int64), b.astype(np.int64))


def _floor_mod(ctx, a, b):
    _check_divisor(ctx, b)
    if a.dtype.kind == "f":
        with np.errstate(all="ignore"):
            mod = np.fmod(a, b)
            return np.where((mod != 0) & ((b < 0) != (mod < 0)), mod + b, mod)
    return np.mod(a.astype(np.int64), b.astype(np.int64))


def _atan2(ctx, a, b):
    if a.shape != b.shape:  # atan2.cc does not broadcast
        raise ctx.fail(f"inputs of shapes {list(a.shape)} and {list(b.shape)} differ")
    return np.arctan2(a, b)


prepare_pow = _binary((c.F32, c.I32), _pow)
prepare_floor_div = _binary((c.F32, c.I8, c.I16, c.I32), _floor_div)
prepare_floor_mod = _binary((c.F32, c.I8, c.I16, c.I32, c.I64), _floor_mod)
prepare_atan2 = _binary((c.F32,), _atan2)


def prepare_sign(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1)
    ctx.require_types((c.F32, c.I32))

    def run(x):
        return [np.asarray(np.sign(x))]  # (a ufunc gives a scalar for a 0-d input)

    return run


def prepare_relu_0_to_1(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1)
    ctx.require_types((c.F32,))

    def run(x):
        return [np.asarray(np.minimum(np.maximum(x, np.float32(0)), np.float32(1)))]

    return run


def prepare_add_n(ctx: c.OpContext) -> c.Eval:
    if len(ctx.inputs) < 2 or None in ctx.inputs or len(ctx.outputs) != 1:
        raise ctx.fail(f"needs at least two inputs and one output, has {len(ctx.inputs)} inputs")
    ttype = ctx.require_types((c.F32, c.I32), inputs=tuple(range(len(ctx.inputs))))
    # float32: LiteRT clamps each partial sum to [-FLT_MAX, FLT_MAX] (an overflow is FLT_MAX
    # and the next input adds to that)
    clamp = c.float_clamp(0) if ttype == c.F32 else None

    def run(*xs):
        if any(x.shape != xs[0].shape for x in xs):
            raise ctx.fail(f"inputs of shapes {[list(x.shape) for x in xs]} differ")
        total = xs[0].copy()
        for x in xs[1:]:
            total += x
            if clamp is not None:
                clamp(total)
        return [total]

    return run
