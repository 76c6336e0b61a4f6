"""What the recurrent kernels share: gate activations, W*x for float or hybrid int8 weights,
constant vectors, time-major views and state checks.

References: ``tflite/kernels/internal/kernel_utils.cc``, ``portable_tensor_utils.cc``
(``MatrixBatchVectorMultiplyAccumulate``, ``ApplyActivationToVector``). In the hybrid
(dynamic-range) kernels x is quantized per batch row, symmetrically or asymmetrically, and each
int8 dot product is scaled by input_scale * weight_scale in float32 before it is accumulated.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels._hybrid import quantize_rows_asymmetric, quantize_rows_symmetric
from runtime.tflite.schema import ActivationFunctionType as Act


def activation(act: int):
    """``tensor_utils::ApplyActivationToVector``: unlike a fused activation's
    ``CalculateActivationRange`` clamp, NONE leaves +-inf, RELU is ``std::max(0.0f, x)`` (no
    upper bound), RELU6 and RELU_N1_TO_1 ``std::max(lo, std::min(x, hi))``: a NaN gives lo."""
    if act == Act.NONE:
        return lambda v: v
    if act == Act.TANH:
        return lambda v: np.tanh(v.astype(np.float64)).astype(np.float32)
    if act == Act.SIGN_BIT:
        return lambda v: np.signbit(v).astype(np.float32)
    return vector_clamp(act)


def vector_clamp(act: int):
    """RELU, RELU6 or RELU_N1_TO_1 as ``ApplyActivationToVector``: ``std::min(x, hi)`` keeps a
    NaN, then ``std::max(lo, .)`` (``lo < x ? x : lo``) turns it into lo."""
    lo, hi = (np.float32(v) for v in c.activation_range_float(act))
    top = None if act == Act.RELU else hi

    def clamp(v):
        if top is not None:
            v = np.where(top < v, top, v)
        return np.where(lo < v, v, lo).astype(np.float32)

    return clamp


def sigmoid(v):
    with np.errstate(over="ignore"):
        e = np.exp(-v.astype(np.float64)).astype(np.float32)
    return (np.float32(1) / (np.float32(1) + e)).astype(np.float32)


class MatVec:
    """W * x accumulated into a float32 buffer, float or hybrid (int8 W, per-row quantized x)."""

    def __init__(self, ctx, k: int, rows: int | None, cols: int | None, asymmetric: bool):
        w = ctx.constant(k)
        t = ctx.inputs[k]
        if w is None:
            raise ctx.unsupported(f"input {k} ({t.name!r}) must be a constant tensor")
        if (
            w.ndim != 2
            or (rows is not None and w.shape[0] != rows)
            or (cols is not None and w.shape[1] != cols)
        ):
            raise ctx.fail(
                f"input {k} ({t.name!r}) has shape {list(w.shape)}, expected [{rows}, {cols}]"
            )
        self.shape = w.shape
        self.asymmetric = asymmetric
        self.hybrid = t.type == c.I8
        if self.hybrid:
            q = t.quantization
            if q is None or len(q.scale) != 1 or q.zero_point[0] != 0:
                raise ctx.unsupported(
                    f"hybrid weights {t.name!r} must be per-tensor with zero point 0"
                )
            self.scale = np.float32(q.scale[0])
            self.w_t = np.ascontiguousarray(w.T.astype(np.float64))
            self.row_sums = w.astype(np.int64).sum(axis=1)
        elif t.type == c.F32:
            self.w_t = np.ascontiguousarray(w.T.astype(np.float32))
        else:
            raise ctx.unsupported(f"weights {t.name!r} of type {t.type} not supported")

    def quantize(self, x):
        if self.asymmetric:
            return quantize_rows_asymmetric(x)
        q, sf = quantize_rows_symmetric(x)
        return q, sf, np.zeros(len(sf), np.int32)

    def accumulate(self, acc, x, quantized=None):
        if not self.hybrid:
            acc += x @ self.w_t
            return
        q, sf, offset = quantized if quantized is not None else self.quantize(x)
        dot = (q.astype(np.float64) @ self.w_t).astype(np.int64)
        dot -= self.row_sums[None, :] * offset[:, None].astype(np.int64)
        acc += dot.astype(np.float32) * (sf * self.scale)[:, None].astype(np.float32)


def constant_vector(ctx, k, n, what):
    if k >= len(ctx.inputs) or ctx.inputs[k] is None:
        return None
    v = ctx.constant(k)
    if v is None or v.size != n:
        raise ctx.fail(f"{what} (input {k}) must be a constant of {n} elements")
    t = ctx.inputs[k]
    if t.type == c.I8:
        q = t.quantization
        if q is None:
            raise ctx.fail(f"{what} (input {k}) is int8 without quantization")
        return (v.astype(np.float32) * np.float32(q.scale[0])).astype(np.float32)
    return v.astype(np.float32)


def time_major_view(x, time_major):
    if x.ndim != 3:
        raise ValueError(f"input must be 3-D, has shape {list(x.shape)}")
    return x if time_major else np.swapaxes(x, 0, 1)


def state_view(ctx, state, batch, n, what):
    if state.size != batch * n:
        raise ctx.fail(f"{what} holds {state.size} values, expected batch {batch} x {n}")
    return state.reshape(batch, n)
