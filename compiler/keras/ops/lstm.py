"""Fused LSTM recurrence: the whole time loop is one primitive with a hand-written BPTT.

Keras 3 ``LSTMCell`` (gate order i, f, c, o; ``xproj = x @ kernel + bias`` for all steps at
once, time-major):

    z_t = xproj_t + h_{t-1} @ U          i, f, o = ract(z_i, z_f, z_o)    g = act(z_c)
    c_t = f * c_{t-1} + i * g            h_t = o * act(c_t)

Backward, from the last step: dc_t += dh_t * o * act'(c_t); do = dh_t * act(c_t);
di = dc_t * g; df = dc_t * c_{t-1}; dg = dc_t * i; dc_{t-1} = dc_t * f;
dz = d[i f g o] * gate'; dh_{t-1} = dz @ U^T. dU = sum_t h_{t-1}^T dz_t is one GEMM over all
steps, and dz is the gradient of ``xproj``.
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

__all__ = ["lstm_scan"]


@primitive("lstm_scan")
def _lstm_scan(xproj, h0, c0, kernel, *, mask, drop, activation, recurrent_activation,
               zero_output, return_sequences):
    steps, batch, width = xproj.shape
    u = width // 4
    dt = xproj.dtype
    kernel = xp.ascontiguousarray(kernel)  # Orthogonal init and its updates are F-ordered
    ra = recurrent_activation
    gate = GateActivation((ra, ra, activation, ra), u, dt)
    act = ACTIVATIONS[activation]
    gates = xp.empty((steps, batch, width), dt)
    hs = xp.empty((steps + 1, batch, u), dt)
    cs = xp.empty((steps + 1, batch, u), dt)
    tcs = xp.empty((steps, batch, u), dt)  # act(c_t) of the unmasked new cell state
    hs[0], cs[0] = h0, c0
    outs = Outputs(steps, batch, u, 2, dt, mask, zero_output, return_sequences)
    if mask is not None:
        h_new, c_new = xp.empty((batch, u), dt), xp.empty((batch, u), dt)
    for t in range(steps):
        z = project(hs[t], kernel, drop, u, out=gates[t])
        z += xproj[t]
        gate.forward(z)
        i, f, g, o = z[:, :u], z[:, u:2 * u], z[:, 2 * u:3 * u], z[:, 3 * u:]
        cn = cs[t + 1] if mask is None else c_new
        xp.multiply(f, cs[t], out=cn)
        cn += i * g
        act.forward(cn, tcs[t])
        hn = hs[t + 1] if mask is None else h_new
        xp.multiply(o, tcs[t], out=hn)
        if mask is not None:
            carry(mask[t], hn, hs[t], hs[t + 1])
            carry(mask[t], cn, cs[t], cs[t + 1])
        outs.emit(t, hn)
    outs.set_states((hs[steps], cs[steps]))
    return outs.packed, (kernel, drop, gate, act, gates, hs, cs, tcs, outs)


@_lstm_scan.defgrad
def _lstm_scan_grad(ctx, grad):
    kernel, drop, gate, act, gates, hs, cs, tcs, outs = ctx
    steps, batch, width = gates.shape
    u = width // 4
    dh, dc = outs.start_backward(grad)
    dz_all = xp.empty_like(gates)
    kernel_t = xp.ascontiguousarray(kernel.T)
    for t in reversed(range(steps)):
        dh_new, dh_keep = outs.split_state_grad(t, dh)
        dc_new, dc_keep = outs.split_state_grad(t, dc)
        g_out = outs.grad_at(t)
        if g_out is not None:
            dh_new = dh_new + g_out
        y = gates[t]
        i, f, g, o = y[:, :u], y[:, u:2 * u], y[:, 2 * u:3 * u], y[:, 3 * u:]
        dz = dz_all[t]
        xp.multiply(dh_new, tcs[t], out=dz[:, 3 * u:])
        dc_new = dc_new + act.grad(tcs[t], dh_new * o)
        xp.multiply(dc_new, g, out=dz[:, :u])
        xp.multiply(dc_new, cs[t], out=dz[:, u:2 * u])
        xp.multiply(dc_new, i, out=dz[:, 2 * u:3 * u])
        dc = dc_new * f
        gate.backward(y, dz)
        dh = project_t(dz, kernel_t, drop, u)
        if dh_keep is not None:
            dh += dh_keep
            dc += dc_keep
    return dz_all, dh, dc, project_grad(hs[:-1], dz_all, drop, u)


def lstm_scan(xproj, h0, c0, recurrent_kernel, activation="tanh", recurrent_activation="sigmoid",
              mask=None, recurrent_dropout=None, zero_output_for_mask=False,
              return_sequences=True):
    """Runs a Keras LSTM over precomputed input projections; one autodiff node for all steps.

    Args:
        xproj: ``(timesteps, batch, 4 * units)``: ``inputs @ kernel + bias``, time-major, in
            processing order (reverse it first for ``go_backwards``).
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
    steps, batch, width = xproj.shape
    if steps == 0:
        raise ValueError(
            f"An LSTM needs at least one timestep. Received: xproj.shape={xproj.shape}"
        )
    packed = _lstm_scan(
        xproj, as_tensor(h0), as_tensor(c0), as_tensor(recurrent_kernel),
        mask=time_major_mask(mask, steps, batch),
        drop=dropout_masks(recurrent_dropout, 4, batch, width // 4, xproj.dtype),
        activation=check_activation(activation, "activation"),
        recurrent_activation=check_activation(recurrent_activation, "recurrent_activation"),
        zero_output=bool(zero_output_for_mask), return_sequences=bool(return_sequences),
    )
    s = steps if return_sequences else 1
    outputs = packed[:s] if return_sequences else packed[0]
    return outputs, packed[s], packed[s + 1]
