"""Shared machinery of the fused recurrence primitives (``rnn.py``, ``lstm.py``, ``gru.py``).

Masking follows Keras 3's ``backend.rnn`` (TensorFlow backend, ``unroll=False``): at a masked
step every state keeps its previous value; the step's output is the previous step's (masked)
output, zeros before the first unmasked step, or zeros at every masked step when
``zero_output_for_mask``; the last output is the output of the last step processed.

Arrays here are time-major, ``(timesteps, batch, units)``, and gated recurrences keep their
gates gate-major, ``(gates, timesteps, batch, units)``: every gate of every step is a contiguous
``(batch, units)`` block. Elementwise ops on column slices of a ``(batch, gates * units)`` matrix
run several times slower (one short strided loop per row), and a fresh 128 KB temporary per op
costs about as much as the op itself: the step loops reuse preallocated buffers instead.
"""

from compiler.keras.backend import xp

__all__ = [
    "ACTIVATIONS",
    "GateActivation",
    "Outputs",
    "carry",
    "gate_major",
    "from_gate_major",
    "project",
    "project_t",
    "project_grad",
    "check_activation",
    "time_major_mask",
    "dropout_masks",
]


class _Activation:
    """A numpy activation whose derivative is a function of its output ``y``."""

    def __init__(self, forward, slope):
        self.forward = forward  # (x, out) -> out, may be in place
        self.slope = slope  # y -> dy/dx

    def grad(self, y, g):
        return g * self.slope(y)


def _sigmoid(x, out):
    # sigmoid(x) = (1 + tanh(x / 2)) / 2: bounded, no overflow, one transcendental call.
    xp.multiply(x, 0.5, out=out)
    xp.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def _hard_sigmoid(x, out):
    xp.multiply(x, 1.0 / 6.0, out=out)
    out += 0.5
    return xp.clip(out, 0.0, 1.0, out=out)


def _linear(x, out):
    xp.copyto(out, x)
    return out


def _softsign(x, out):
    xp.divide(x, 1 + xp.abs(x), out=out)
    return out


ACTIVATIONS = {
    "tanh": _Activation(lambda x, out: xp.tanh(x, out=out), lambda y: 1 - y * y),
    "sigmoid": _Activation(_sigmoid, lambda y: y * (1 - y)),
    "relu": _Activation(lambda x, out: xp.maximum(x, 0, out=out), lambda y: y > 0),
    "linear": _Activation(_linear, lambda y: 1),
    "hard_sigmoid": _Activation(_hard_sigmoid, lambda y: ((y > 0) & (y < 1)) * (1.0 / 6.0)),
    "softsign": _Activation(_softsign, lambda y: (1 - xp.abs(y)) ** 2),
}


class GateActivation:
    """Applies one activation per gate of a gate-major ``(gates, batch, units)`` array, in place.

    When every gate is ``sigmoid`` or ``tanh`` (the usual LSTM / GRU case) all of them go through
    ONE ``tanh``: with ``s = 1/2, b = 1/2`` for sigmoid gates and ``s = 1, b = 0`` for tanh
    gates, ``y = s * tanh(s * z) + b``, and ``dy/dz = s^2 - (y - b)^2``.
    """

    def __init__(self, names, dtype):
        self.acts = [ACTIVATIONS[n] for n in names]
        self.fused = all(n in ("sigmoid", "tanh") for n in names)
        if self.fused:
            s = xp.array([0.5 if n == "sigmoid" else 1.0 for n in names])[:, None, None]
            self.s = s.astype(dtype)
            self.b = xp.where(s == 0.5, 0.5, 0.0).astype(dtype)
            self.s2 = (s * s).astype(dtype)

    def forward(self, z):
        if self.fused:
            z *= self.s
            xp.tanh(z, out=z)
            z *= self.s
            z += self.b
            return z
        for k, act in enumerate(self.acts):
            act.forward(z[k], z[k])
        return z

    def backward(self, y, dy, tmp):
        """``dy *= dy/dz`` in place, from the activated values ``y``; ``tmp`` is scratch."""
        if self.fused:
            xp.subtract(y, self.b, out=tmp)
            tmp *= tmp
            xp.subtract(self.s2, tmp, out=tmp)
            dy *= tmp
            return dy
        for k, act in enumerate(self.acts):
            dy[k] *= act.slope(y[k])
        return dy


class Outputs:
    """The output sequence of a recurrence with Keras's masking rule, and its gradient.

    The packed result of a scan primitive is ``(S + n_states, batch, units)``: ``S`` outputs
    (``timesteps`` with ``return_sequences``, else 1: the last output), then the final states.
    """

    def __init__(
        self, timesteps, batch, units, n_states, dtype, mask, zero_output, return_sequences
    ):
        self.timesteps = timesteps
        self.mask = mask  # (T, B, 1) bool, or None
        self.zero_output = zero_output
        self.return_sequences = return_sequences
        self.steps = timesteps if return_sequences else 1
        self.packed = xp.empty((self.steps + n_states, batch, units), dtype=dtype)
        if mask is not None:
            self.prev = xp.zeros((batch, units), dtype=dtype)
            self.mf = mask.astype(dtype)
            self.keep = 1 - self.mf

    def emit(self, t, h_new):
        """Records the output of step ``t``, whose unmasked value is ``h_new``."""
        if self.mask is None:
            value = h_new
        elif self.zero_output:
            value = h_new * self.mf[t]
        else:
            xp.copyto(self.prev, h_new, where=self.mask[t])
            value = self.prev
        if self.return_sequences:
            self.packed[t] = value
        elif t == self.timesteps - 1:
            self.packed[0] = value

    def set_states(self, states):
        for k, s in enumerate(states):
            self.packed[self.steps + k] = s

    # ----------------------------------------------------------------- backward
    def start_backward(self, grad):
        self.grad = grad
        if self.mask is not None and not self.zero_output:
            self.dprev = None
        return [grad[self.steps + k].copy() for k in range(grad.shape[0] - self.steps)]

    def grad_at(self, t):
        """Gradient with respect to the unmasked new output of step ``t`` (or ``None``)."""
        if self.return_sequences:
            g = self.grad[t]
        else:
            g = self.grad[0] if t == self.timesteps - 1 else None
        if self.mask is None:
            return g
        if self.zero_output:
            return None if g is None else g * self.mf[t]
        if self.dprev is not None:
            g = self.dprev if g is None else g + self.dprev
        if g is None:
            return None
        self.dprev = g * self.keep[t]
        return g * self.mf[t]

    def split_state_grad(self, t, dstate):
        """``(to the step's new state, to the carried previous state)`` at step ``t``."""
        if self.mask is None:
            return dstate, None
        return dstate * self.mf[t], dstate * self.keep[t]


def carry(mask_t, new, old, out):
    """``out = where(mask_t, new, old)``: a masked step keeps its previous state."""
    xp.copyto(out, old)
    xp.copyto(out, new, where=mask_t)
    return out


def gate_major(kernel, gates):
    """``(n, gates * units)`` -> contiguous ``(gates, n, units)``: one matrix per gate."""
    n, width = kernel.shape
    return xp.ascontiguousarray(kernel.reshape(n, gates, width // gates).transpose(1, 0, 2))


def from_gate_major(kernels):
    """Inverse of :func:`gate_major`: ``(gates, n, units)`` -> ``(n, gates * units)``."""
    gates, n, units = kernels.shape
    return kernels.transpose(1, 0, 2).reshape(n, gates * units)


def project(h, kernels, drop, out):
    """``h @ kernel`` per gate into ``out`` ``(gates, batch, units)``; ``kernels`` gate-major.

    With recurrent dropout, gate ``g`` sees ``h * drop[g]`` (Keras's one mask per gate).
    """
    return xp.matmul(h if drop is None else h * drop, kernels, out=out)


def project_t(d, kernels_t, drop, scratch):
    """Gradient of :func:`project` with respect to ``h``: ``sum_g (d_g @ kernel_g^T) * drop_g``.

    ``kernels_t`` is the gate-major kernel transposed per gate, made contiguous once per
    backward pass; ``scratch`` is a ``(gates, batch, units)`` buffer.
    """
    xp.matmul(d, kernels_t, out=scratch)
    if drop is not None:
        scratch *= drop
    return scratch.sum(axis=0)


def project_grad(hs, ds, drop):
    """Gradient of :func:`project` with respect to the kernel, summed over all steps at once.

    ``hs`` is ``(T, B, units_in)`` and ``ds`` ``(gates, T, B, units)``: one GEMM per gate over
    ``T * B`` rows. Returns the kernel's own layout ``(units_in, gates * units)``.
    """
    gates, steps, batch, units = ds.shape
    rows = steps * batch
    h2 = hs.reshape(rows, hs.shape[2])
    if drop is None:
        h_t = h2.T
    else:  # drop (gates, B, units_in): gate g saw h * drop[g]
        h_t = (hs[None] * drop[:, None]).reshape(gates, rows, hs.shape[2]).transpose(0, 2, 1)
    return from_gate_major(xp.matmul(h_t, ds.reshape(gates, rows, units)))


def check_activation(name, what):
    if name not in ACTIVATIONS:
        raise ValueError(
            f"Fused recurrences support {what} in {sorted(ACTIVATIONS)}. Received: {name!r}"
        )
    return name


def time_major_mask(mask, timesteps, batch):
    """A ``(T, B)`` boolean step mask as the ``(T, B, 1)`` array the scans broadcast with."""
    if mask is None:
        return None
    mask = xp.asarray(getattr(mask, "data", mask)).astype(bool)
    if mask.shape != (timesteps, batch):
        raise ValueError(
            f"The step mask of a recurrence must have shape (timesteps, batch) = "
            f"{(timesteps, batch)}. Received: mask.shape={mask.shape}"
        )
    return mask[:, :, None]


def dropout_masks(masks, count, batch, units, dtype):
    """Recurrent-dropout masks as a ``(count, B, units)`` array (``None`` when off)."""
    if masks is None:
        return None
    arr = xp.asarray(getattr(masks, "data", masks), dtype=dtype)
    if arr.ndim == 2:
        arr = xp.broadcast_to(arr, (count, *arr.shape))
    if arr.shape != (count, batch, units):
        raise ValueError(
            f"Recurrent dropout masks must have shape {(count, batch, units)} (or "
            f"{(batch, units)} for one mask shared by all gates). Received: {arr.shape}"
        )
    return arr
