"""LSTM, UNIDIRECTIONAL_SEQUENCE_LSTM and BIDIRECTIONAL_SEQUENCE_LSTM: float32 and hybrid
(float activations, int8 weights quantized per tensor). An int8 input selects the fully integer
kernel of ``lstm_integer`` (LiteRT has it for the unidirectional op only).

References: ``tflite/kernels/lstm.cc`` (the FULL kernel), ``unidirectional_sequence_lstm.cc``,
``bidirectional_sequence_lstm.cc``, ``lstm_eval.cc`` (``CalculateLstmGateFloat/Hybrid``,
``UpdateLstmCellFloat``, ``CalculateLstmOutput*``).

Per step: i, f, o = sigmoid(.), g = act(.), each gate = bias + W x + R h (+ peephole * c);
c = f*c + i*g (CIFG: i = 1 - f), clipped when cell_clip > 0; the output gate's peephole uses
the updated c; h = o * act(c), then an optional projection (+ bias, clipped when proj_clip > 0).
The backward direction walks time in reverse and writes each step at its own time index. State
tensors are variables that carry over from one invoke to the next, as in TFLite.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels import lstm_integer
from runtime.tflite.kernels._sequence import (
    MatVec,
    activation,
    constant_vector,
    sigmoid,
    state_view,
    time_major_view,
)


@dataclass(frozen=True)
class _Layout:
    """Input indices of one direction's tensors (gate order i, f, g(cell), o)."""

    w_in: tuple[int, int, int, int]
    w_rec: tuple[int, int, int, int]
    peephole: tuple[int, int, int]  # i, f, o
    bias: tuple[int, int, int, int]
    projection: int
    projection_bias: int
    output_state: int
    cell_state: int


_UNI = _Layout((1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11), (12, 13, 14, 15), 16, 17, 18, 19)
_BI_FW = _Layout((1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11), (12, 13, 14, 15), 16, 17, 35, 36)
_BI_BW = _Layout((18, 19, 20, 21), (22, 23, 24, 25), (26, 27, 28), (29, 30, 31, 32), 33, 34, 37, 38)


def _layer_norm(acc, coefficients, bias):
    """``MeanStddevNormalization`` (epsilon 1e-8 on the variance), * coefficients, + bias."""
    n = np.float32(acc.shape[1])
    mean = (acc.sum(axis=1, dtype=np.float32) / n)[:, None]
    diff = acc - mean
    variance = (np.square(diff).sum(axis=1, dtype=np.float32) / n)[:, None]
    inv = np.float32(1) / np.sqrt(variance + np.float32(1e-8))
    out = diff * inv * coefficients
    return out + bias if bias is not None else out


def _gate(spec, step, peephole, cell, activation, layer_norm=None):
    """One gate: bias, + W x, + R h, + peephole * cell, then its activation. With layer norm
    the bias is added after the normalization instead."""
    w_in, w_rec, bias = spec
    xt, qx, h, qh = step
    batch, n_cell = cell.shape
    if bias is None or layer_norm is not None:
        acc = np.zeros((batch, n_cell), np.float32)
    else:
        acc = np.broadcast_to(bias, (batch, n_cell)).copy()
    w_in.accumulate(acc, xt, qx if w_in.hybrid else None)
    w_rec.accumulate(acc, h, qh if w_rec.hybrid else None)
    if peephole is not None:
        acc += peephole * cell
    if layer_norm is not None:
        acc = _layer_norm(acc, layer_norm, bias)
    return activation(acc)


class _Direction:
    """The weights of one LSTM direction and the loop over time."""

    def __init__(self, ctx: c.OpContext, layout: _Layout, layer_norm: bool = False):
        o = ctx.options
        required = layout.w_in[1:] + layout.w_rec[1:] + layout.bias[1:]
        for k in required + (layout.output_state, layout.cell_state):
            if ctx.inputs[k] is None:
                raise ctx.fail(f"required input {k} is missing (-1)")
        asym = bool(o["asymmetric_quantize_inputs"])
        self.ctx = ctx
        self.layout = layout
        self.act = activation(o["fused_activation_function"])
        self.cell_clip, self.proj_clip = float(o["cell_clip"]), float(o["proj_clip"])
        forget = MatVec(ctx, layout.w_in[1], None, None, asym)
        self.n_cell, self.n_input = forget.shape
        self.n_output = MatVec(ctx, layout.w_rec[1], self.n_cell, None, asym).shape[1]
        self.cifg = ctx.inputs[layout.w_in[0]] is None
        self.gates = {}
        for k, name in enumerate("ifgo"):
            if name == "i" and self.cifg:
                continue
            self.gates[name] = (
                MatVec(ctx, layout.w_in[k], self.n_cell, self.n_input, asym),
                MatVec(ctx, layout.w_rec[k], self.n_cell, self.n_output, asym),
                constant_vector(ctx, layout.bias[k], self.n_cell, f"{name} gate bias"),
            )
        # Layer-norm coefficients: inputs 20..23 of the unidirectional and LSTM ops.
        self.ln = {}
        for k, name in enumerate("ifgo"):
            if layer_norm and name in self.gates:
                coefficients = constant_vector(ctx, 20 + k, self.n_cell, f"{name} layer norm")
                if coefficients is None:
                    raise ctx.fail(f"layer-norm coefficients of gate {name} are missing")
                self.ln[name] = coefficients
        self.quantizer = self.gates["f"][0]
        self.hybrid = any(m.hybrid for g in self.gates.values() for m in g[:2])
        self.peephole = {
            name: constant_vector(ctx, k, self.n_cell, f"peephole {name}")
            for name, k in zip("ifo", layout.peephole)
        }
        has_proj = ctx.inputs[layout.projection] is not None
        self.proj = (
            MatVec(ctx, layout.projection, self.n_output, self.n_cell, asym) if has_proj else None
        )
        self.proj_bias = constant_vector(
            ctx, layout.projection_bias, self.n_output, "projection bias"
        )
        if self.proj is None and self.n_output != self.n_cell:
            raise ctx.fail(
                f"output size {self.n_output} differs from cell size {self.n_cell} without a "
                "projection"
            )

    def run(self, seq: np.ndarray, args: list, reverse: bool) -> np.ndarray:
        """Time-major ``seq`` [T, B, I] -> outputs [T, B, O]; updates the state variables."""
        ctx, lay = self.ctx, self.layout
        h_state, c_state = args[lay.output_state], args[lay.cell_state]
        steps, batch = seq.shape[0], seq.shape[1]
        if seq.shape[2] != self.n_input:
            raise ctx.fail(f"input depth {seq.shape[2]} differs from weights' {self.n_input}")
        h = state_view(ctx, h_state, batch, self.n_output, "output state")
        cell = state_view(ctx, c_state, batch, self.n_cell, "cell state")
        out = np.empty((steps, batch, self.n_output), np.float32)
        for t in range(steps - 1, -1, -1) if reverse else range(steps):
            h, cell = self._step(np.ascontiguousarray(seq[t]), h, cell)
            out[t] = h
        h_state[...] = h.reshape(h_state.shape)
        c_state[...] = cell.reshape(c_state.shape)
        return out

    def _step(self, xt, h, cell):
        qx = self.quantizer.quantize(xt) if self.hybrid else None
        qh = self.quantizer.quantize(h) if self.hybrid else None
        step = (xt, qx, h, qh)
        values = {}
        # TFLite's order: input, forget and cell gates from the previous cell state; the
        # output gate (and its peephole) from the updated one.
        for name in ("i", "f", "g"):
            if name in self.gates:
                fn = self.act if name == "g" else sigmoid
                values[name] = _gate(
                    self.gates[name], step, self.peephole.get(name), cell, fn, self.ln.get(name)
                )
        i_gate = (np.float32(1) - values["f"]) if self.cifg else values["i"]
        cell = values["f"] * cell + values["g"] * i_gate
        if self.cell_clip > 0:
            cell = np.clip(cell, -self.cell_clip, self.cell_clip)
        o_gate = _gate(self.gates["o"], step, self.peephole["o"], cell, sigmoid, self.ln.get("o"))
        h_new = o_gate * self.act(cell)
        if self.proj is not None:
            batch = h_new.shape[0]
            if self.proj_bias is None:
                acc = np.zeros((batch, self.n_output), np.float32)
            else:
                acc = np.broadcast_to(self.proj_bias, (batch, self.n_output)).copy()
            self.proj.accumulate(acc, h_new)
            h_new = np.clip(acc, -self.proj_clip, self.proj_clip) if self.proj_clip > 0 else acc
        return h_new.astype(np.float32), cell


def _check_common(ctx: c.OpContext):
    if ctx.in_type(0) != c.F32 or any(t.type != c.F32 for t in ctx.outputs):
        raise ctx.unsupported("only float32 input and output are supported (float or hybrid)")
    if ctx.options.get("diagonal_recurrent_tensors"):
        raise ctx.unsupported("diagonal recurrent tensors are not supported")


def _has_layer_norm(ctx: c.OpContext) -> bool:
    """LiteRT's rule: a layer-norm LSTM is one with the forget gate's coefficients (input 21)."""
    if len(ctx.inputs) != 24:
        return False
    if ctx.inputs[21] is None and any(ctx.inputs[k] is not None for k in (20, 22, 23)):
        raise ctx.fail("layer-norm coefficients without the forget gate's (input 21)")
    return ctx.inputs[21] is not None


def prepare_unidirectional(ctx: c.OpContext) -> c.Eval:
    if len(ctx.inputs) not in (20, 24) or len(ctx.outputs) != 1 or ctx.inputs[0] is None:
        raise ctx.fail(
            f"has {len(ctx.inputs)} inputs / {len(ctx.outputs)} outputs, expected 20 or 24 / 1"
        )
    if ctx.in_type(0) == c.I8:
        return lstm_integer.prepare_unidirectional(ctx)
    _check_common(ctx)
    cell = _Direction(ctx, _UNI, _has_layer_norm(ctx))
    time_major = bool(ctx.options["time_major"])

    def run(x, *args):
        out = cell.run(time_major_view(x, time_major), [x, *args], reverse=False)
        return [out if time_major else np.ascontiguousarray(np.swapaxes(out, 0, 1))]

    return run


def prepare_lstm(ctx: c.OpContext) -> c.Eval:
    """LSTM (the full kernel): one step of a [batch, n_input] input, state in variables."""
    if len(ctx.inputs) not in (20, 24) or len(ctx.outputs) != 1 or ctx.inputs[0] is None:
        raise ctx.fail(
            f"has {len(ctx.inputs)} inputs / {len(ctx.outputs)} outputs, expected 20 or 24 / 1"
        )
    if ctx.options["kernel_type"] != 0:
        raise ctx.unsupported("the BASIC LSTM kernel is not supported (FULL only)")
    if ctx.in_type(0) == c.I8:
        return lstm_integer.prepare_lstm(ctx)
    _check_common(ctx)
    if len(ctx.inputs[0].shape) != 2:
        raise ctx.fail(f"input has rank {len(ctx.inputs[0].shape)}, expected 2")
    cell = _Direction(ctx, _UNI, _has_layer_norm(ctx))

    def run(x, *args):
        if x.ndim != 2:
            raise ctx.fail(f"input has rank {x.ndim}, expected 2")
        return [cell.run(x[None], [x, *args], reverse=False)[0]]

    return run


def prepare_bidirectional(ctx: c.OpContext) -> c.Eval:
    merge = bool(ctx.options["merge_outputs"])
    if len(ctx.inputs) != 48 or len(ctx.outputs) != (1 if merge else 2) or ctx.inputs[0] is None:
        raise ctx.fail(
            f"has {len(ctx.inputs)} inputs / {len(ctx.outputs)} outputs, expected 48 / "
            f"{1 if merge else 2}"
        )
    _check_common(ctx)
    if any(ctx.inputs[k] is not None for k in range(39, 48)):
        raise ctx.unsupported("auxiliary inputs are not supported")
    forward, backward = _Direction(ctx, _BI_FW), _Direction(ctx, _BI_BW)
    time_major = bool(ctx.options["time_major"])

    def run(x, *args):
        seq = time_major_view(x, time_major)
        args = [x, *args]
        outs = [forward.run(seq, args, reverse=False), backward.run(seq, args, reverse=True)]
        if merge:
            outs = [np.concatenate(outs, axis=-1)]
        return [o if time_major else np.ascontiguousarray(np.swapaxes(o, 0, 1)) for o in outs]

    return run
