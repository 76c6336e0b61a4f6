"""Numpy kernels of the IR's recurrent ops and of GATHER / REVERSE_V2 / SHAPE / FILL.

The sequence ops follow Keras 3's cells (``keras/src/layers/rnn/{lstm,gru,simple_rnn}.py``):

- LSTM: ``i, f, o = sigmoid(W x + R h + b)``, ``g = act(W_c x + R_c h + b_c)``,
  ``c = f c + i g``, ``h = o act(c)``;
- GRU: ``z, r = sigmoid(W x + b + R h + rb)``; ``reset_after``:
  ``hh = tanh(W_h x + b_h + r (R_h h + rb_h))``, otherwise ``tanh(W_h x + b_h + R_h (r h))``;
  ``h = z h_prev + (1 - z) hh``;
- RNN: ``h = act(W x + R h + b)``.

A ``mask`` (batch, time) of 1.0 / 0.0 keeps the previous states where it is 0 (Keras's
``backend.rnn`` masking); the output at a masked step is the carried ``h``, or zero with
``zero_output_for_mask``. The initial states are zero.
"""

from __future__ import annotations

import numpy as np

__all__ = ["RECURRENT_KERNELS", "cell_activation"]


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


_CELL = {"TANH": np.tanh, "RELU": lambda x: np.maximum(x, 0.0), "NONE": lambda x: x}


def cell_activation(name: str):
    return _CELL[name]


def _f64(*arrays):
    return [None if a is None else np.asarray(a, np.float64) for a in arrays]


def _scan(x, mask, zero_output, n_states, step):
    """Runs ``step(x_t, states) -> states`` (states[0] is h) over time with Keras masking."""
    batch, steps = x.shape[0], x.shape[1]
    states = None
    outputs = []
    for t in range(steps):
        new = step(x[:, t], states)
        if mask is not None:
            keep = mask[:, t : t + 1]
            old = states if states is not None else [np.zeros_like(s) for s in new]
            new = [keep * n + (1.0 - keep) * o for n, o in zip(new, old)]
            out = keep * new[0] if zero_output else new[0]
        else:
            out = new[0]
        states = new
        outputs.append(out)
    assert len(states) == n_states and states[0].shape[0] == batch
    return np.stack(outputs, axis=1)


def _matmul(v, w):
    return v @ w.T


def lstm(x, *tensors, cell_activation, zero_output_for_mask):
    *weights, mask = _f64(*tensors)  # 12 weight tensors, then the mask (None when absent)
    w_in, w_rec, bias = weights[0:4], weights[4:8], weights[8:12]
    act = _CELL[cell_activation]

    def step(xt, states):
        h, c = states if states is not None else (None, None)
        gates = []
        for k in range(4):
            acc = _matmul(xt, w_in[k]) + bias[k]
            if h is not None:
                acc = acc + _matmul(h, w_rec[k])
            gates.append(acc)
        i, f, g, o = _sigmoid(gates[0]), _sigmoid(gates[1]), act(gates[2]), _sigmoid(gates[3])
        c_new = i * g if c is None else f * c + i * g
        return [o * act(c_new), c_new]

    x = np.asarray(x, np.float64)
    return _scan(x, mask, zero_output_for_mask, 2, step)


def rnn(x, w, r, b, mask=None, *, cell_activation, zero_output_for_mask):
    x, w, r, b, mask = _f64(x, w, r, b, mask)
    act = _CELL[cell_activation]

    def step(xt, states):
        acc = _matmul(xt, w) + b
        if states is not None:
            acc = acc + _matmul(states[0], r)
        return [act(acc)]

    return _scan(x, mask, zero_output_for_mask, 1, step)


def gru(x, w, r, b, rb, mask=None, *, cell_activation, zero_output_for_mask, reset_after):
    x, w, r, b, rb, mask = _f64(x, w, r, b, rb, mask)
    units = r.shape[1]
    act = _CELL[cell_activation]

    def step(xt, states):
        h = states[0] if states is not None else np.zeros((xt.shape[0], units))
        xp = _matmul(xt, w) + b
        hp = _matmul(h, r) + rb
        z = _sigmoid(xp[:, :units] + hp[:, :units])
        reset = _sigmoid(xp[:, units : 2 * units] + hp[:, units : 2 * units])
        if reset_after:
            hh = act(xp[:, 2 * units :] + reset * hp[:, 2 * units :])
        else:
            hh = act(xp[:, 2 * units :] + _matmul(reset * h, r[2 * units :]))
        return [z * h + (1.0 - z) * hh]

    return _scan(x, mask, zero_output_for_mask, 1, step)


def gather(params, indices, *, axis):
    return np.take(params, np.asarray(indices).astype(np.int64), axis=axis)


def reverse_v2(x, axis):
    return np.flip(x, axis=tuple(int(a) for a in np.asarray(axis).reshape(-1)))


def fill(dims, value):
    return np.full([int(d) for d in np.asarray(dims).reshape(-1)], np.asarray(value).item())


RECURRENT_KERNELS = {
    "SHAPE": lambda x: np.array(x.shape, np.int32),
    "FILL": fill,
    "UNIDIRECTIONAL_SEQUENCE_LSTM": lstm,
    "UNIDIRECTIONAL_SEQUENCE_RNN": rnn,
    "GRU": gru,
    "GATHER": gather,
    "REVERSE_V2": reverse_v2,
}
