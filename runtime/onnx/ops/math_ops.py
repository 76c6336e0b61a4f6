"""Arithmetic ops outside the element-wise core: Mod, Round, IsNaN, IsInf, Det, CumSum, CumProd
(onnx.ai/onnx/operators).

Mod follows the spec's two roundings: ``fmod=0`` floors the quotient (result has B's sign,
numpy's ``mod``), ``fmod=1`` truncates it (result has A's sign, C's ``fmod``). An integer
modulo by zero has no defined result (onnxruntime's C++ would trap), so it is refused.
"""

import numpy as np

from runtime._fperrors import quiet
from runtime.errors import InvalidModelError
from runtime.onnx._types import EXOTIC_FLOATS
from runtime.onnx.ops._common import axis_index, broadcast_size, ints


def Mod(A, B, *, fmod=0):
    if fmod not in (0, 1):
        raise InvalidModelError(f"Mod: fmod must be 0 or 1; received {fmod}")
    if A.dtype != B.dtype:
        raise InvalidModelError(f"Mod: inputs have different element types {A.dtype}, {B.dtype}")
    broadcast_size("Mod", A, B)
    if A.dtype.kind in "iu":
        if np.any(B == 0):
            raise InvalidModelError("Mod: integer modulo by zero")
        return np.asarray(np.fmod(A, B) if fmod else np.mod(A, B), dtype=A.dtype)
    with quiet():
        return np.asarray(np.fmod(A, B) if fmod else np.mod(A, B), dtype=A.dtype)


def Mod_10(A, B, *, fmod=0):
    """Mod before opset 28: floating-point inputs require fmod=1 (onnxruntime refuses others)."""
    if (A.dtype.kind == "f" or A.dtype in EXOTIC_FLOATS) and not fmod:
        raise InvalidModelError("Mod: floating-point inputs need fmod=1 before opset 28")
    return Mod(A, B, fmod=fmod)


def Round(X):
    # Halves go to the even neighbour, as the spec asks (numpy's rint).
    return np.asarray(np.rint(X), dtype=X.dtype)


def IsNaN(X):
    return np.asarray(np.isnan(X))


def IsInf(X, *, detect_negative=1, detect_positive=1):
    inf = np.isinf(X)
    if not detect_negative:
        inf &= X > 0
    if not detect_positive:
        inf &= X < 0
    return np.asarray(inf)


def Det(X):
    if X.ndim < 2 or X.shape[-1] != X.shape[-2]:
        raise InvalidModelError(f"Det: input {list(X.shape)} is not a batch of square matrices")
    # numpy's LAPACK path has no float16: compute in float32 and round once.
    work = X.astype(np.float32) if X.dtype == np.float16 else X
    return np.asarray(np.linalg.det(work), dtype=X.dtype)


def _axis(axis, rank: int, op: str) -> int:
    values = ints(axis)
    if len(values) != 1 or np.ndim(axis) > 1:
        raise InvalidModelError(f"{op}: axis must be a scalar; received shape {np.shape(axis)}")
    return axis_index(values[0], max(rank, 1), op)


def _cumulate(op, ufunc, identity, x, axis, exclusive, reverse):
    if x.ndim == 0:
        raise InvalidModelError(f"{op}: input must have rank >= 1")
    a = _axis(axis, x.ndim, op)
    y = np.flip(x, a) if reverse else x
    y = ufunc.accumulate(y, axis=a, dtype=x.dtype)
    if exclusive and y.shape[a]:
        # Each position gets the result of the ones before it; the first gets the identity.
        head = np.full_like(np.take(y, [0], axis=a), identity)
        y = np.concatenate([head, np.take(y, np.arange(y.shape[a] - 1), axis=a)], axis=a)
    return np.ascontiguousarray(np.flip(y, a) if reverse else y)


def CumSum(x, axis, *, exclusive=0, reverse=0):
    return _cumulate("CumSum", np.add, 0, x, axis, exclusive, reverse)


def CumProd(x, axis, *, exclusive=0, reverse=0):
    return _cumulate("CumProd", np.multiply, 1, x, axis, exclusive, reverse)
