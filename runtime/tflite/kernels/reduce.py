"""MEAN (float32, int8 and int16, reference kernel) and SUM (float32).

References: ``tflite/kernels/reduce.cc``; ``reference/reduce.h`` (``QuantizedMeanOrSum``);
spec 2.7.8. int8 MEAN: sum in int32, multiplier in/out from QuantizeMultiplier, folded with
1/N as floor(M * 2^k / N) with k = min(floor(log2 N), 32, 31 + shift).
"""

from __future__ import annotations

import math

import numpy as np

from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels._fixed_point import quantize_multiplier, requantize


def _axes(ctx, x, axis_values):
    axes = set()
    for a in np.ravel(axis_values).tolist():
        if not -x.ndim <= a < x.ndim:
            raise ctx.fail(f"axis {a} out of range for input of rank {x.ndim}")
        axes.add(a % x.ndim)
    return tuple(sorted(axes))


def _float_mean_plan(shape: tuple, axes: tuple, keep: bool) -> tuple:
    """What ``_float_mean`` needs for an input of ``shape``: (transpose or None, the shape
    with the reduced axes flattened last, the output's shape, the count in float32)."""
    kept = [a for a in range(len(shape)) if a not in axes]
    n = math.prod(shape[a] for a in axes)
    # trailing axes (a layer norm's): no transpose
    perm = None if axes == tuple(range(len(kept), len(shape))) else kept + list(axes)
    lead = tuple(shape[a] for a in kept)
    out = tuple(1 if a in axes else d for a, d in enumerate(shape)) if keep else lead
    return perm, lead + (n,), out, np.asarray(n, np.float32)  # (0-d: cheaper than a scalar)


def _float_mean(x: np.ndarray, plan: tuple) -> np.ndarray:
    """LiteRT's reference float MEAN, to the bit: a float32 sum in the input's row-major order
    (what ``cumsum`` does, unlike numpy's pairwise ``sum``), divided by the count in float32.
    A float island (a normalization kept float in an int8 model) needs it bit for bit, since
    its result is quantized again."""
    perm, flat_shape, out_shape, n = plan
    flat = x if perm is None else np.transpose(x, perm)
    if flat.shape != flat_shape:  # (a row-major input reduced over its last axis: as it is)
        flat = flat.reshape(flat_shape)
    if flat_shape[-1] == 0:  # nothing to average: 0, as before (n: a 0-d array)
        return np.zeros(out_shape, np.float32)
    # (add.accumulate is cumsum without its wrapper's cost)
    if flat.dtype == np.float32:  # (dtype= costs a cast lookup per call)
        total = np.add.accumulate(flat, -1)[..., -1:]  # (>= 1-D: an array)
    else:
        total = np.add.accumulate(flat, axis=-1, dtype=np.float32)[..., -1:]
    mean = total / n
    return mean if mean.shape == out_shape else mean.reshape(out_shape)


def _prepare(ctx: c.OpContext, is_mean: bool) -> c.Eval:
    ctx.check_arity(2)
    keep = bool(ctx.options["keep_dims"])
    ttype = ctx.require_types((c.F32, c.I8, c.I16, c.I32))
    if ctx.in_type(1) not in (c.I32, c.I64):
        raise ctx.fail("axis input must be int32 or int64")
    if ttype not in (c.I8, c.I16):
        constant_axis = ctx.constant(1) is not None
        plans = {}  # input shape -> _float_mean_plan, when the axis input is a constant

        def run(x, axis):
            if ttype == c.F32 and is_mean:
                plan = plans.get(x.shape) if constant_axis else None
                if plan is None:
                    plan = _float_mean_plan(x.shape, _axes(ctx, x, axis), keep)
                    if constant_axis:
                        if len(plans) > 16:  # (a model resized again and again)
                            plans.clear()
                        plans[x.shape] = plan
                return [_float_mean(x, plan)]
            axes = _axes(ctx, x, axis)
            acc = x.astype(np.float64 if ttype == c.F32 else np.int64).sum(axis=axes, keepdims=keep)
            if is_mean:
                n = math.prod(x.shape[a] for a in axes)
                acc = acc / max(n, 1) if ttype == c.F32 else acc // max(n, 1)
            return [np.asarray(acc).astype(x.dtype)]

        return run
    if not is_mean:
        # LiteRT's reference int8 SUM returns garbage (checked against ai-edge-litert 2.3.0)
        # and its optimized one rounds differently from the reference recipe: no target to
        # be exact with, so refuse rather than guess.
        raise ctx.unsupported("int8 SUM is not supported (float32 SUM is)")
    s_in, zp_in = c.per_tensor_qparams(ctx, ctx.inputs[0], "input")
    s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
    mult, shift = quantize_multiplier(float(np.float64(s_in) / np.float64(s_out)))
    info = np.iinfo(np.int8 if ttype == c.I8 else np.int16)

    constant_axis = ctx.constant(1) is not None
    plans = {}  # input shape -> (axes, count, multiplier, shift), for a constant axis input

    def plan_int8(x, axis):
        axes = _axes(ctx, x, axis)
        n = math.prod(x.shape[a] for a in axes)
        if n == 0:
            return axes, n, 0, 0
        k = min(int(math.floor(math.log2(n))), 32, 31 + shift)
        m2 = (mult << k) // n if k >= 0 else mult // n
        return axes, n, m2, shift - k

    def run_int8(x, axis):
        plan = plans.get(x.shape) if constant_axis else None
        if plan is None:
            plan = plan_int8(x, axis)
            if constant_axis:
                if len(plans) > 16:  # (a model resized again and again)
                    plans.clear()
                plans[x.shape] = plan
        axes, n, m2, right = plan
        total = np.asarray(x.astype(np.int64).sum(axis=axes, keepdims=keep))
        if n == 0:
            return [np.clip(total + zp_out, info.min, info.max).astype(info.dtype)]
        total -= zp_in * n
        # MBQM(total, m2, right) + zp_out, clamped (int16 (16x8) runs the same
        # QuantizedMeanOrSum as int8, only the clamp differs)
        return [requantize(total, m2, right, zp_out, int(info.min), int(info.max), info.dtype)]

    return run_int8


def prepare_mean(ctx: c.OpContext) -> c.Eval:
    return _prepare(ctx, True)


def prepare_sum(ctx: c.OpContext) -> c.Eval:
    return _prepare(ctx, False)
