"""``x @ kernel + bias`` over a whole sequence as ONE GEMM, with only the gradients needed.

The recurrent layers project every step's input before their time loop:
``(T, B, F) -> (T * B, F) @ (F, G * U) -> (T, B, G * U)``, or gate-major ``(G, T, B, U)``
with ``gates=G`` (one GEMM per gate, each gate of each step a contiguous block, as the gated
scans want it). Backward: ``dkernel = x^T g`` and ``dbias = sum(g)`` over the ``T * B`` rows;
``dx = g kernel^T`` only when ``x`` needs it (the first recurrent layer's input is data, and
would cost a second GEMM for nothing).
"""

from compiler.keras.backend import xp
from compiler.keras.ops._core import as_tensor, primitive
from compiler.keras.ops._recurrent import from_gate_major, gate_major

__all__ = ["sequence_projection"]


@primitive("sequence_projection")
def _sequence_projection(x, kernel, *bias, gates, needs_x_grad):
    steps, batch, features = x.shape
    rows = steps * batch
    # The bias rides in the GEMM as one more input column of ones: adding it to the (T * B, G * U)
    # result, and summing the gradient over its rows, would each cost a pass over that result.
    x2 = xp.empty((rows, features + 1), dtype=x.dtype)
    x2[:, :features] = x.reshape(rows, features)
    x2[:, features] = 1
    weights = xp.concatenate([kernel, bias[0][None] if bias else xp.zeros_like(kernel[:1])])
    if gates is None:
        out = (x2 @ weights).reshape(steps, batch, -1)
    else:
        out = (x2 @ gate_major(weights, gates)).reshape(gates, steps, batch, -1)
    return out, (x.shape, x2, kernel, gates, bool(bias), needs_x_grad)


@_sequence_projection.defgrad
def _sequence_projection_grad(ctx, g):
    shape, x2, kernel, gates, has_bias, needs_x_grad = ctx
    rows = x2.shape[0]
    dx = None
    if gates is None:
        g2 = g.reshape(rows, -1)
        dweights = x2.T @ g2
        if needs_x_grad:
            dx = (g2 @ kernel.T).reshape(shape)
    else:
        g2 = g.reshape(gates, rows, -1)
        dweights = from_gate_major(x2.T @ g2)
        if needs_x_grad:
            dx = (g2 @ gate_major(kernel, gates).transpose(0, 2, 1)).sum(axis=0).reshape(shape)
    return (dx, dweights[:-1]) + ((dweights[-1],) if has_bias else ())


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
