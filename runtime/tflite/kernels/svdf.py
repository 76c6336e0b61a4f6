"""SVDF: float32, hybrid (int8 feature weights, float activations) and fully integer (int8
input/output/feature weights, int16 time weights and state, int32 bias).

References: ``tflite/kernels/svdf.cc``, ``reference/svdf.h`` (``EvalFloatSVDF``,
``EvalHybridSVDF``, ``EvalIntegerSVDF``). Per step, with F = units * rank filters and a state
[batch, F, memory] that shifts left by one step:

  state[:, :, :-1] = state[:, :, 1:]
  state[:, :, -1]  = W_feature x                          (integer: clamp16(MBQM(W (x - z_x), s1)))
  out[b, u]        = sum_r sum_m W_time[u*rank + r, m] state[b, u*rank + r, m] + bias[u]
  out              = act(out)                             (integer: clamp8(MBQM(out, s2) + z_y))

with s1 = s_x s_Wf / s_state and s2 = s_state s_Wt / s_y computed in float32. The integer kernel
requires a RELU activation but, like LiteRT's, applies none (the output range does).
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels._fixed_point import (
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    wrap_int32,
)
from runtime.tflite.kernels._sequence import MatVec, activation, constant_vector
from runtime.tflite.schema import ActivationFunctionType as Act

_F32 = np.float32


def _shapes(ctx: c.OpContext):
    if len(ctx.inputs) != 5 or len(ctx.outputs) != 1:
        raise ctx.fail(f"has {len(ctx.inputs)} inputs / {len(ctx.outputs)} outputs, expected 5 / 1")
    for k in (0, 1, 2):
        if ctx.inputs[k] is None:
            raise ctx.fail(f"required input {k} is missing (-1)")
    if ctx.inputs[4] is None or not ctx.inputs[4].is_variable:
        raise ctx.fail("input 4 (the state) must be a variable tensor")
    rank = int(ctx.options["rank"])
    x_t, wf_t, wt_t, state_t = ctx.inputs[0], ctx.inputs[1], ctx.inputs[2], ctx.inputs[4]
    if len(x_t.shape) != 2 or len(wf_t.shape) != 2 or len(wt_t.shape) != 2:
        raise ctx.fail("input, feature weights and time weights must be 2-D")
    filters, memory = int(wf_t.shape[0]), int(wt_t.shape[1])
    if rank < 1 or filters % rank or filters < 1 or memory < 1:
        raise ctx.fail(f"rank {rank} must be >= 1 and divide the {filters} filters")
    if x_t.shape[1] != wf_t.shape[1] or wt_t.shape[0] != filters:
        raise ctx.fail(
            f"shapes: input {list(x_t.shape)}, feature weights {list(wf_t.shape)}, time "
            f"weights {list(wt_t.shape)} do not agree"
        )
    if len(state_t.shape) != 2 or state_t.shape[1] != memory * filters:
        raise ctx.fail(
            f"state has shape {list(state_t.shape)}, expected [batch, {memory * filters}]"
        )
    return rank, filters, memory


def _state(ctx, x, state, filters, memory):
    """The state as [batch, filters, memory] (a view), after checking the input against it."""
    n_input = ctx.inputs[1].shape[1]
    if x.ndim != 2 or x.shape[1] != n_input:
        raise ctx.fail(f"input has shape {list(x.shape)}, expected [batch, {n_input}]")
    if state.shape[0] != x.shape[0]:
        raise ctx.fail(f"state holds batch {state.shape[0]}, the input has batch {x.shape[0]}")
    return state.reshape(x.shape[0], filters, memory)


def _reduce(per_filter, rank, units):
    """``ReductionSumVector``: the rank consecutive filters of each unit summed."""
    return per_filter.reshape(per_filter.shape[0], units, rank).sum(axis=2)


def prepare(ctx: c.OpContext) -> c.Eval:
    rank, filters, memory = _shapes(ctx)
    units = filters // rank
    x_type = ctx.in_type(0)
    if x_type == c.I8:
        return _prepare_integer(ctx, rank, filters, memory, units)
    if x_type != c.F32 or ctx.out_type() != c.F32:
        raise ctx.unsupported("input and output must be float32 or int8")
    o = ctx.options
    act = activation(o["fused_activation_function"])
    feature = MatVec(ctx, 1, filters, None, bool(o["asymmetric_quantize_inputs"]))
    w_time = constant_vector(ctx, 2, filters * memory, "time weights").reshape(filters, memory)
    bias = constant_vector(ctx, 3, units, "bias")

    def run(x, _wf, _wt, _b, state):
        s = _state(ctx, x, state, filters, memory)
        s[:, :, :-1] = s[:, :, 1:].copy()
        latest = np.zeros((x.shape[0], filters), np.float32)
        feature.accumulate(latest, x)
        s[:, :, -1] = latest
        out = _reduce(np.einsum("bfm,fm->bf", s, w_time, dtype=np.float32), rank, units)
        if bias is not None:
            out = out + bias
        return [act(out.astype(np.float32))]

    return run


def _prepare_integer(ctx, rank, filters, memory, units):
    if ctx.options["fused_activation_function"] != Act.RELU:
        raise ctx.fail("the integer SVDF requires a RELU activation (LiteRT's kernel checks it)")
    types = {1: c.I8, 2: c.I16, 3: c.I32, 4: c.I16}
    for k, t in types.items():
        if ctx.inputs[k] is not None and ctx.inputs[k].type != t:
            raise ctx.fail(f"input {k} has type {c._tname(ctx.inputs[k].type)}, expected {t.name}")
    if ctx.out_type() != c.I8:
        raise ctx.fail(f"output has type {c._tname(ctx.out_type())}, expected INT8")
    s_x, z_x = c.per_tensor_qparams(ctx, ctx.inputs[0], "input")
    s_wf, _ = c.per_tensor_qparams(ctx, ctx.inputs[1], "feature weights")
    s_wt, _ = c.per_tensor_qparams(ctx, ctx.inputs[2], "time weights")
    s_state, _ = c.per_tensor_qparams(ctx, ctx.inputs[4], "state")
    s_y, z_y = c.per_tensor_qparams(ctx, ctx.outputs[0], "output")
    scales = (s_x, s_wf, s_wt, s_state, s_y)
    if not all(np.isfinite(s) and s > 0 for s in scales):
        raise ctx.fail(f"scales {[float(s) for s in scales]} must be finite and > 0")
    multipliers = []
    for scale in (_F32(s_x * s_wf) / s_state, _F32(s_state * s_wt) / s_y):
        m, shift = quantize_multiplier(float(scale))
        if not np.isfinite(scale) or shift > 30:
            raise ctx.fail(f"effective scale {float(scale):g} is out of range")
        multipliers.append((m, shift))
    (m1, e1), (m2, e2) = multipliers
    w_feature = ctx.constant(1)
    w_time = ctx.constant(2)
    if w_feature is None or w_time is None:
        raise ctx.unsupported("feature and time weights must be constant tensors")
    w_feature_t = w_feature.T.astype(np.float64)
    w_time = w_time.astype(np.int64)
    bias = None
    if ctx.inputs[3] is not None:
        bias = ctx.constant(3)
        if bias is None or bias.shape != (units,):
            raise ctx.fail(f"bias must be a constant of {units} values")
        bias = bias.astype(np.int64)

    def run(x, _wf, _wt, _b, state):
        s = _state(ctx, x, state, filters, memory)
        s[:, :, :-1] = s[:, :, 1:].copy()
        dot = wrap_int32(((x.astype(np.float64) - z_x) @ w_feature_t).astype(np.int64))
        s[:, :, -1] = np.clip(multiply_by_quantized_multiplier(dot, m1, e1), -32768, 32767)
        per_filter = wrap_int32(np.einsum("bfm,fm->bf", s.astype(np.int64), w_time))
        out = wrap_int32(_reduce(per_filter, rank, units))
        if bias is not None:
            out = wrap_int32(out + bias)
        y = multiply_by_quantized_multiplier(out, m2, e2) + z_y
        return [np.clip(y, -128, 127).astype(np.int8)]

    return run
