"""FULLY_CONNECTED: float32, int8 and 16x8 (reference kernels) and hybrid (float input, int8
weights).

References: ``tflite/kernels/fully_connected.cc``; ``reference/integer_ops/fully_connected.h``;
``portable_tensor_utils.cc`` (``MatrixBatchVectorMultiplyAccumulate``); spec 2.7.3. Since LiteRT
commit 9213607 (2025-04) the reference int8 kernel requantizes in double:
out = round_half_away(acc * (in_s * w_s / out_s)) + zp_out.
"""

from __future__ import annotations

import numpy as np

from runtime._budget import fits
from runtime.tflite._fc_chains import Link
from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels._fixed_point import round_half_away, wrap_int32
from runtime.tflite.kernels._hybrid import quantize_rows_asymmetric, quantize_rows_symmetric
from runtime.tflite.kernels._sequence import activation
from runtime.tflite.kernels.conv import exact_gemm_dtype, int16_bias, int16_scales


def prepare(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity((2, 3))
    o = ctx.options
    act = c.check_activation(ctx, o["fused_activation_function"])
    if o["weights_format"] != 0:
        raise ctx.unsupported("shuffled weights format is not supported")
    weights = ctx.constant(1)
    if weights is None:
        if (ctx.in_type(0), ctx.in_type(1)) != (c.F32, c.F32):
            raise ctx.unsupported("weights must be a constant tensor unless they are float32")
        return _float_computed_weights(ctx, act, bool(o["keep_num_dims"]))
    if weights.ndim != 2:
        raise ctx.fail(f"weights must be 2-D [units, depth], have shape {list(weights.shape)}")
    units, depth = weights.shape
    bias = ctx.constant(2) if len(ctx.inputs) > 2 else None
    if len(ctx.inputs) > 2 and ctx.inputs[2] is not None and bias is None:
        raise ctx.unsupported("bias must be a constant tensor")
    if bias is not None and bias.size != units:
        raise ctx.fail(f"bias has {bias.size} elements, expected {units}")
    keep_dims = bool(o["keep_num_dims"])

    one_row = (1, depth)

    def rows(x):
        if x.shape == one_row:  # (the common case: nothing to work out or reshape)
            if not fits(units * 4):
                c.check_alloc(ctx, (1, units), "output")  # raises, naming the limit
            return x
        n, rest = divmod(x.size, depth)
        if rest:
            raise ctx.fail(f"input of shape {list(x.shape)} is not a multiple of depth {depth}")
        if not fits(n * units * 4):  # rows x units: may be huge
            c.check_alloc(ctx, (n, units), "output")  # raises, naming the limit
        return x.reshape(n, depth)

    def shape_out(x, y):
        return y.reshape(*x.shape[:-1], units) if keep_dims else y

    it, wt = ctx.in_type(0), ctx.in_type(1)
    if it == c.F32 and wt == c.F32:
        w_t = np.ascontiguousarray(weights.T, dtype=np.float32)
        # (1, units): a one-row product's shape, added without broadcasting's cost
        b = None if bias is None else bias.astype(np.float32).reshape(1, units)
        clamp = c.float_clamp(act)
        # one row of a few units: no budget test before its few KiB (as in ``_int8``)
        small_row = one_row if units <= SMALL_ROW_UNITS else None

        def run_float(x, *_):
            # (np.dot: on 2-D operands the same BLAS product as @ at less dispatch cost)
            y = np.dot(x if x.shape == small_row else rows(x), w_t)
            if b is not None:
                y += b
            # the fused activation's clamp (NONE too: an overflow is +-FLT_MAX), in place on
            # the new product
            clamp(y)
            return [shape_out(x, y) if keep_dims else y]

        return run_float
    if it == c.I8 and wt == c.I8:
        return _int8(ctx, weights, bias, act, rows, shape_out)
    if it == c.F32 and wt == c.I8:
        return _hybrid(ctx, weights, bias, act, rows, shape_out)
    if it == c.I16 and wt == c.I8:
        return _int16(ctx, weights, bias, act, rows, shape_out)
    raise ctx.unsupported(f"input/weight types {it}/{wt} not supported")


def _float_computed_weights(ctx, act, keep_dims):
    """Float32 weights (and bias) that the graph computes or a caller passes in: a converted
    ONNX If hands its branch the layers' weights as subgraph inputs (openWakeWord's
    hey_jarvis_v0.1.tflite). LiteRT's float kernel takes them at each invoke the same way."""

    def run(x, w, b=None, *_):
        if w.ndim != 2:
            raise ctx.fail(f"weights must be 2-D [units, depth], have shape {list(w.shape)}")
        units, depth = w.shape
        if depth == 0 or x.size % depth:
            raise ctx.fail(f"input of shape {list(x.shape)} is not a multiple of depth {depth}")
        if b is not None and b.size != units:
            raise ctx.fail(f"bias has {b.size} elements, expected {units}")
        c.check_alloc(ctx, (x.size // depth, units), "output")
        y = x.reshape(-1, depth) @ w.T
        if b is not None:
            y += b.reshape(units)
        y = c.apply_float_activation(y, act)
        return [y.reshape(*x.shape[:-1], units) if keep_dims else y]

    return run


def _int8(ctx, weights, bias, act, rows, shape_out):
    if ctx.out_type() != c.I8:
        raise ctx.unsupported("int8 fully connected must have an int8 output")
    s_in, zp_in = c.per_tensor_qparams(ctx, ctx.inputs[0], "input")
    s_out, zp_out = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
    units = weights.shape[0]
    wq = ctx.inputs[1].quantization
    if wq is None or len(wq.scale) not in (1, units):
        raise ctx.fail(f"weights need 1 or {units} scales")
    if len(wq.scale) > 1 and (wq.quantized_dimension != 0 or np.any(wq.zero_point != 0)):
        raise ctx.fail("per-channel weights need quantized_dimension 0 and zero points 0")
    w_zp = int(wq.zero_point[0]) if len(wq.scale) == 1 else 0
    scale = np.float64(s_in) * wq.scale.astype(np.float64) / np.float64(s_out)
    # per tensor: one Python float (the same double; a scalar operand is the cheaper one)
    scale = float(scale[0]) if len(scale) == 1 else np.ascontiguousarray(scale)
    lo, hi = c.activation_range_quantized(act, s_out, zp_out)
    w = weights.astype(np.int64) - w_zp
    # Small weights: the GEMM in float64 (exact: |acc| < 2^53), whose result needs no cast
    # before the float64 requantization (a call that costs more than such a GEMM's extra
    # bytes); larger ones in float32 where that is exact, at half the memory traffic.
    if w.size <= SMALL_WEIGHTS:
        gemm = np.float64
    else:
        gemm = exact_gemm_dtype(float(np.abs(w).sum(axis=1).max(initial=0)))
    w_t = np.ascontiguousarray(w.T.astype(gemm))
    b = np.zeros(units, np.int64) if bias is None else bias.astype(np.int64)
    # sum_k w*(x - zp) = sum_k w*x - zp*sum_k w: the GEMM runs on raw int8 values (|x| <= 128,
    # within the bound above), exact in ``gemm``; the sum with the folded bias is exact in
    # float64 (|acc| < 2^53), so acc * scale is the product the kernel rounds.
    # (1, units): a one-row product's shape, added without broadcasting's cost
    b_eff = (b - zp_in * w.sum(axis=1)).astype(np.float64).reshape(1, units)

    lo_q, hi_q = np.float64(lo), np.float64(hi)
    bound = 128 * np.abs(w).sum(axis=1) + np.abs(b_eff[0])  # |acc| for any int8 input
    by_search = _search_requantizer(scale, zp_out, lo, hi, bound, units)
    if by_search is not None:  # the accumulators searched are acc + b_eff (+ channel shifts)
        by_search = (by_search[0], b_eff + by_search[1].reshape(1, units), by_search[2])
    # One row of a few units: its few KiB are allocated without the budget's test first (the
    # executor charges the output as it is returned, naming the operator).
    one_row = (1, w.shape[1]) if units <= SMALL_ROW_UNITS else None
    keep_dims = bool(ctx.options["keep_num_dims"])

    def run(x, *_):
        xr = x if x.shape == one_row else rows(x)
        y = np.dot(xr.astype(gemm), w_t)  # (on 2-D operands: @ at less dispatch cost)
        if y.dtype != np.float64:
            y = y.astype(np.float64)  # (cheaper than np.add's own cast)
        if by_search is not None and y.size <= SEARCH_MAX_ELEMENTS:
            thresholds, offsets, levels = by_search
            y += offsets
            # (searchsorted's method: np.searchsorted's dispatch costs as much again)
            y = levels.take(thresholds.searchsorted(y, "right"))
            return [shape_out(x, y) if keep_dims else y]
        # round_half_away(acc * scale) + zp_out clamped to [lo, hi], in place: the same float64
        # operations (zp_out is added to an integer-valued double, exactly), fewer passes.
        y += b_eff
        y *= scale
        y += np.copysign(0.5, y)
        np.trunc(y, out=y)
        y += zp_out
        np.maximum(y, lo_q, out=y)
        np.minimum(y, hi_q, out=y)
        return [shape_out(x, y.astype(np.int8))]

    if by_search is not None and one_row is not None and units <= SEARCH_MAX_ELEMENTS:
        # one row always takes the search path: a chain may run it (runtime/tflite/_fc_chains)
        run.chain_link = Link(one_row, gemm, w_t, *by_search)
    return run


# int8 weights of up to this many elements are multiplied in float64 (see ``_int8``): 64 KiB
# of them, about what a core's first-level cache holds beside the rest of a small model's run;
# larger float64 weights are read from further away on each invoke, and half their bytes in
# float32 cost less than the cast of the product.
SMALL_WEIGHTS = 1 << 13

# int8 outputs of one row of up to this many units skip the kernel's budget test (``_int8``).
SMALL_ROW_UNITS = 4096


# Outputs up to this many elements are requantized by ``_search_requantizer``'s thresholds: a
# binary search per element costs more than the arithmetic's dozen passes on large outputs,
# and less than their per-call overhead on small ones.
SEARCH_MAX_ELEMENTS = 256


def _requantized(acc, scale, zp_out: int, lo: int, hi: int) -> np.ndarray:
    """The int8 kernel's output for float64 accumulators ``acc`` (integers, bias included):
    round_half_away(acc * scale) + zp_out clamped to [lo, hi], as the kernel computes it."""
    y = acc * scale
    y = np.trunc(y + np.copysign(0.5, y)) + zp_out
    return np.minimum(np.maximum(y, lo), hi)


def _search_requantizer(scale, zp_out: int, lo: int, hi: int, bound, units: int):
    """The requantization of the int8 kernel as a count of thresholds, or None.

    For channel c the output q_c(acc) = clamp(round_half_away(acc * s_c) + zp_out, lo, hi) is a
    non-decreasing step function of the integer accumulator (a rounded product, a rounding and
    a clamp, each monotone), so q_c(acc) = lo + #{j : T_cj <= acc} where T_cj is the least
    integer with q_c(T_cj) >= lo + j (j = 1..hi-lo). Each T_cj is found exactly by evaluating
    the kernel's own float64 formula around its estimate; one clipped beyond the reachable
    range |acc| <= bound_c changes no count. With one scale all channels share the thresholds;
    with one per channel, channel c's accumulators and thresholds are shifted by c * span
    (integers below 2^52: exact in float64) so that one sorted array serves them all, each
    channel's block ending in a sentinel above its accumulators.

    Returns (sorted thresholds, per-channel shifts to add to the accumulators, output level of
    each search result), or None where a scale is not positive or the search fails.
    """
    scales = np.atleast_1d(np.asarray(scale, np.float64))
    if not (np.isfinite(scales).all() and (scales > 0).all()):
        return None
    if len(scales) > 1 and units * (hi - lo + 1) > SEARCH_MAX_ELEMENTS * 256:
        return None  # (a large per-channel table for outputs too large to search anyway)
    s = scales[:, None, None]
    edge = np.ceil(np.asarray(bound, np.float64).max(initial=0)) + 1  # beyond any accumulator
    target = np.arange(lo + 1, hi + 1, dtype=np.float64)[None, :, None]  # q >= lo + j
    estimate = np.clip(np.ceil((target - zp_out - 0.5) / s), -edge, edge)
    candidates = estimate + np.arange(-4, 5, dtype=np.float64)
    reached = _requantized(candidates, s, zp_out, lo, hi) >= target
    first = np.argmax(reached, axis=-1)[..., None]
    found = reached.any(axis=-1) & ~reached[..., 0]
    never = _requantized(edge, s[..., 0], zp_out, lo, hi) < target[..., 0]
    always = _requantized(-edge, s[..., 0], zp_out, lo, hi) >= target[..., 0]
    if not (found | never | always).all():
        return None
    thresholds = np.take_along_axis(candidates, first, axis=-1)[..., 0]
    thresholds = np.where(never, edge, np.where(always, -edge, thresholds))  # (channels, levels)
    levels = np.arange(lo, hi + 1, dtype=np.int64).astype(np.int8)
    if len(scales) == 1:
        return thresholds[0], np.zeros(units), levels
    span = 2 * edge + 4
    if units * span >= 2.0**52:
        return None
    shift = np.arange(units, dtype=np.float64) * span
    sentinel = np.full((units, 1), edge + 1)
    blocks = np.concatenate([thresholds, sentinel], axis=1) + shift[:, None]
    return blocks.reshape(-1), shift, np.tile(levels, units)


def _int16(ctx, weights, bias, act, rows, shape_out):
    # FullyConnected(PerChannel) for int16 input, int8 weights: int64 accumulator (int32 with
    # quantized_bias_type INT32), requantized in double like the int8 reference kernel.
    units = weights.shape[0]
    int32_bias = int16_bias(ctx, bias, "fully connected")
    scale, s_out = int16_scales(ctx, units, "fully connected", "weights need")
    lo, hi = c.activation_range_quantized(act, s_out, 0, np.int16)
    w_t = np.ascontiguousarray(weights.T.astype(np.float64))
    b = np.zeros(units, np.int64) if bias is None else bias.astype(np.int64)

    def run(x, *_):
        acc = (rows(x).astype(np.float64) @ w_t).astype(np.int64) + b
        if int32_bias:
            acc = wrap_int32(acc)
        y = round_half_away(acc * scale)
        return [shape_out(x, np.clip(y, lo, hi).astype(np.int16))]

    return run


def _hybrid(ctx, weights, bias, act, rows, shape_out):
    if ctx.out_type() != c.F32:
        raise ctx.unsupported("hybrid fully connected must have a float32 output")
    units = weights.shape[0]
    wq = ctx.inputs[1].quantization
    if wq is None or len(wq.scale) not in (1, units) or np.any(wq.zero_point != 0):
        raise ctx.fail(f"hybrid weights need 1 or {units} scales and zero points 0")
    w_scale = wq.scale.astype(np.float32)
    w = weights.astype(np.float64)
    w_t = np.ascontiguousarray(w.T)
    row_sums = weights.astype(np.int64).sum(axis=1)
    b = None if bias is None else bias.astype(np.float32)
    # (EvalHybrid applies ApplyActivationToVector: no clamp for NONE, none above for RELU)
    activate = activation(act)
    asymmetric = bool(ctx.options["asymmetric_quantize_inputs"])

    def run(x, *_):
        xr = rows(x)
        if asymmetric:
            q, sf, offset = quantize_rows_asymmetric(xr)
        else:
            q, sf = quantize_rows_symmetric(xr)
            offset = np.zeros(len(sf), np.int32)
        dot = (q.astype(np.float64) @ w_t).astype(np.int64)
        dot -= row_sums[None, :] * offset[:, None].astype(np.int64)
        # MatrixBatchVectorMultiplyAccumulate: result += dot * (sf[b] * w_scale[row]).
        y = dot.astype(np.float32) * (sf[:, None] * w_scale[None, :]).astype(np.float32)
        if b is not None:
            y = (b + y).astype(np.float32)
        y = activate(y).astype(np.float32, copy=False)
        return [shape_out(x, y)]

    return run
