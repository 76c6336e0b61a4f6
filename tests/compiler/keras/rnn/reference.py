"""Plain numpy references of Keras 3's recurrent cells and of ``backend.rnn``'s masking rule.

Written from the Keras formulas, step by step, independently of the fused primitives.
"""

import numpy as np

__all__ = ["sigmoid", "cell_step", "run_rnn"]


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def cell_step(kind, x, states, weights, reset_after=True):
    """One step of ``kind`` in ``{"lstm", "gru", "simple"}``; returns ``(output, states)``."""
    kernel, rec, bias = weights
    h = states[0]
    if kind == "simple":
        h = np.tanh(x @ kernel + h @ rec + bias)
        return h, [h]
    if kind == "lstm":
        u = h.shape[1]
        z = x @ kernel + h @ rec + bias
        i, f, g, o = (z[:, k * u : (k + 1) * u] for k in range(4))
        c = sigmoid(f) * states[1] + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        return h, [h, c]
    u = h.shape[1]
    in_bias, rec_bias = (bias[0], bias[1]) if reset_after else (bias, np.zeros(3 * u))
    xz = x @ kernel + in_bias
    if reset_after:
        inner = h @ rec + rec_bias
        z = sigmoid(xz[:, :u] + inner[:, :u])
        r = sigmoid(xz[:, u : 2 * u] + inner[:, u : 2 * u])
        hh = np.tanh(xz[:, 2 * u :] + r * inner[:, 2 * u :])
    else:
        z = sigmoid(xz[:, :u] + h @ rec[:, :u])
        r = sigmoid(xz[:, u : 2 * u] + h @ rec[:, u : 2 * u])
        hh = np.tanh(xz[:, 2 * u :] + (r * h) @ rec[:, 2 * u :])
    h = z * h + (1 - z) * hh
    return h, [h]


def run_rnn(
    kind, x, weights, states, mask=None, go_backwards=False, zero_output=False, reset_after=True
):
    """Keras's ``backend.rnn`` (TensorFlow, unroll=False) over batch-major ``x``.

    Returns ``(outputs (B, T, U) in processing order, last_output, final_states)``.
    """
    steps = x.shape[1]
    order = range(steps - 1, -1, -1) if go_backwards else range(steps)
    outputs, prev = [], None
    for t in order:
        out, new = cell_step(kind, x[:, t], states, weights, reset_after)
        if mask is not None:
            keep = mask[:, t][:, None]
            if zero_output or prev is None:
                prev = np.zeros_like(out)
            out = np.where(keep, out, prev)
            new = [np.where(keep, n, s) for n, s in zip(new, states)]
            prev = out
        states = new
        outputs.append(out)
    return np.stack(outputs, axis=1), outputs[-1], states
