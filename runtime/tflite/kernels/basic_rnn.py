"""RNN: one step of a fully connected recurrent cell, float32 and hybrid (float activations,
int8 weights).

References: ``tflite/kernels/basic_rnn.cc``, ``internal/kernel_utils.cc`` (``RnnBatchStep``).
Inputs: x [batch, input], weights [units, input], recurrent weights [units, units], bias
[units] and the hidden state [batch, units], a variable tensor kept from one invoke to the
next. h = act(bias + W x + R h); the output and the new state are h.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels._sequence import MatVec, activation, constant_vector, state_view


def prepare(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(5)
    if ctx.in_type(0) != c.F32 or ctx.out_type() != c.F32:
        raise ctx.unsupported("only float32 input and output are supported (float or hybrid)")
    o = ctx.options
    asym = bool(o["asymmetric_quantize_inputs"])
    act = activation(o["fused_activation_function"])
    w_in = MatVec(ctx, 1, None, None, asym)
    units, n_input = w_in.shape
    w_rec = MatVec(ctx, 2, units, units, asym)
    bias = constant_vector(ctx, 3, units, "bias")

    def run(x, _w, _r, _b, state):
        if x.ndim != 2 or x.shape[1] != n_input:
            raise ctx.fail(f"input of shape {list(x.shape)}, expected [batch, {n_input}]")
        batch = x.shape[0]
        h = state_view(ctx, state, batch, units, "hidden state")
        acc = np.zeros((batch, units), np.float32) if bias is None else np.tile(bias, (batch, 1))
        w_in.accumulate(acc, np.ascontiguousarray(x, np.float32))
        w_rec.accumulate(acc, np.ascontiguousarray(h))
        out = act(acc).astype(np.float32)
        state[...] = out.reshape(state.shape)
        return [out]

    return run
