"""Activations: Relu, LeakyRelu, PRelu, Clip, Sigmoid, HardSigmoid, HardSwish, Gelu, Tanh, Elu,
Selu, Softplus, Mish, Softsign, Softmax, LogSoftmax (onnx.ai/onnx/operators), in the input's type.
"""

import builtins
import math
import threading

import numpy as np

from runtime.errors import InvalidModelError
from runtime.onnx.ops._common import axis_index
from runtime.onnx.ops.elementwise import extremum

# 0 and 1 as read-only 0-d arrays, by dtype: made once (np.zeros((), t) costs more than a
# small head's arithmetic), and arrays rather than scalars (a scalar is converted per use).
_ZERO_ONE: dict = {}


def _zero_one(dtype) -> tuple[np.ndarray, np.ndarray]:
    pair = _ZERO_ONE.get(dtype)
    if pair is None:
        pair = (np.zeros((), dtype), np.ones((), dtype))
        for a in pair:
            a.flags.writeable = False
        _ZERO_ONE[dtype] = pair
    return pair


def Relu(x):
    return extremum(np.maximum, x, _zero_one(x.dtype)[0])


def LeakyRelu(x, *, alpha=0.01):
    a = np.asarray(alpha, dtype=x.dtype)
    if x.dtype.kind == "f" and 0 <= a <= 1:
        # max(x, a * x) is x for x >= 0 and a * x below (NaN stays NaN): the same values as
        # the spec's select, in two passes instead of four.
        y = x * a
        return np.maximum(x, y, out=y) if type(y) is np.ndarray else np.maximum(x, y)
    return np.where(x >= 0, x, x * a)


def PRelu(x, slope):
    return np.where(x >= 0, x, x * slope).astype(x.dtype, copy=False)


def Clip(x, min=None, max=None, *, _bounds=None):  # noqa: A002 - ONNX input names
    """``_bounds``: ``clip_bounds`` of constant min and max, bound at load."""
    if _bounds is not None:
        lo, hi, rank = _bounds
        if x.dtype == lo.dtype and x.ndim >= rank:
            return _clip(x, lo, hi)
    if (
        min is not None
        and max is not None
        and min.size == 1
        and max.size == 1
        and x.dtype.kind == "f"
        and x.ndim >= builtins.max(min.ndim, max.ndim)
    ):
        lo = (min if min.dtype == x.dtype else min.astype(x.dtype)).reshape(())
        hi = (max if max.dtype == x.dtype else max.astype(x.dtype)).reshape(())
        flo, fhi = float(lo), float(hi)
        if flo == flo and fhi == fhi:
            return _clip(x, lo, hi)
    if x.dtype.kind == "f" and (min is None or max is None):
        # The spec's defaults are the type's lowest and largest finite values (onnxruntime's
        # too): an infinite input becomes finite.
        info = np.finfo(x.dtype)
        min = np.asarray(info.min, x.dtype) if min is None else min  # noqa: A001
        max = np.asarray(info.max, x.dtype) if max is None else max  # noqa: A001
        return Clip(x, min, max)
    # onnxruntime clips with Eigen's cwiseMax(lo).cwiseMin(hi), std::max / std::min, which
    # keep x when a bound is NaN: a NaN bound clips nothing (np.maximum would give NaN).
    if min is not None and not _nan_bound(min):
        x = _bound(np.maximum, x, min.astype(x.dtype, copy=False))
    if max is not None and not _nan_bound(max):
        x = _bound(np.minimum, x, max.astype(x.dtype, copy=False))
    return x


def _nan_bound(bound):
    return bound.dtype.kind == "f" and bound.size == 1 and bool(np.isnan(bound).all())


def clip_bounds(lo, hi) -> tuple | None:
    """Clip's constant bounds as ``Clip`` takes them bound (0-d lo, 0-d hi, the rank they
    broadcast from), or None unless both are one float value of one dtype, not NaN."""
    if type(lo) is not np.ndarray or type(hi) is not np.ndarray:
        return None
    if lo.dtype != hi.dtype or lo.dtype.kind != "f" or lo.size != 1 or hi.size != 1:
        return None
    lo0, hi0 = lo.reshape(()), hi.reshape(())
    if float(lo0) != float(lo0) or float(hi0) != float(hi0):
        return None
    return lo0, hi0, builtins.max(lo.ndim, hi.ndim)


def _clip(x, lo, hi):
    """min(max(x, lo), hi) for a float ``x`` and 0-d bounds of its dtype, not NaN."""
    if x.size < _SCALAR_BELOW and x.ndim:
        # numpy's clip computes this, through wrappers that cost more than a small x's pass
        y = np.maximum(x, lo)
        return np.minimum(y, hi, out=y)
    # numpy's clip: min(max(x, lo), hi) in one vectorized pass
    return np.asarray(np.clip(x, lo, hi))


def _bound(ufunc, x, c):
    if c.size == 1 and c.ndim <= np.ndim(x):
        return extremum(ufunc, x, c.reshape(()))
    return ufunc(x, c)


def Clip_6(x, *, min=-3.4028234663852886e38, max=3.4028234663852886e38):  # noqa: A002
    """Clip before opset 11: bounds are attributes (a NaN one clips nothing, as in Clip)."""
    return Clip(x, np.asarray(min, dtype=x.dtype), np.asarray(max, dtype=x.dtype))


def Sigmoid(x):
    if x.dtype == np.float16:  # (numpy's float16 exp is emulated: ten times slower)
        return Sigmoid(x.astype(np.float32)).astype(np.float16)
    # Stable for both signs: exp never sees a large positive argument. (0-d arrays of x's
    # type: a Python scalar costs a conversion per operation, more than a small x's arithmetic)
    zero, one = _zero_one(x.dtype)
    e = np.exp(-np.abs(x))
    # 1 / (1 + e) for x >= 0, e / (1 + e) below (and for NaN): the numerator chosen first,
    # one division instead of two
    return np.divide(np.where(x >= zero, one, e), one + e)


def HardSigmoid(x, *, alpha=0.2, beta=0.5):
    y = x * np.asarray(alpha, x.dtype) + np.asarray(beta, x.dtype)
    if type(y) is np.ndarray and y.dtype.char in "fd":
        # numpy's clip to [0, 1] without its wrappers, in y (a new array): the same bits, NaN
        # kept and max(0, -0) = 0 (float16's loops order signed zeros otherwise: np.clip)
        zero, one = _zero_one(y.dtype)
        np.maximum(zero, y, out=y)
        return np.minimum(y, one, out=y)
    return np.clip(y, 0, 1).astype(x.dtype)


def HardSwish(x):
    return (x * HardSigmoid(x, alpha=1 / 6, beta=0.5)).astype(x.dtype, copy=False)


def Gelu(x, *, approximate="none"):
    if approximate == "tanh":
        inner = np.sqrt(2 / np.pi) * (x.astype(np.float64) + 0.044715 * x.astype(np.float64) ** 3)
        return (0.5 * x * (1 + np.tanh(inner))).astype(x.dtype)
    if approximate != "none":
        raise InvalidModelError(f"Gelu: approximate {approximate!r} is not 'none' or 'tanh'")
    erf = np.frompyfunc(math.erf, 1, 1)
    wide = x.astype(np.float64)
    return (0.5 * wide * (1 + erf(wide / np.sqrt(2)).astype(np.float64))).astype(x.dtype)


def Tanh(x, *, _in_place=False):
    """``_in_place`` (bound at load by ``runtime.onnx._plan``; no file attribute can set it):
    ``x`` is a fresh result of this run that nothing else reads, so a large one is
    overwritten (its new pages would cost a large part of the pass)."""
    if _in_place and type(x) is np.ndarray and x.size >= _SCALAR_BELOW and x.flags.writeable:
        return np.tanh(x, out=x)
    return np.tanh(x)


def Elu(x, *, alpha=1.0):
    return np.where(x > 0, x, np.asarray(alpha, x.dtype) * np.expm1(np.minimum(x, 0))).astype(
        x.dtype
    )


def Selu(x, *, alpha=1.67326319217681884765625, gamma=1.05070102214813232421875):
    y = np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))
    return (gamma * y).astype(x.dtype)


def Softplus(x):
    return (np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))).astype(x.dtype)


def Mish(x):
    """x * tanh(softplus(x)) (opset 18)."""
    return (x * np.tanh(Softplus(x.astype(np.float64)))).astype(x.dtype)


def Softsign(x):
    return (x / (1 + np.abs(x))).astype(x.dtype)


def Softmax(x, *, axis=-1):
    axis = axis_index(axis, x.ndim, "Softmax")
    # (the ufuncs' reductions and in-place steps: the same values as x.max / exp / e / sum,
    # without the methods' wrappers and a third array: a classifier head's Softmax is small)
    e = np.subtract(x, np.maximum.reduce(x, axis=axis, keepdims=True))
    np.exp(e, out=e)
    e /= np.add.reduce(e, axis=axis, keepdims=True)
    return e


def LogSoftmax(x, *, axis=-1):
    axis = axis_index(axis, x.ndim, "LogSoftmax")
    if x.dtype == np.float16:
        # in float32, as onnxruntime's float16 kernel (float16 sums were off by 4e-3)
        return LogSoftmax(x.astype(np.float32), axis=axis).astype(np.float16)
    shifted = x - x.max(axis=axis, keepdims=True)
    total = np.exp(shifted).sum(axis=axis, keepdims=True)
    if x.dtype == np.float64:
        # onnxruntime's double kernel (SoftmaxCPU) takes log(fmax(sum, 1e-20f)): the NaN sum
        # of a row with +inf gives -46.05, so its finite values become -inf there, not NaN.
        # (A sum is at least 1 otherwise; one fmax over the sums.)
        total = np.fmax(total, _LOG_SOFTMAX_FLOOR)
    return shifted - np.log(total)


_LOG_SOFTMAX_FLOOR = np.float64(np.float32(1e-20))


def _flattened(fn, x, axis, op):
    """Before opset 13 the op works on x flattened to 2-D at ``axis``."""
    axis = axis_index(axis, x.ndim, op) if x.ndim else 0
    rows = int(np.prod(x.shape[:axis]))
    return fn(x.reshape(rows, -1), axis=1).reshape(x.shape)


def Softmax_1(x, *, axis=1):
    return _flattened(Softmax, x, axis, "Softmax")


def LogSoftmax_1(x, *, axis=1):
    return _flattened(LogSoftmax, x, axis, "LogSoftmax")


def Shrink(input, *, bias=0.0, lambd=0.5):
    """x + bias below -lambd, x - bias above lambd, 0 between (onnx__Shrink)."""
    x = input
    y = np.where(x < -lambd, x + bias, np.where(x > lambd, x - bias, 0))
    return y.astype(x.dtype, copy=False)


# in_place_steps' scratch buffers and filled constants: this many elements, chunk by chunk,
# so that a small Conv's output is one chunk (each ufunc call costs microseconds) and a large
# one stays in cache between the steps.
_STEP_CHUNK = 1 << 16
# The scratch buffers, one per dtype and thread (``scratch``: runs of one session may overlap
# in several threads, and numpy's loops release the GIL).
_SCRATCH = threading.local()
# Below this many elements numpy's one-value maximum (a scalar loop) costs less than a call.
_SCALAR_BELOW = 2048


def plan_steps(steps, dtype) -> tuple:
    """``steps`` ((op, value) pairs: ("LeakyRelu", alpha), ("Max" / "Min", a constant of one
    value)) as ``in_place_steps`` takes them for outputs of ``dtype``, decided once (a
    comparison of 0-d arrays costs a microsecond): (kind, 0-d value, filled buffer or None)."""
    planned = []
    for op, value in steps:
        value = np.asarray(value, dtype=dtype).reshape(())
        value.flags.writeable = False
        if op == "LeakyRelu":
            planned.append(("leaky" if 0 <= value <= 1 else "select", value, None))
        else:
            planned.append((op, value, _filled(value)))
    return tuple(planned)


def in_place_steps(y, planned):
    """``y`` after each of ``planned`` (``plan_steps``) in turn, written into ``y`` (a fresh
    writable float array of the planned dtype that nothing else reads, e.g. a Conv's output)
    and returned: the same values as ``LeakyRelu`` and a ``Max`` / ``Min`` with one constant
    value (the same ufuncs in the same order, so the same bits), over cache-sized chunks
    instead of one new array a step."""
    dense = _contiguous_order(y) if y.flags.writeable and y.dtype == planned[0][1].dtype else None
    if dense is None:  # (a view with gaps: the unfused operators' arithmetic)
        for kind, value, _ in planned:
            if kind == "leaky" or kind == "select":
                y = LeakyRelu(y, alpha=value)
            else:
                y = _FLOOR_CEIL[kind](y, value)
        return y
    scratch = _scratch(y.dtype)
    flat = dense.reshape(-1)  # (a view: dense is C-contiguous)
    for start in range(0, flat.size, _STEP_CHUNK):
        chunk = flat[start : start + _STEP_CHUNK]
        size = chunk.size
        tmp = scratch[:size]
        for kind, value, filled in planned:
            if kind == "leaky":  # LeakyRelu's max(x, a * x)
                np.multiply(chunk, value, out=tmp)
                np.maximum(chunk, tmp, out=chunk)
            elif kind == "select":  # its select (NaN < 0 is false: NaN stays)
                np.multiply(chunk, value, out=tmp)
                np.copyto(chunk, tmp, where=chunk < 0)
            else:  # (filled: numpy's one-value maximum takes a scalar loop)
                other = value if size < _SCALAR_BELOW else filled[:size]
                _FLOOR_CEIL[kind](chunk, other, out=chunk)
    return y


def _scratch(dtype) -> np.ndarray:
    """This thread's scratch buffer of ``_STEP_CHUNK`` elements of ``dtype``."""
    buffers = getattr(_SCRATCH, "buffers", None)
    if buffers is None:
        buffers = _SCRATCH.buffers = {}
    scratch = buffers.get(dtype)
    if scratch is None:
        scratch = buffers[dtype] = np.empty(_STEP_CHUNK, dtype=dtype)
    return scratch


_FLOOR_CEIL = {"Max": np.maximum, "Min": np.minimum}
# plan_steps' filled constants, shared by value (a model's Convs often floor at one constant).
_FILLED: dict = {}
_FILLED_MAX = 64


def _filled(value):
    """A read-only buffer of ``_STEP_CHUNK`` copies of the 0-d ``value``."""
    key = (value.dtype, value.tobytes())
    filled = _FILLED.get(key)
    if filled is None:
        if len(_FILLED) >= _FILLED_MAX:
            _FILLED.clear()
        filled = np.full(_STEP_CHUNK, value, dtype=value.dtype)
        filled.flags.writeable = False
        _FILLED[key] = filled
    return filled


def _contiguous_order(y):
    """``y`` with its axes ordered so that it is C-contiguous (a Conv's channels-last output
    is a transposed contiguous array), or None when no order is."""
    if type(y) is not np.ndarray:
        return None
    if y.flags.c_contiguous:
        return y
    strides = y.strides
    t = y.transpose(sorted(range(y.ndim), key=lambda a: -strides[a]))
    return t if t.flags.c_contiguous else None
