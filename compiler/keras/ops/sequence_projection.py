"""``x @ kernel + bias`` over a whole sequence as ONE GEMM, with only the gradients needed.

The recurrent layers project every step's input before their time loop:
``(T, B, F) -> (T * B, F) @ (F, G) -> (T, B, G)``. Backward: ``dkernel = x^T g`` and
``dbias = sum(g)`` over the ``T * B`` rows; ``dx = g kernel^T`` only when ``x`` needs it (the
first recurrent layer's input is data, and would cost a second GEMM for nothing).
"""

from compiler.keras.ops._core import as_tensor, primitive

__all__ = ["sequence_projection"]


@primitive("sequence_projection")
def _sequence_projection(x, kernel, *bias, needs_x_grad):
    rows = x.shape[0] * x.shape[1]
    x2 = x.reshape(rows, x.shape[2])
    out = x2 @ kernel
    if bias:
        out += bias[0]
    return out.reshape(x.shape[0], x.shape[1], -1), (x.shape, x2, kernel, bool(bias),
                                                     needs_x_grad)


@_sequence_projection.defgrad
def _sequence_projection_grad(ctx, g):
    shape, x2, kernel, has_bias, needs_x_grad = ctx
    g2 = g.reshape(x2.shape[0], -1)
    dx = (g2 @ kernel.T).reshape(shape) if needs_x_grad else None
    grads = (dx, x2.T @ g2)
    return grads + ((g2.sum(axis=0),) if has_bias else ())


def sequence_projection(x, kernel, bias=None):
    """``x @ kernel (+ bias)`` for ``x`` of shape ``(T, B, F)``; returns ``(T, B, G)``."""
    x = as_tensor(x)
    if x.ndim != 3:
        raise ValueError(
            f"sequence_projection expects a (timesteps, batch, features) input. "
            f"Received: shape {tuple(x.shape)}"
        )
    tensors = (x, as_tensor(kernel)) + (() if bias is None else (as_tensor(bias),))
    return _sequence_projection(*tensors, needs_x_grad=bool(x.requires_grad))
