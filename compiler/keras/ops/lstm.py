"""Fused LSTM recurrence: the whole time loop is one primitive with a hand-written BPTT.

Keras 3 ``LSTMCell`` (gate order i, f, c, o; ``xproj = x @ kernel + bias`` for all steps at
once, time-major):

    z_t = xproj_t + h_{t-1} @ U          i, f, o = ract(z_i, z_f, z_o)    g = act(z_c)
    c_t = f * c_{t-1} + i * g            h_t = o * act(c_t)

Backward, from the last step: dc_t += dh_t * o * act'(c_t); do = dh_t * act(c_t);
di = dc_t * g; df = dc_t * c_{t-1}; dg = dc_t * i; dc_{t-1} = dc_t * f;
dz = d[i f g o] * gate'; dh_{t-1} = dz @ U^T. dU = sum_t h_{t-1}^T dz_t is one GEMM per gate
over all steps, and dz is the gradient of ``xproj``. Gates are kept gate-major,
``(4, timesteps, batch, units)`` (see ``_recurrent``).
"""

from compiler.keras.backend import xp
from compiler.keras.ops._core import as_tensor, primitive
from compiler.keras.ops._recurrent import (
    ACTIVATIONS,
    GateActivation,
    Outputs,
    carry,
    check_activation,
    dropout_masks,
    gate_major,
    project,
    project_grad,
    project_t,
    time_major_mask,
)

__all__ = ["lstm_scan"]


@primitive("lstm_scan")
def _lstm_scan(
    xproj,
    h0,
    c0,
    kernel,
    *,
    mask,
    drop,
    activation,
    recurrent_activation,
    zero_output,
    return_sequences,
):
    _, steps, batch, u = xproj.shape
    dt = xproj.dtype
    ra = recurrent_activation
    gate = GateActivation((ra, ra, activation, ra), dt)
    act = ACTIVATIONS[activation]
    kernels = gate_major(kernel, 4)
    gates = xp.empty((4, steps, batch, u), dt)  # i, f, g, o after their activations
    hs = xp.empty((steps + 1, batch, u), dt)
    cs = xp.empty((steps + 1, batch, u), dt)
    tcs = xp.empty((steps, batch, u), dt)  # act(c_t) of the unmasked new cell state
    hs[0], cs[0] = h0, c0
    outs = Outputs(steps, batch, u, 2, dt, mask, zero_output, return_sequences)
    ig = xp.empty((batch, u), dt)
    if mask is not None:
        h_new, c_new = xp.empty((batch, u), dt), xp.empty((batch, u), dt)
    for t in range(steps):
        z = project(hs[t], kernels, drop, gates[:, t])
        z += xproj[:, t]
        gate.forward(z)
        i, f, g, o = z
        cn = cs[t + 1] if mask is None else c_new
        xp.multiply(f, cs[t], out=cn)
        cn += xp.multiply(i, g, out=ig)
        act.forward(cn, tcs[t])
        hn = hs[t + 1] if mask is None else h_new
        xp.multiply(o, tcs[t], out=hn)
        if mask is not None:
            carry(mask[t], hn, hs[t], hs[t + 1])
            carry(mask[t], cn, cs[t], cs[t + 1])
        outs.emit(t, hn)
    outs.set_states((hs[steps], cs[steps]))
    return outs.packed, (kernels, drop, gate, act, gates, hs, cs, tcs, outs)


@_lstm_scan.defgrad
def _lstm_scan_grad(ctx, grad):
    kernels, drop, gate, act, gates, hs, cs, tcs, outs = ctx
    _, steps, batch, u = gates.shape
    dh, dc = outs.start_backward(grad)
    dz_all = xp.empty_like(gates)
    kernels_t = xp.ascontiguousarray(kernels.transpose(0, 2, 1))
    scratch, tmp = xp.empty((4, batch, u), gates.dtype), xp.empty((batch, u), gates.dtype)
    for t in reversed(range(steps)):
        dh_new, dh_keep = outs.split_state_grad(t, dh)
        dc_new, dc_keep = outs.split_state_grad(t, dc)
        g_out = outs.grad_at(t)
        if g_out is not None:
            dh_new = dh_new + g_out
        y = gates[:, t]
        i, f, g, o = y
        dz = dz_all[:, t]
        xp.multiply(dh_new, tcs[t], out=dz[3])
        xp.multiply(dh_new, o, out=tmp)
        dc_new = dc_new + act.grad(tcs[t], tmp)
        xp.multiply(dc_new, g, out=dz[0])
        xp.multiply(dc_new, cs[t], out=dz[1])
        xp.multiply(dc_new, i, out=dz[2])
        dc = dc_new * f
        gate.backward(y, dz, scratch)
        dh = project_t(dz, kernels_t, drop, scratch)
        if dh_keep is not None:
            dh += dh_keep
            dc += dc_keep
    return dz_all, dh, dc, project_grad(hs[:-1], dz_all, drop)


def lstm_scan(
    xproj,
    h0,
    c0,
    recurrent_kernel,
    activation="tanh",
    recurrent_activation="sigmoid",
    mask=None,
    recurrent_dropout=None,
    zero_output_for_mask=False,
    return_sequences=True,
):
    """Runs a Keras LSTM over precomputed input projections; one autodiff node for all steps.

    Args:
        xproj: ``(4, timesteps, batch, units)``: ``inputs @ kernel + bias`` for gates i, f, c,
            o (gate-major, see ``sequence_projection(..., gates=4)``), in processing order
            (reverse the time axis first for ``go_backwards``).
        h0, c0: initial states, ``(batch, units)``.
        recurrent_kernel: ``(units, 4 * units)``, gates i, f, c, o.
        activation, recurrent_activation: names from ``ACTIVATIONS`` (``"tanh"``,
            ``"sigmoid"``, ``"relu"``, ``"linear"``, ``"hard_sigmoid"``, ``"softsign"``).
        mask: ``(timesteps, batch)`` booleans, ``False`` for skipped steps, or ``None``.
        recurrent_dropout: ``(4, batch, units)`` scaled keep masks on ``h`` (one per gate),
            or ``None``.
        zero_output_for_mask: masked steps output zeros instead of the previous output.
        return_sequences: return every step's output, or only the last.

    Returns:
        ``(outputs, h, c)``: outputs ``(timesteps, batch, units)`` (time-major) or the last
        output ``(batch, units)``, and the final states.
    """
    xproj = as_tensor(xproj)
    if xproj.ndim != 4 or xproj.shape[0] != 4:
        raise ValueError(
            f"lstm_scan expects xproj of shape (4, timesteps, batch, units). "
            f"Received: {tuple(xproj.shape)}"
        )
    _, steps, batch, units = xproj.shape
    if steps == 0:
        raise ValueError(
            f"An LSTM needs at least one timestep. Received: xproj.shape={xproj.shape}"
        )
    packed = _lstm_scan(
        xproj,
        as_tensor(h0),
        as_tensor(c0),
        as_tensor(recurrent_kernel),
        mask=time_major_mask(mask, steps, batch),
        drop=dropout_masks(recurrent_dropout, 4, batch, units, xproj.dtype),
        activation=check_activation(activation, "activation"),
        recurrent_activation=check_activation(recurrent_activation, "recurrent_activation"),
        zero_output=bool(zero_output_for_mask),
        return_sequences=bool(return_sequences),
    )
    s = steps if return_sequences else 1
    outputs = packed[:s] if return_sequences else packed[0]
    return outputs, packed[s], packed[s + 1]
