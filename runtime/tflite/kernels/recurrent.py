"""UNIDIRECTIONAL_SEQUENCE_LSTM and UNIDIRECTIONAL_SEQUENCE_RNN: float32 and hybrid
(float activations, int8 weights quantized per tensor).

References: ``tflite/kernels/unidirectional_sequence_lstm.cc``, ``lstm_eval.cc``
(``CalculateLstmGateFloat/Hybrid``, ``UpdateLstmCellFloat``, ``CalculateLstmOutput*``),
``unidirectional_sequence_rnn.cc``, ``internal/kernel_utils.cc`` (``RnnBatchStep``).

Per step, each gate starts from its bias, then accumulates W*x and R*h (in the hybrid kernels
x and h are first quantized per batch row, symmetrically or asymmetrically, and each int8 dot
product is scaled by input_scale * weight_scale in float32). LSTM: i, f, o = sigmoid,
g = act(.), c = f*c + i*g (CIFG: i = 1 - f), h = o * act(c), optional projection and clips.
The state tensors are variables: they carry over from one invoke to the next, as in TFLite.
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


def _gate(spec, step, peephole, cell, activation):
    """One LSTM gate: bias, + W x, + R h, + peephole * cell, then its activation."""
    w_in, w_rec, bias = spec
    xt, qx, h, qh = step
    batch, n_cell = cell.shape
    if bias is None:
        acc = np.zeros((batch, n_cell), np.float32)
    else:
        acc = np.broadcast_to(bias, (batch, n_cell)).copy()
    w_in.accumulate(acc, xt, qx if w_in.hybrid else None)
    w_rec.accumulate(acc, h, qh if w_rec.hybrid else None)
    if peephole is not None:
        acc += peephole * cell
    return activation(acc)


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


def prepare_lstm(ctx: c.OpContext) -> c.Eval:
    if len(ctx.inputs) not in (20, 24) or len(ctx.outputs) != 1:
        raise ctx.fail(
            f"has {len(ctx.inputs)} inputs / {len(ctx.outputs)} outputs, expected 20 or 24 / 1"
        )
    for k in (0, 2, 3, 4, 6, 7, 8, 13, 14, 15, 18, 19):
        if ctx.inputs[k] is None:
            raise ctx.fail(f"required input {k} is missing (-1)")
    if ctx.in_type(0) != c.F32 or ctx.out_type() != c.F32:
        raise ctx.unsupported("only float32 input and output are supported (float or hybrid)")
    if len(ctx.inputs) == 24 and any(ctx.inputs[k] is not None for k in range(20, 24)):
        raise ctx.unsupported("layer-norm LSTM is not supported")
    o = ctx.options
    if o.get("diagonal_recurrent_tensors"):
        raise ctx.unsupported("diagonal recurrent tensors are not supported")
    asym = bool(o["asymmetric_quantize_inputs"])
    act = _activation(o["fused_activation_function"])
    cell_clip, proj_clip = float(o["cell_clip"]), float(o["proj_clip"])
    time_major = bool(o["time_major"])
    forget = _MatVec(ctx, 2, None, None, asym)
    n_cell, n_input = forget.shape
    recurrent_f = _MatVec(ctx, 6, n_cell, None, asym)
    n_output = recurrent_f.shape[1]
    cifg = ctx.inputs[1] is None
    gates = {}
    for name, wi, wr, b in (("i", 1, 5, 12), ("f", 2, 6, 13), ("g", 3, 7, 14), ("o", 4, 8, 15)):
        if name == "i" and cifg:
            continue
        gates[name] = (
            _MatVec(ctx, wi, n_cell, n_input, asym),
            _MatVec(ctx, wr, n_cell, n_output, asym),
            _vector(ctx, b, n_cell, f"{name} gate bias"),
        )
    peep = {
        g: _vector(ctx, k, n_cell, f"peephole {g}") for g, k in (("i", 9), ("f", 10), ("o", 11))
    }
    proj = _MatVec(ctx, 16, n_output, n_cell, asym) if ctx.inputs[16] is not None else None
    proj_bias = _vector(ctx, 17, n_output, "projection bias")
    if proj is None and n_output != n_cell:
        raise ctx.fail(
            f"output size {n_output} differs from cell size {n_cell} without a projection"
        )

    def fn(name):
        return act if name == "g" else _sigmoid

    def run(x, *args):
        h_state, c_state = args[17], args[18]
        seq = _sequence(x, time_major)
        steps, batch = seq.shape[0], seq.shape[1]
        if seq.shape[2] != n_input:
            raise ctx.fail(f"input depth {seq.shape[2]} differs from weights' {n_input}")
        h = _state(ctx, h_state, batch, n_output, "output state")
        cell = _state(ctx, c_state, batch, n_cell, "cell state")
        out = np.empty((steps, batch, n_output), np.float32)
        any_hybrid = any(m.hybrid for g in gates.values() for m in g[:2])
        for t in range(steps):
            xt = np.ascontiguousarray(seq[t])
            qx = forget.quantize(xt) if any_hybrid else None
            qh = recurrent_f.quantize(h) if any_hybrid else None
            step = (xt, qx, h, qh)
            values = {}
            # TFLite's order: input, forget and cell gates from the previous cell state; the
            # output gate (and its peephole) from the updated one.
            for name in ("i", "f", "g"):
                if name in gates:
                    values[name] = _gate(gates[name], step, peep.get(name), cell, fn(name))
            i_gate = (np.float32(1) - values["f"]) if cifg else values["i"]
            cell = values["f"] * cell + values["g"] * i_gate
            if cell_clip > 0:
                cell = np.clip(cell, -cell_clip, cell_clip)
            values["o"] = _gate(gates["o"], step, peep.get("o"), cell, fn("o"))
            h_new = values["o"] * act(cell)
            if proj is not None:
                acc = (
                    np.zeros((batch, n_output), np.float32)
                    if proj_bias is None
                    else (np.broadcast_to(proj_bias, (batch, n_output)).copy())
                )
                proj.accumulate(acc, h_new)
                h_new = np.clip(acc, -proj_clip, proj_clip) if proj_clip > 0 else acc
            h = h_new.astype(np.float32)
            out[t] = h
        h_state[...] = h.reshape(h_state.shape)
        c_state[...] = cell.reshape(c_state.shape)
        return [out if time_major else np.ascontiguousarray(np.swapaxes(out, 0, 1))]

    return run


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
