"""Element-wise arithmetic, comparison and logic ops, with numpy (multidirectional) broadcasting.

Spec: onnx.ai/onnx/operators (Add, Sub, Mul, Div, Pow, Max, Min, Sum, Mean, Abs, Neg, Exp, Log,
Sqrt, Reciprocal, Floor, Ceil, Sign, Erf, Less, Greater, Equal, LessOrEqual, GreaterOrEqual, And,
Or, Xor, Not, Where, MatMul, Gemm). Results keep the inputs' element type, as ONNX requires.
"""

import math

import numpy as np

from runtime._fperrors import quiet
from runtime.errors import InvalidModelError
from runtime.onnx.ops._common import broadcast_size, check_size, matmul_shape


def _same_type(op, *xs):
    types = {x.dtype for x in xs}
    if len(types) > 1:
        raise InvalidModelError(
            f"{op}: inputs have different element types {sorted(map(str, types))}"
        )


def _broadcast(op, *xs):
    """Same element type, and a broadcast result within the run's tensor limit."""
    _same_type(op, *xs)
    broadcast_size(op, *xs)


def _within(a, b) -> bool:
    """Whether ``b`` broadcasts into ``a``'s shape without growing it (each of its dims, aligned
    on ``a``'s last ones, 1 or ``a``'s: one element, ``a``'s trailing dims, a per-channel
    [1, C, 1, 1]), for two arrays of one dtype: the result is then no larger than ``a``, which
    the run already holds, and needs no check before it is made."""
    if type(a) is not np.ndarray or type(b) is not np.ndarray or a.dtype != b.dtype:
        return False
    shape, other = a.shape, b.shape
    if other == shape or (b.size == 1 and b.ndim <= a.ndim):
        return True
    if b.ndim > a.ndim:
        return False
    tail = shape[a.ndim - b.ndim :]
    return other == tail or all(o == 1 or o == d for o, d in zip(other, tail, strict=True))


def _arith(op, ufunc, a, b, in_place=False, into_second=False):
    if _within(a, b):
        if in_place and a.size >= _FILL_FROM and a.flags.writeable:
            return ufunc(a, b, out=a)
        if into_second and b.shape == a.shape:
            return _into(ufunc, a, b)
        return ufunc(a, b)
    if not _within(b, a):
        _broadcast(op, a, b)
        return ufunc(a, b, dtype=a.dtype)
    if into_second:
        return _into(ufunc, a, b)
    return ufunc(a, b)


def _into(ufunc, a, b):
    """``ufunc(a, b)`` for ``a`` broadcasting into ``b`` (an array of its dtype), written into
    a large writable ``b``: each element is read before it is written, the same bits."""
    if b.size >= _FILL_FROM and b.flags.writeable:
        return ufunc(a, b, out=b)
    return ufunc(a, b)


# numpy's maximum and minimum of an array and one value take a scalar loop several times
# slower than their vectorized loop over two arrays (numpy 2 on AVX2): from this many elements,
# the value is filled into an array first.
_FILL_FROM = 2048


def extremum(ufunc, x, c):
    """``ufunc(x, c)`` (np.maximum or np.minimum) for an array ``x`` and a 0-d ``c`` of its
    dtype: the same values, through the vectorized loop."""
    if x.size < _FILL_FROM or type(x) is not np.ndarray:
        return ufunc(x, c)
    filled = np.empty_like(x)  # (x's memory layout: a Conv's may be channels-last)
    filled.fill(c)
    return ufunc(x, filled, out=filled)


# relu_in_place's zeros, one read-only buffer of this many elements per dtype: small enough
# to stay in cache, large enough that the loop over chunks costs little.
_CHUNK = 1 << 16
_ZEROS: dict = {}
_ZERO: dict = {}  # (and a 0-d read-only zero per dtype: a new one costs more than a small max)


def relu_in_place(y):
    """max(y, 0) written into ``y``, a fresh writable array nothing else reads, and returned:
    numpy's two-array maximum (``extremum``'s vectorized loop, the same bits) against a small
    zeros buffer, chunk by chunk; no new array (its fresh pages cost as much as the pass)."""
    dense = _dense(y) if y.size >= _FILL_FROM and y.flags.writeable else None
    if dense is None:
        zero = _ZERO.get(y.dtype)
        if zero is None:
            zero = _ZERO[y.dtype] = np.zeros((), dtype=y.dtype)
            zero.flags.writeable = False
        return extremum(np.maximum, y, zero)
    zeros = _ZEROS.get(y.dtype)
    if zeros is None:
        zeros = np.zeros(_CHUNK, dtype=y.dtype)
        zeros.flags.writeable = False
        _ZEROS[y.dtype] = zeros
    flat = dense.reshape(-1)  # (a view: dense is C-contiguous)
    for start in range(0, flat.size, _CHUNK):
        chunk = flat[start : start + _CHUNK]
        np.maximum(chunk, zeros[: chunk.size], out=chunk)
    return y


def _dense(y):
    """``y`` with its axes ordered so that it is C-contiguous (a Conv's channels-last output
    is a transposed contiguous array), or None when no order is (a view with gaps)."""
    if type(y) is not np.ndarray:
        return None
    if y.flags.c_contiguous:
        return y
    t = y.transpose(np.argsort(y.strides, kind="stable")[::-1])
    return t if t.flags.c_contiguous else None


def _binary(ufunc, a, b):
    """``ufunc(a, b)`` for ``b`` broadcasting into ``a`` (``_within``); one value as 0-d."""
    if b.size == 1 and b.ndim <= a.ndim:
        b = b.reshape(())
        if ufunc is np.maximum or ufunc is np.minimum:
            return extremum(ufunc, a, b)
    return ufunc(a, b)


# ``_in_place`` / ``_into_second`` (bound at load by ``runtime.onnx._plan``; no file attribute
# can set them): ``a`` / ``b`` is a fresh result of this run that nothing else reads, so a large
# one may be overwritten (a new large array costs its pages as much as the arithmetic).


def Add(a, b, *, _in_place=False, _into_second=False):
    return _arith("Add", np.add, a, b, _in_place, _into_second)


def Sub(a, b, *, _in_place=False, _into_second=False):
    return _arith("Sub", np.subtract, a, b, _in_place, _into_second)


def Mul(a, b, *, _in_place=False, _into_second=False):
    return _arith("Mul", np.multiply, a, b, _in_place, _into_second)


def Div(a, b, *, _in_place=False, _into_second=False):
    if a.dtype.kind == "f" and (_within(a, b) or _within(b, a)):
        return _arith("Div", np.divide, a, b, _in_place, _into_second)
    _broadcast("Div", a, b)
    if a.dtype.kind in "iu":
        # C++ integer division truncates toward zero; numpy's // floors.
        if np.any(b == 0):
            raise InvalidModelError("Div: integer division by zero")
        q = np.floor_divide(a, b)
        fix = (np.remainder(a, b) != 0) & ((a < 0) != (b < 0))
        return (q + fix).astype(a.dtype)
    return np.divide(a, b, dtype=a.dtype)


def Pow(x, y):
    if x.dtype.kind == "f" and type(y) is np.ndarray and y.size == 1 and y.ndim <= x.ndim:
        # A constant exponent: x * x for 2 (what a layer norm's variance squares with), the
        # same float result as power's and a tenth of its cost.
        e = y.reshape(()).item() if y.dtype.kind in "fiu" else None
        if e == 2:
            return np.multiply(x, x)
        return np.power(x, y.astype(x.dtype).reshape(()))
    broadcast_size("Pow", x, y)
    if x.dtype.kind == "f":
        return np.power(x, y.astype(x.dtype)).astype(x.dtype)
    return np.power(x.astype(np.float64), y.astype(np.float64)).astype(x.dtype)


def _variadic(op, fn, xs):
    if len(xs) == 2:
        a, b = xs
        if _within(a, b):
            return _binary(fn, a, b)
        if _within(b, a) and fn is not np.add:  # (maximum and minimum commute; add too, but
            return _binary(fn, b, a)  # not bit for bit with NaNs of different payloads)
    if not xs:
        raise InvalidModelError(f"{op}: needs at least one input")
    _broadcast(op, *xs)
    result = xs[0]
    for x in xs[1:]:
        result = fn(result, x)
    return result.astype(xs[0].dtype, copy=False)


def Max(*xs):
    return _variadic("Max", np.maximum, xs)


def Min(*xs):
    return _variadic("Min", np.minimum, xs)


def Sum(*xs):
    return _variadic("Sum", np.add, xs)


def Mean(*xs):
    return (_variadic("Mean", np.add, xs) / len(xs)).astype(xs[0].dtype)


def Abs(x):
    return np.abs(x)


def Neg(x):
    return np.negative(x)


def Exp(x):
    return np.exp(x)


# log(0), sqrt(-1), 1/0 give -inf, NaN, inf silently in onnxruntime's C: no warning here
# either (quiet: numpy's error state without np.errstate's per-call cost).


def Log(x):
    with quiet():
        return np.log(x)


def Sqrt(x):
    with quiet():
        return np.sqrt(x)


def Reciprocal(x):
    with quiet():
        return np.reciprocal(x)


def Floor(x):
    return np.floor(x)


def Ceil(x):
    return np.ceil(x)


def Sign(x):
    if x.dtype == np.float16:
        # onnxruntime's float16 Sign compares (x > 0: 1, x < 0: -1, else 0): NaN gives 0
        # (its float and double kernels keep NaN, as np.sign)
        return np.where(np.isnan(x), np.float16(0), np.sign(x))
    return np.sign(x)


# math.erf per element: numpy has no erf, and this op is rare enough to favour exactness.
_erf = np.frompyfunc(math.erf, 1, 1)


def Erf(x):
    return _erf(x.astype(np.float64)).astype(x.dtype) if x.size else x.copy()


def Less(a, b):
    if not (_within(a, b) or _within(b, a)):
        broadcast_size("Less", a, b)
    return np.less(a, b)


def Greater(a, b):
    if not (_within(a, b) or _within(b, a)):
        broadcast_size("Greater", a, b)
    return np.greater(a, b)


def LessOrEqual(a, b):
    if not (_within(a, b) or _within(b, a)):
        broadcast_size("LessOrEqual", a, b)
    return np.less_equal(a, b)


def GreaterOrEqual(a, b):
    if not (_within(a, b) or _within(b, a)):
        broadcast_size("GreaterOrEqual", a, b)
    return np.greater_equal(a, b)


def Equal(a, b):
    if not (_within(a, b) or _within(b, a)):
        broadcast_size("Equal", a, b)
    return np.equal(a, b)


def And(a, b):
    broadcast_size("And", a, b)
    return np.logical_and(a, b)


def Or(a, b):
    broadcast_size("Or", a, b)
    return np.logical_or(a, b)


def Xor(a, b):
    broadcast_size("Xor", a, b)
    return np.logical_xor(a, b)


def Not(x):
    return np.logical_not(x)


def Where(condition, x, y):
    _same_type("Where", x, y)
    broadcast_size("Where", condition, x, y)
    return np.where(condition, x, y)


# Element types whose product numpy hands to BLAS (ndarray.dot and matmul: the same gemm).
_BLAS_TYPES = "fd"


def MatMul(a, b):
    if (
        type(a) is np.ndarray
        and type(b) is np.ndarray
        and b.ndim == 2
        and a.ndim >= 2
        and a.dtype.char in _BLAS_TYPES
        and a.dtype == b.dtype
    ):
        y = _matmul_2d_right(a, b)
        if y is not None:
            return y
    return _matmul(a, b)


def _matmul_2d_right(a, b):
    """``a @ b`` for a float ``a`` of rank >= 2 and a 2-D ``b`` of its type, or None where the
    general path decides (inner dims that differ or are 0). The result is ``a``'s rows times
    ``b``'s columns: no size check where that is no more than an operand the run holds (as
    Gemm's), and no broadcast of batch dims to work out. One matrix (leading dims of 1) goes
    through ndarray.dot as a 2-D product: numpy's matmul's gemm without its batch loop, the
    same bits. A batch of matrices stays with matmul (one taller product would round some
    sums differently)."""
    k, n = b.shape
    shape = a.shape
    if shape[-1] != k or not k:
        return None
    rows = a.size // k
    if rows * n > max(a.size, b.size):
        check_size(shape[:-1] + (n,), "MatMul", a.dtype.itemsize)
    if rows != shape[-2]:
        return np.matmul(a, b)
    if a.ndim == 2:
        return a.dot(b)
    return a.reshape(rows, k).dot(b).reshape(shape[:-1] + (n,))


def _matmul(a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise InvalidModelError("MatMul: inputs must have rank >= 1")
    _same_type("MatMul", a, b)
    check_size(matmul_shape(a.shape, b.shape), "MatMul", a.dtype.itemsize)
    y = np.matmul(a, b)
    # ml_dtypes' bfloat16 matmul accumulates in float32 and returns float32; ONNX keeps T.
    return y if y.dtype == a.dtype else y.astype(a.dtype)


def Gemm(a, b, c=None, *, alpha=1.0, beta=1.0, transA=0, transB=0, _relu=False):
    """``_relu`` (bound at load by ``runtime.onnx._plan``, no file attribute can set it): a
    Relu that only this Gemm's output fed, applied to the fresh result."""
    y = _gemm(a, b, c, alpha, beta, transA, transB)
    if _relu:
        if y.dtype.kind == "u":  # (Gemm takes unsigned types, Relu does not)
            raise InvalidModelError(f"Relu (after Gemm): element type {y.dtype} is not allowed")
        return relu_in_place(y)
    return y


def _gemm(a, b, c, alpha, beta, transA, transB):
    if a.ndim != 2 or b.ndim != 2:
        raise InvalidModelError(f"Gemm: A and B must be 2-D; received {a.shape} and {b.shape}")
    a = a.T if transA else a
    b = b.T if transB else b
    (m, k), (k2, n) = a.shape, b.shape
    if k != k2:
        raise InvalidModelError(f"Gemm: inner dims differ: {list(a.shape)} and {list(b.shape)}")
    if m * n > max(a.size, b.size):  # (else no larger than an operand the run holds)
        check_size((m, n), "Gemm", a.dtype.itemsize)
    y = np.dot(a, b)  # (2-D: the same BLAS product as matmul, with less dispatch)
    if alpha != 1.0:
        y *= np.asarray(alpha, dtype=y.dtype)
    if c is not None:
        c = c if beta == 1.0 else c * np.asarray(beta, dtype=c.dtype)
        if c.dtype == y.dtype and (c.shape == (n,) or _within(y, c)):
            y += c  # (y is the matmul's fresh result; a bias of one value per column fits)
        else:
            y = y + c
    # (astype(copy=False) costs more than the comparison on a one-row head)
    return y if y.dtype == a.dtype else y.astype(a.dtype)
