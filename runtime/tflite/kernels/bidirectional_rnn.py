"""BIDIRECTIONAL_SEQUENCE_RNN: a forward and a backward RNN over a sequence, float32 and hybrid
(int8 weights).

Reference: ``tflite/kernels/bidirectional_sequence_rnn.cc`` with ``kernel_utils.cc``
(``RnnBatchStep``). Inputs: x, then per direction (forward 1-4, backward 5-8) weights,
recurrent weights, bias and the hidden state (a variable tensor kept across invokes); optional
9 aux_input, 10 forward aux weights, 11 backward aux weights. Each step: h = act(bias + W x
[+ W_aux aux] + R h); the forward cell runs t = 0..T-1, the backward one t = T-1..0. With an
aux input but no aux weights (and outputs not merged) the backward cell reads the aux input
instead of x. ``merge_outputs`` puts both directions in output 0 (forward units first).
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels._sequence import MatVec, activation, constant_vector, state_view


def _optional(ctx, k):
    return k < len(ctx.inputs) and ctx.inputs[k] is not None


def prepare(ctx: c.OpContext) -> c.Eval:
    o = ctx.options
    merge = bool(o["merge_outputs"])
    if not 9 <= len(ctx.inputs) <= 12 or len(ctx.outputs) != (1 if merge else 2):
        raise ctx.fail(
            f"has {len(ctx.inputs)} inputs and {len(ctx.outputs)} outputs, expected 9..12 and "
            f"{1 if merge else 2}"
        )
    for k in range(9):
        if ctx.inputs[k] is None:
            raise ctx.fail(f"required input {k} is missing (-1)")
    if ctx.in_type(0) != c.F32 or any(t.type != c.F32 for t in ctx.outputs):
        raise ctx.unsupported("only float32 input and outputs are supported (float or hybrid)")
    asym = bool(o["asymmetric_quantize_inputs"])
    act = activation(o["fused_activation_function"])
    time_major = bool(o["time_major"])
    cells = []
    for base, aux_k in ((1, 10), (5, 11)):
        w_in = MatVec(ctx, base, None, None, asym)
        units = w_in.shape[0]
        w_rec = MatVec(ctx, base + 1, units, units, asym)
        bias = constant_vector(ctx, base + 2, units, "bias")
        w_aux = MatVec(ctx, aux_k, units, None, asym) if _optional(ctx, aux_k) else None
        cells.append((w_in, w_rec, bias, w_aux, units))
    has_aux = _optional(ctx, 9)
    # no aux weights: the backward cell reads the aux input in place of x (non-stacking mode)
    swap = has_aux and not merge and cells[0][3] is None

    def step(cell, x, aux, h):
        w_in, w_rec, bias, w_aux, units = cell
        acc = (
            np.zeros((x.shape[0], units), np.float32)
            if bias is None
            else np.tile(bias, (x.shape[0], 1))
        )
        w_in.accumulate(acc, np.ascontiguousarray(x, np.float32))
        if w_aux is not None and aux is not None:
            w_aux.accumulate(acc, np.ascontiguousarray(aux, np.float32))
        w_rec.accumulate(acc, h)
        return act(acc).astype(np.float32)

    def run(x, *args):
        aux = args[8] if has_aux else None
        if x.ndim != 3:
            raise ctx.fail(f"input must be 3-D, has shape {list(x.shape)}")
        seq = x if time_major else np.swapaxes(x, 0, 1)
        aux_seq = None if aux is None else (aux if time_major else np.swapaxes(aux, 0, 1))
        if aux_seq is not None and aux_seq.shape[:2] != seq.shape[:2]:
            raise ctx.fail(f"aux input {list(aux.shape)} does not match input {list(x.shape)}")
        steps, batch = seq.shape[0], seq.shape[1]
        outs = []
        for direction, (cell, state) in enumerate(zip(cells, (args[3], args[7]))):
            w_in, units = cell[0], cell[4]
            source = aux_seq if (direction == 1 and swap) else seq
            if source.shape[2] != w_in.shape[1]:
                raise ctx.fail(
                    f"input depth {source.shape[2]} differs from weights' {w_in.shape[1]}"
                )
            h = state_view(ctx, state, batch, units, "hidden state")
            out = np.empty((steps, batch, units), np.float32)
            order = range(steps) if direction == 0 else range(steps - 1, -1, -1)
            for t in order:
                extra = None if (aux_seq is None or swap) else aux_seq[t]
                h = step(cell, source[t], extra, h)
                out[t] = h
            state[...] = h.reshape(state.shape)
            outs.append(out)
        if merge:
            outs = [np.concatenate(outs, axis=2)]
        return [o if time_major else np.ascontiguousarray(np.swapaxes(o, 0, 1)) for o in outs]

    return run
