"""UNIDIRECTIONAL_SEQUENCE_RNN (float32 and hybrid) and what the recurrent kernels share.

References: ``tflite/kernels/unidirectional_sequence_rnn.cc``, ``internal/kernel_utils.cc``
(``RnnBatchStep``), ``portable_tensor_utils.cc`` (``MatrixBatchVectorMultiplyAccumulate``).

Per step the output starts from the bias, then accumulates W*x and R*h; in the hybrid
(dynamic-range) kernels x and h are first quantized per batch row, symmetrically or
asymmetrically, and each int8 dot product is scaled by input_scale * weight_scale in float32.
h = act(.). The state tensor is a variable: it carries over from one invoke to the next.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels._hybrid import quantize_rows_asymmetric, quantize_rows_symmetric
from runtime.tflite.schema import ActivationFunctionType as Act


def _activation(act: int):
    if act == Act.NONE:
        return lambda v: v
    if act == Act.TANH:
        return lambda v: np.tanh(v.astype(np.float64)).astype(np.float32)
    if act == Act.SIGN_BIT:
        return lambda v: np.signbit(v).astype(np.float32)
    lo, hi = c.activation_range_float(act)
    return lambda v: np.clip(v, np.float32(lo), np.float32(hi)).astype(np.float32)


def _sigmoid(v):
    with np.errstate(over="ignore"):
        e = np.exp(-v.astype(np.float64)).astype(np.float32)
    return (np.float32(1) / (np.float32(1) + e)).astype(np.float32)


class _MatVec:
    """W * x accumulated into a float32 buffer, float or hybrid (int8 W, per-row quantized x)."""

    def __init__(self, ctx, k: int, rows: int | None, cols: int | None, asymmetric: bool):
        w = ctx.constant(k)
        t = ctx.inputs[k]
        if w is None:
            raise ctx.unsupported(f"input {k} ({t.name!r}) must be a constant tensor")
        if (
            w.ndim != 2
            or (rows is not None and w.shape[0] != rows)
            or (cols is not None and w.shape[1] != cols)
        ):
            raise ctx.fail(
                f"input {k} ({t.name!r}) has shape {list(w.shape)}, expected [{rows}, {cols}]"
            )
        self.shape = w.shape
        self.asymmetric = asymmetric
        self.hybrid = t.type == c.I8
        if self.hybrid:
            q = t.quantization
            if q is None or len(q.scale) != 1 or q.zero_point[0] != 0:
                raise ctx.unsupported(
                    f"hybrid weights {t.name!r} must be per-tensor with zero point 0"
                )
            self.scale = np.float32(q.scale[0])
            self.w_t = np.ascontiguousarray(w.T.astype(np.float64))
            self.row_sums = w.astype(np.int64).sum(axis=1)
        elif t.type == c.F32:
            self.w_t = np.ascontiguousarray(w.T.astype(np.float32))
        else:
            raise ctx.unsupported(f"weights {t.name!r} of type {t.type} not supported")

    def quantize(self, x):
        if self.asymmetric:
            return quantize_rows_asymmetric(x)
        q, sf = quantize_rows_symmetric(x)
        return q, sf, np.zeros(len(sf), np.int32)

    def accumulate(self, acc, x, quantized=None):
        if not self.hybrid:
            acc += x @ self.w_t
            return
        q, sf, offset = quantized if quantized is not None else self.quantize(x)
        dot = (q.astype(np.float64) @ self.w_t).astype(np.int64)
        dot -= self.row_sums[None, :] * offset[:, None].astype(np.int64)
        acc += dot.astype(np.float32) * (sf * self.scale)[:, None].astype(np.float32)


def _vector(ctx, k, n, what):
    if k >= len(ctx.inputs) or ctx.inputs[k] is None:
        return None
    v = ctx.constant(k)
    if v is None or v.size != n:
        raise ctx.fail(f"{what} (input {k}) must be a constant of {n} elements")
    t = ctx.inputs[k]
    if t.type == c.I8:
        q = t.quantization
        if q is None:
            raise ctx.fail(f"{what} (input {k}) is int8 without quantization")
        return (v.astype(np.float32) * np.float32(q.scale[0])).astype(np.float32)
    return v.astype(np.float32)


def _sequence(x, time_major):
    if x.ndim != 3:
        raise ValueError(f"input must be 3-D, has shape {list(x.shape)}")
    return x if time_major else np.swapaxes(x, 0, 1)


def _state(ctx, state, batch, n, what):
    if state.size != batch * n:
        raise ctx.fail(f"{what} holds {state.size} values, expected batch {batch} x {n}")
    return state.reshape(batch, n)


def prepare_rnn(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(5)
    if ctx.in_type(0) != c.F32 or ctx.out_type() != c.F32:
        raise ctx.unsupported("only float32 input and output are supported (float or hybrid)")
    o = ctx.options
    asym = bool(o["asymmetric_quantize_inputs"])
    act = _activation(o["fused_activation_function"])
    time_major = bool(o["time_major"])
    w_in = _MatVec(ctx, 1, None, None, asym)
    units, n_input = w_in.shape
    w_rec = _MatVec(ctx, 2, units, units, asym)
    bias = _vector(ctx, 3, units, "bias")

    def run(x, _w, _r, _b, state):
        seq = _sequence(x, time_major)
        steps, batch = seq.shape[0], seq.shape[1]
        if seq.shape[2] != n_input:
            raise ctx.fail(f"input depth {seq.shape[2]} differs from weights' {n_input}")
        h = _state(ctx, state, batch, units, "hidden state")
        out = np.empty((steps, batch, units), np.float32)
        for t in range(steps):
            acc = np.broadcast_to(bias, (batch, units)).copy()
            w_in.accumulate(acc, np.ascontiguousarray(seq[t]))
            w_rec.accumulate(acc, h)
            h = act(acc).astype(np.float32)
            out[t] = h
        state[...] = h.reshape(state.shape)
        return [out if time_major else np.ascontiguousarray(np.swapaxes(out, 0, 1))]

    return run
