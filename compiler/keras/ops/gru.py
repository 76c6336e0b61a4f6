"""Fused GRU recurrence: the whole time loop is one primitive with a hand-written BPTT.

Keras 3 ``GRUCell`` (gate order z, r, h; ``xproj = x @ kernel + input_bias``, time-major):

    reset_after=True:   m = h_{t-1} @ U + recurrent_bias
                        z, r = ract(xproj_z + m_z, xproj_r + m_r)
                        hh = act(xproj_h + r * m_h)
    reset_after=False:  z, r = ract(xproj_zr + h_{t-1} @ U_zr)
                        hh = act(xproj_h + (r * h_{t-1}) @ U_h)
    h_t = z * h_{t-1} + (1 - z) * hh

Backward, from the last step: dz = dh_t * (h_{t-1} - hh); dhh = dh_t * (1 - z) * act';
dh_{t-1} = dh_t * z + (recurrent terms); the kernel gradient is one GEMM per gate over all
steps. Gates are kept gate-major, ``(3, timesteps, batch, units)`` (see ``_recurrent``).
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

__all__ = ["gru_scan"]


@primitive("gru_scan")
def _gru_scan(
    xproj,
    h0,
    kernel,
    recurrent_bias,
    *,
    mask,
    drop,
    activation,
    recurrent_activation,
    reset_after,
    zero_output,
    return_sequences,
):
    _, steps, batch, u = xproj.shape
    dt = xproj.dtype
    gate = GateActivation((recurrent_activation, recurrent_activation), dt)
    act = ACTIVATIONS[activation]
    kernels = gate_major(kernel, 3)
    rbias = recurrent_bias.reshape(3, 1, u)
    hs = xp.empty((steps + 1, batch, u), dt)
    hs[0] = h0
    zrs = xp.empty((2, steps, batch, u), dt)
    hhs = xp.empty((steps, batch, u), dt)
    # reset_after keeps h @ U + b (its h block is gated by r); otherwise r * h, fed to U_h.
    inners = xp.empty((3, steps, batch, u), dt) if reset_after else None
    rhs = None if reset_after else xp.empty((steps, batch, u), dt)
    drop_zr, drop_h = (None, None) if drop is None else (drop[:2], drop[2])
    outs = Outputs(steps, batch, u, 1, dt, mask, zero_output, return_sequences)
    h_new = xp.empty((batch, u), dt) if mask is not None else None
    for t in range(steps):
        h, x, zr, hh = hs[t], xproj[:, t], zrs[:, t], hhs[t]
        if reset_after:
            inner = project(h, kernels, drop, inners[:, t])
            inner += rbias
            xp.add(x[:2], inner[:2], out=zr)
        else:
            project(h, kernels[:2], drop_zr, zr)
            zr += x[:2]
        gate.forward(zr)
        z, r = zr
        if reset_after:
            xp.multiply(r, inner[2], out=hh)
        else:
            xp.multiply(r, h if drop_h is None else h * drop_h, out=rhs[t])
            xp.matmul(rhs[t], kernels[2], out=hh)
        hh += x[2]
        act.forward(hh, hh)
        hn = hs[t + 1] if mask is None else h_new
        xp.subtract(h, hh, out=hn)
        hn *= z
        hn += hh
        if mask is not None:
            carry(mask[t], hn, h, hs[t + 1])
        outs.emit(t, hn)
    outs.set_states((hs[steps],))
    return outs.packed, (kernels, drop, reset_after, gate, act, hs, zrs, hhs, inners, rhs, outs)


@_gru_scan.defgrad
def _gru_scan_grad(ctx, grad):
    kernels, drop, reset_after, gate, act, hs, zrs, hhs, inners, rhs, outs = ctx
    steps, batch, u = hhs.shape
    dt = hhs.dtype
    kernels_t = xp.ascontiguousarray(kernels.transpose(0, 2, 1))
    drop_zr, drop_h = (None, None) if drop is None else (drop[:2], drop[2])
    (dh,) = outs.start_backward(grad)
    dx_all = xp.empty((3, steps, batch, u), dt)
    dinner_all = xp.empty_like(dx_all) if reset_after else None
    scratch = xp.empty((3, batch, u), dt)
    for t in reversed(range(steps)):
        dh_new, dh_keep = outs.split_state_grad(t, dh)
        g_out = outs.grad_at(t)
        if g_out is not None:
            dh_new = dh_new + g_out
        h, zr, hh, dx = hs[t], zrs[:, t], hhs[t], dx_all[:, t]
        z, r = zr
        xp.multiply(dh_new, h - hh, out=dx[0])
        dh = dh_new * z
        dpre = dx[2]
        xp.multiply(dh_new * (1 - z), act.slope(hh), out=dpre)
        if reset_after:
            inner = inners[:, t]
            xp.multiply(dpre, inner[2], out=dx[1])
            gate.backward(zr, dx[:2], scratch[:2])
            dinner = dinner_all[:, t]
            dinner[:2] = dx[:2]
            xp.multiply(dpre, r, out=dinner[2])
            dh += project_t(dinner, kernels_t, drop, scratch)
        else:
            d_rh = dpre @ kernels_t[2]
            xp.multiply(d_rh, h if drop_h is None else h * drop_h, out=dx[1])
            dh += d_rh * r if drop_h is None else d_rh * r * drop_h
            gate.backward(zr, dx[:2], scratch[:2])
            dh += project_t(dx[:2], kernels_t[:2], drop_zr, scratch[:2])
        if dh_keep is not None:
            dh += dh_keep
    if reset_after:
        dkernel = project_grad(hs[:-1], dinner_all, drop)
        dbias = dinner_all.sum(axis=(1, 2)).reshape(3 * u)
    else:
        rows = steps * batch
        dkernel = xp.concatenate(
            [
                project_grad(hs[:-1], dx_all[:2], drop_zr),
                rhs.reshape(rows, u).T @ dx_all[2].reshape(rows, u),
            ],
            axis=1,
        )
        dbias = None
    return dx_all, dh, dkernel, dbias


def gru_scan(
    xproj,
    h0,
    recurrent_kernel,
    recurrent_bias=None,
    activation="tanh",
    recurrent_activation="sigmoid",
    reset_after=True,
    mask=None,
    recurrent_dropout=None,
    zero_output_for_mask=False,
    return_sequences=True,
):
    """Runs a Keras GRU over precomputed input projections; one autodiff node for all steps.

    Args:
        xproj: ``(3, timesteps, batch, units)``: ``inputs @ kernel + input_bias`` for gates
            z, r, h (gate-major, see ``sequence_projection(..., gates=3)``), in processing
            order.
        h0: initial state, ``(batch, units)``.
        recurrent_kernel: ``(units, 3 * units)``, gates z, r, h.
        recurrent_bias: ``(3 * units,)`` added to ``h @ recurrent_kernel`` (``reset_after``
            only), or ``None``.
        activation, recurrent_activation: names from ``ACTIVATIONS``.
        reset_after: apply the reset gate after the recurrent matmul (Keras default).
        mask: ``(timesteps, batch)`` booleans, ``False`` for skipped steps, or ``None``.
        recurrent_dropout: ``(3, batch, units)`` scaled keep masks on ``h``, or ``None``.
        zero_output_for_mask: masked steps output zeros instead of the previous output.
        return_sequences: return every step's output, or only the last.

    Returns:
        ``(outputs, h)``: outputs ``(timesteps, batch, units)`` or ``(batch, units)``, and the
        final state.
    """
    xproj = as_tensor(xproj)
    if xproj.ndim != 4 or xproj.shape[0] != 3:
        raise ValueError(
            f"gru_scan expects xproj of shape (3, timesteps, batch, units). "
            f"Received: {tuple(xproj.shape)}"
        )
    _, steps, batch, units = xproj.shape
    width = 3 * units
    if steps == 0:
        raise ValueError(f"A GRU needs at least one timestep. Received: xproj.shape={xproj.shape}")
    if recurrent_bias is None:
        recurrent_bias = xp.zeros((width,), dtype=xproj.dtype)
    packed = _gru_scan(
        xproj,
        as_tensor(h0),
        as_tensor(recurrent_kernel),
        as_tensor(recurrent_bias),
        mask=time_major_mask(mask, steps, batch),
        drop=dropout_masks(recurrent_dropout, 3, batch, units, xproj.dtype),
        activation=check_activation(activation, "activation"),
        recurrent_activation=check_activation(recurrent_activation, "recurrent_activation"),
        reset_after=bool(reset_after),
        zero_output=bool(zero_output_for_mask),
        return_sequences=bool(return_sequences),
    )
    s = steps if return_sequences else 1
    outputs = packed[:s] if return_sequences else packed[0]
    return outputs, packed[s]
