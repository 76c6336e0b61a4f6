"""Fused GRU recurrence: the whole time loop is one primitive with a hand-written BPTT.

Keras 3 ``GRUCell`` (gate order z, r, h; ``xproj = x @ kernel + input_bias``, time-major):

    reset_after=True:   m = h_{t-1} @ U + recurrent_bias
                        z, r = ract(xproj_z + m_z, xproj_r + m_r)
                        hh = act(xproj_h + r * m_h)
    reset_after=False:  z, r = ract(xproj_zr + h_{t-1} @ U_zr)
                        hh = act(xproj_h + (r * h_{t-1}) @ U_h)
    h_t = z * h_{t-1} + (1 - z) * hh

Backward, from the last step: dz = dh_t * (h_{t-1} - hh); dhh = dh_t * (1 - z) * act';
dh_{t-1} = dh_t * z + (recurrent terms); the kernel gradient is one GEMM over all steps.
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
    project,
    project_grad,
    project_t,
    time_major_mask,
)

__all__ = ["gru_scan"]


@primitive("gru_scan")
def _gru_scan(xproj, h0, kernel, recurrent_bias, *, mask, drop, activation, recurrent_activation,
              reset_after, zero_output, return_sequences):
    steps, batch, width = xproj.shape
    u = width // 3
    dt = xproj.dtype
    kernel = xp.ascontiguousarray(kernel)  # Orthogonal init and its updates are F-ordered
    gate = GateActivation((recurrent_activation, recurrent_activation), u, dt)
    act = ACTIVATIONS[activation]
    hs = xp.empty((steps + 1, batch, u), dt)
    hs[0] = h0
    zrs = xp.empty((steps, batch, 2 * u), dt)
    hhs = xp.empty((steps, batch, u), dt)
    # reset_after keeps h @ U + b (its h block is gated by r); otherwise r * h, fed to U_h.
    inners = xp.empty((steps, batch, width), dt) if reset_after else None
    rhs = None if reset_after else xp.empty((steps, batch, u), dt)
    k_zr, k_h = kernel[:, :2 * u], kernel[:, 2 * u:]
    drop_zr, drop_h = (None, None) if drop is None else (drop[:2], drop[2])
    outs = Outputs(steps, batch, u, 1, dt, mask, zero_output, return_sequences)
    h_new = xp.empty((batch, u), dt) if mask is not None else None
    for t in range(steps):
        h, x, zr, hh = hs[t], xproj[t], zrs[t], hhs[t]
        if reset_after:
            inner = project(h, kernel, drop, u, out=inners[t])
            inner += recurrent_bias
            xp.add(x[:, :2 * u], inner[:, :2 * u], out=zr)
        else:
            project(h, k_zr, drop_zr, u, out=zr)
            zr += x[:, :2 * u]
        gate.forward(zr)
        z, r = zr[:, :u], zr[:, u:]
        if reset_after:
            xp.multiply(r, inner[:, 2 * u:], out=hh)
        else:
            xp.multiply(r, h if drop_h is None else h * drop_h, out=rhs[t])
            xp.matmul(rhs[t], k_h, out=hh)
        hh += x[:, 2 * u:]
        act.forward(hh, hh)
        hn = hs[t + 1] if mask is None else h_new
        xp.subtract(h, hh, out=hn)
        hn *= z
        hn += hh
        if mask is not None:
            carry(mask[t], hn, h, hs[t + 1])
        outs.emit(t, hn)
    outs.set_states((hs[steps],))
    return outs.packed, (kernel, drop, reset_after, gate, act, hs, zrs, hhs, inners, rhs, outs)


@_gru_scan.defgrad
def _gru_scan_grad(ctx, grad):
    kernel, drop, reset_after, gate, act, hs, zrs, hhs, inners, rhs, outs = ctx
    steps, batch, u = hhs.shape
    kernel_t = xp.ascontiguousarray(kernel.T)
    k_zr_t, k_h_t = kernel_t[:2 * u], kernel_t[2 * u:]
    drop_zr, drop_h = (None, None) if drop is None else (drop[:2], drop[2])
    (dh,) = outs.start_backward(grad)
    dx_all = xp.empty((steps, batch, 3 * u), hhs.dtype)
    dinner_all = xp.empty_like(dx_all) if reset_after else None
    for t in reversed(range(steps)):
        dh_new, dh_keep = outs.split_state_grad(t, dh)
        g_out = outs.grad_at(t)
        if g_out is not None:
            dh_new = dh_new + g_out
        h, zr, hh, dx = hs[t], zrs[t], hhs[t], dx_all[t]
        z, r = zr[:, :u], zr[:, u:]
        xp.multiply(dh_new, h - hh, out=dx[:, :u])
        dh = dh_new * z
        dpre = dx[:, 2 * u:]
        xp.multiply(dh_new * (1 - z), act.slope(hh), out=dpre)
        if reset_after:
            inner = inners[t]
            xp.multiply(dpre, inner[:, 2 * u:], out=dx[:, u:2 * u])
            gate.backward(zr, dx[:, :2 * u])
            dinner = dinner_all[t]
            dinner[:, :2 * u] = dx[:, :2 * u]
            xp.multiply(dpre, r, out=dinner[:, 2 * u:])
            dh += project_t(dinner, kernel_t, drop, u)
        else:
            d_rh = dpre @ k_h_t
            xp.multiply(d_rh, h if drop_h is None else h * drop_h, out=dx[:, u:2 * u])
            dh += d_rh * r if drop_h is None else d_rh * r * drop_h
            gate.backward(zr, dx[:, :2 * u])
            dh += project_t(dx[:, :2 * u], k_zr_t, drop_zr, u)
        if dh_keep is not None:
            dh += dh_keep
    if reset_after:
        dkernel = project_grad(hs[:-1], dinner_all, drop, u)
        dbias = dinner_all.sum(axis=(0, 1))
    else:
        rows = steps * batch
        dkernel = xp.concatenate(
            [project_grad(hs[:-1], dx_all[:, :, :2 * u], drop_zr, u),
             rhs.reshape(rows, u).T @ dx_all[:, :, 2 * u:].reshape(rows, u)], axis=1)
        dbias = None
    return dx_all, dh, dkernel, dbias


def gru_scan(xproj, h0, recurrent_kernel, recurrent_bias=None, activation="tanh",
             recurrent_activation="sigmoid", reset_after=True, mask=None, recurrent_dropout=None,
             zero_output_for_mask=False, return_sequences=True):
    """Runs a Keras GRU over precomputed input projections; one autodiff node for all steps.

    Args:
        xproj: ``(timesteps, batch, 3 * units)``: ``inputs @ kernel + input_bias``,
            time-major, in processing order.
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
    steps, batch, width = xproj.shape
    if steps == 0:
        raise ValueError(f"A GRU needs at least one timestep. Received: xproj.shape={xproj.shape}")
    if recurrent_bias is None:
        recurrent_bias = xp.zeros((width,), dtype=xproj.dtype)
    packed = _gru_scan(
        xproj, as_tensor(h0), as_tensor(recurrent_kernel), as_tensor(recurrent_bias),
        mask=time_major_mask(mask, steps, batch),
        drop=dropout_masks(recurrent_dropout, 3, batch, width // 3, xproj.dtype),
        activation=check_activation(activation, "activation"),
        recurrent_activation=check_activation(recurrent_activation, "recurrent_activation"),
        reset_after=bool(reset_after), zero_output=bool(zero_output_for_mask),
        return_sequences=bool(return_sequences),
    )
    s = steps if return_sequences else 1
    outputs = packed[:s] if return_sequences else packed[0]
    return outputs, packed[s]
