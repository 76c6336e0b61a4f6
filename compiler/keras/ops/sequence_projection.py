"""``x @ kernel + bias`` over a whole sequence as ONE GEMM, with only the gradients needed.

The recurrent layers project every step's input before their time loop:
``(T, B, F) -> (T * B, F) @ (F, G * U) -> (T, B, G * U)``, or gate-major ``(G, T, B, U)``
with ``gates=G`` (one GEMM per gate, each gate of each step a contiguous block, as the gated
scans want it). Backward: ``dkernel = x^T g`` and ``dbias = sum(g)`` over the ``T * B`` rows;
``dx = g kernel^T`` only when ``x`` needs it (the first recurrent layer's input is data, and
would cost a second GEMM for nothing).
"""

from compiler.keras.ops._core import as_tensor, primitive
from compiler.keras.ops._recurrent import from_gate_major, gate_major

__all__ = ["sequence_projection"]


@primitive("sequence_projection")
def _sequence_projection(x, kernel, *bias, gates, needs_x_grad):
    steps, batch, features = x.shape
    x2 = x.reshape(steps * batch, features)
    if gates is None:
        out = x2 @ kernel
        if bias:
            out += bias[0]
        out = out.reshape(steps, batch, -1)
    else:
        kernels = gate_major(kernel, gates)
        out = x2 @ kernels  # (gates, T * B, units)
        if bias:
            out += bias[0].reshape(gates, 1, -1)
        out = out.reshape(gates, steps, batch, -1)
    return out, (x.shape, x2, kernel, gates, bool(bias), needs_x_grad)


@_sequence_projection.defgrad
def _sequence_projection_grad(ctx, g):
    shape, x2, kernel, gates, has_bias, needs_x_grad = ctx
    rows = x2.shape[0]
    dx = None
    if gates is None:
        g2 = g.reshape(rows, -1)
        dkernel = x2.T @ g2
        dbias = g2.sum(axis=0)
        if needs_x_grad:
            dx = (g2 @ kernel.T).reshape(shape)
    else:
        g2 = g.reshape(gates, rows, -1)
        dkernel = from_gate_major(x2.T @ g2)
        dbias = g2.sum(axis=1).reshape(-1)
        if needs_x_grad:
            dx = (g2 @ gate_major(kernel, gates).transpose(0, 2, 1)).sum(axis=0).reshape(shape)
    return (dx, dkernel) + ((dbias,) if has_bias else ())


def sequence_projection(x, kernel, bias=None, gates=None):
    """``x @ kernel (+ bias)`` for ``x`` of shape ``(T, B, F)``.

    Returns ``(T, B, G * U)``, or gate-major ``(G, T, B, U)`` when ``gates=G`` (``kernel``
    ``(F, G * U)`` and ``bias`` ``(G * U,)`` keep their Keras layouts).
    """
    x = as_tensor(x)
    if x.ndim != 3:
        raise ValueError(
            f"sequence_projection expects a (timesteps, batch, features) input. "
            f"Received: shape {tuple(x.shape)}"
        )
    tensors = (x, as_tensor(kernel)) + (() if bias is None else (as_tensor(bias),))
    return _sequence_projection(*tensors, gates=gates, needs_x_grad=bool(x.requires_grad))
