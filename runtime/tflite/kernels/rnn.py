"""UNIDIRECTIONAL_SEQUENCE_RNN: float32 and hybrid (float activations, int8 weights).

References: ``tflite/kernels/unidirectional_sequence_rnn.cc``, ``internal/kernel_utils.cc``
(``RnnBatchStep``). Per step: h = act(bias + W x + R h). The state tensor is a variable: it
carries over from one invoke to the next, as in TFLite.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels._sequence import (
    MatVec,
    activation,
    constant_vector,
    state_view,
    time_major_view,
)


def prepare_rnn(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(5)
    if ctx.in_type(0) != c.F32 or ctx.out_type() != c.F32:
        raise ctx.unsupported("only float32 input and output are supported (float or hybrid)")
    o = ctx.options
    asym = bool(o["asymmetric_quantize_inputs"])
    act = activation(o["fused_activation_function"])
    time_major = bool(o["time_major"])
    w_in = MatVec(ctx, 1, None, None, asym)
    units, n_input = w_in.shape
    w_rec = MatVec(ctx, 2, units, units, asym)
    bias = constant_vector(ctx, 3, units, "bias")

    def run(x, _w, _r, _b, state):
        seq = time_major_view(x, time_major)
        steps, batch = seq.shape[0], seq.shape[1]
        if seq.shape[2] != n_input:
            raise ctx.fail(f"input depth {seq.shape[2]} differs from weights' {n_input}")
        h = state_view(ctx, state, batch, units, "hidden state")
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
