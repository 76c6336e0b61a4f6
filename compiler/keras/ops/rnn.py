"""Fused simple (Elman) recurrence: the whole time loop is one primitive with hand-written BPTT.

Keras 3 ``SimpleRNNCell`` (``xproj = x @ kernel + bias`` for all steps at once, time-major):

    h_t = act(xproj_t + h_{t-1} @ U)

Backward, from the last step: dpre_t = dh_t * act'(h_t); dh_{t-1} = dpre_t @ U^T;
dU = sum_t h_{t-1}^T dpre_t (one GEMM over all steps); dpre is the gradient of ``xproj``.
"""

from compiler.keras.backend import xp
from compiler.keras.ops._core import as_tensor, primitive
from compiler.keras.ops._recurrent import (
    ACTIVATIONS,
    Outputs,
    carry,
    check_activation,
    dropout_masks,
    time_major_mask,
)

__all__ = ["simple_rnn_scan"]


@primitive("simple_rnn_scan")
def _simple_rnn_scan(xproj, h0, kernel, *, mask, drop, activation, zero_output, return_sequences):
    steps, batch, u = xproj.shape
    dt = xproj.dtype
    kernel = xp.ascontiguousarray(kernel)  # Orthogonal init and its updates are F-ordered
    act = ACTIVATIONS[activation]
    hs = xp.empty((steps + 1, batch, u), dt)
    hs[0] = h0
    # Unmasked, the new output is the next state: no copy. Masked, they differ.
    ys = hs[1:] if mask is None else xp.empty((steps, batch, u), dt)
    outs = Outputs(steps, batch, u, 1, dt, mask, zero_output, return_sequences)
    for t in range(steps):
        y = xp.matmul(hs[t] if drop is None else hs[t] * drop, kernel, out=ys[t])
        y += xproj[t]
        act.forward(y, y)
        if mask is not None:
            carry(mask[t], y, hs[t], hs[t + 1])
        outs.emit(t, y)
    outs.set_states((hs[steps],))
    return outs.packed, (kernel, drop, act, hs, ys, outs)


@_simple_rnn_scan.defgrad
def _simple_rnn_scan_grad(ctx, grad):
    kernel, drop, act, hs, ys, outs = ctx
    steps, batch, u = ys.shape
    (dh,) = outs.start_backward(grad)
    dpre_all = xp.empty_like(ys)
    kernel_t = xp.ascontiguousarray(kernel.T)
    for t in reversed(range(steps)):
        dh_new, dh_keep = outs.split_state_grad(t, dh)
        g_out = outs.grad_at(t)
        if g_out is not None:
            dh_new = dh_new + g_out
        dpre = dpre_all[t]
        xp.multiply(dh_new, act.slope(ys[t]), out=dpre)
        dh = dpre @ kernel_t
        if drop is not None:
            dh *= drop
        if dh_keep is not None:
            dh += dh_keep
    rows = steps * batch
    h_prev = hs[:-1] if drop is None else hs[:-1] * drop
    return dpre_all, dh, h_prev.reshape(rows, u).T @ dpre_all.reshape(rows, u)


def simple_rnn_scan(
    xproj,
    h0,
    recurrent_kernel,
    activation="tanh",
    mask=None,
    recurrent_dropout=None,
    zero_output_for_mask=False,
    return_sequences=True,
):
    """Runs a Keras SimpleRNN over precomputed input projections; one autodiff node in all.

    Args:
        xproj: ``(timesteps, batch, units)``: ``inputs @ kernel + bias``, time-major, in
            processing order (reverse it first for ``go_backwards``).
        h0: initial state, ``(batch, units)``.
        recurrent_kernel: ``(units, units)``.
        activation: a name from ``ACTIVATIONS``.
        mask: ``(timesteps, batch)`` booleans, ``False`` for skipped steps, or ``None``.
        recurrent_dropout: ``(batch, units)`` scaled keep mask on ``h``, or ``None``.
        zero_output_for_mask: masked steps output zeros instead of the previous output.
        return_sequences: return every step's output, or only the last.

    Returns:
        ``(outputs, h)``: outputs ``(timesteps, batch, units)`` or ``(batch, units)``, and the
        final state.
    """
    xproj = as_tensor(xproj)
    steps, batch, u = xproj.shape
    if steps == 0:
        raise ValueError(
            f"A SimpleRNN needs at least one timestep. Received: xproj.shape={xproj.shape}"
        )
    packed = _simple_rnn_scan(
        xproj,
        as_tensor(h0),
        as_tensor(recurrent_kernel),
        mask=time_major_mask(mask, steps, batch),
        drop=None
        if recurrent_dropout is None
        else dropout_masks(recurrent_dropout, 1, batch, u, xproj.dtype)[0],
        activation=check_activation(activation, "activation"),
        zero_output=bool(zero_output_for_mask),
        return_sequences=bool(return_sequences),
    )
    s = steps if return_sequences else 1
    outputs = packed[:s] if return_sequences else packed[0]
    return outputs, packed[s]
