"""What every kernel shares: the op context, quantization parameters, activation ranges,
padding (``tflite/kernels/padding.h``) and im2col.

A kernel module exposes ``prepare(ctx) -> eval`` functions, in the manner of TFLite Micro:
``prepare`` validates the operator and computes everything that depends only on the model
(multipliers, shifts, activation ranges, reshaped weights) once; the returned ``eval`` takes the
input arrays (``None`` for an omitted optional input) and returns the output arrays.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from runtime._budget import DEFAULT_MAX_TENSOR_BYTES, check_elements
from runtime.errors import InvalidModelError, UnsupportedOpError
from runtime.tflite.kernels._fixed_point import round_half_away_scalar
from runtime.tflite.model import Operator, Tensor
from runtime.tflite.schema import ActivationFunctionType, Padding, TensorType

Eval = Callable[..., list]

F32, I8, I16, I32, I64, U8, BOOL = (
    TensorType.FLOAT32,
    TensorType.INT8,
    TensorType.INT16,
    TensorType.INT32,
    TensorType.INT64,
    TensorType.UINT8,
    TensorType.BOOL,
)


class OpContext:
    """What a kernel's ``prepare`` may look at: the operator, its tensors' metadata and the
    values of its constant inputs; ``call_subgraph`` runs another subgraph (control flow)."""

    def __init__(self, op: Operator, tensors: list[Tensor], constants: dict, call_subgraph=None):
        self.op = op
        self.options = op.options
        self.inputs = [None if i < 0 else tensors[i] for i in op.inputs]
        self.outputs = [tensors[i] for i in op.outputs]
        # Tensors that only carry quantization parameters (the integer LSTM's gate scales).
        self.intermediates = [tensors[i] for i in op.intermediates]
        self._input_ids = op.inputs
        self._constants = constants
        self.call_subgraph = call_subgraph

    @property
    def where(self) -> str:
        return f"operator {self.op.index} ({self.op.name})"

    def fail(self, message: str) -> InvalidModelError:
        return InvalidModelError(f"{self.where}: {message}")

    def unsupported(self, message: str) -> UnsupportedOpError:
        return UnsupportedOpError(f"{self.where}: {message}")

    def check_arity(self, n_in, n_out=1) -> None:
        """Require a number of inputs (int or (min, max)) and of outputs."""
        lo, hi = (n_in, n_in) if isinstance(n_in, int) else n_in
        if not lo <= len(self.inputs) <= hi:
            raise self.fail(f"has {len(self.inputs)} inputs, expected {lo}..{hi}")
        if len(self.outputs) != n_out:
            raise self.fail(f"has {len(self.outputs)} outputs, expected {n_out}")
        for k in range(lo):
            if self.inputs[k] is None:
                raise self.fail(f"required input {k} is missing (-1)")

    def constant(self, k: int) -> np.ndarray | None:
        """The value of input ``k`` if it is a constant tensor, else None."""
        if k >= len(self._input_ids) or self._input_ids[k] < 0:
            return None
        return self._constants.get(self._input_ids[k])

    def in_type(self, k: int) -> int:
        return self.inputs[k].type

    def out_type(self, k: int = 0) -> int:
        return self.outputs[k].type

    def require_types(self, allowed, *, inputs=(0,), outputs=(0,)) -> int:
        """Check the listed tensors share one type from ``allowed``; return it."""
        ttype = self.inputs[inputs[0]].type if inputs else self.outputs[outputs[0]].type
        for k in inputs:
            if self.inputs[k] is not None and self.inputs[k].type != ttype:
                raise self.fail(
                    f"input {k} has type {_tname(self.inputs[k].type)}, expected {_tname(ttype)}"
                )
        for k in outputs:
            if self.outputs[k].type != ttype:
                raise self.fail(
                    f"output {k} has type {_tname(self.outputs[k].type)}, expected {_tname(ttype)}"
                )
        if ttype not in allowed:
            names = ", ".join(_tname(t) for t in allowed)
            raise self.unsupported(f"type {_tname(ttype)} not supported (supported: {names})")
        return ttype


def _tname(t: int) -> str:
    try:
        return TensorType(t).name
    except ValueError:
        return str(t)


def per_tensor_qparams(ctx: OpContext, tensor: Tensor, what: str) -> tuple[np.float32, int]:
    """(scale, zero_point) of a per-tensor quantized tensor."""
    q = tensor.quantization
    if q is None:
        raise ctx.fail(f"{what} tensor {tensor.name!r} has no quantization parameters")
    if len(q.scale) != 1:
        raise ctx.fail(
            f"{what} tensor {tensor.name!r} must be per-tensor quantized, has {len(q.scale)} scales"
        )
    return np.float32(q.scale[0]), int(q.zero_point[0])


# The largest float32: LiteRT's float kernels clamp every result to
# [lowest(), max()] even for a NONE activation (``CalculateActivationRange``), so an overflow
# gives +-FLT_MAX where numpy gives +-inf.
FLT_MAX = float(np.finfo(np.float32).max)
# numpy's clip ufunc: one pass that keeps NaN and, at a bound of 0, the sign of -0.0 (as the
# reference's ``min(max(x, lo), hi)``); ``np.clip`` adds ~1.3 us of Python checks per call.
clip_ufunc = np._core.umath.clip


def activation_range_float(act: int) -> tuple[float, float]:
    """``CalculateActivationRange`` for float: NONE, TANH and SIGN_BIT clamp to the finite
    float32 range [-FLT_MAX, FLT_MAX], RELU to [0, FLT_MAX]."""
    if act == ActivationFunctionType.RELU:
        return 0.0, FLT_MAX
    if act == ActivationFunctionType.RELU6:
        return 0.0, 6.0
    if act == ActivationFunctionType.RELU_N1_TO_1:
        return -1.0, 1.0
    return -FLT_MAX, FLT_MAX


def activation_range_quantized(act: int, scale, zero_point: int, dtype=np.int8):
    """``CalculateActivationRangeQuantized``: clamp bounds in the output's integer domain."""
    info = np.iinfo(dtype)
    qmin, qmax = int(info.min), int(info.max)

    def quantize(f):
        return zero_point + round_half_away_scalar(float(np.float32(f) / np.float32(scale)))

    if act == ActivationFunctionType.RELU:
        return max(qmin, quantize(0.0)), qmax
    if act == ActivationFunctionType.RELU6:
        return max(qmin, quantize(0.0)), min(qmax, quantize(6.0))
    if act == ActivationFunctionType.RELU_N1_TO_1:
        return max(qmin, quantize(-1.0)), min(qmax, quantize(1.0))
    return qmin, qmax


# From this many values on, NONE's clamp first tests the result: a dot product (BLAS, read
# only) costs about half the clip's pass, and a finite sum of squares means no inf to clamp.
FINITE_TEST_MIN_ELEMENTS = 2048


def float_clamp(act: int) -> Callable[[np.ndarray], None]:
    """The in-place clamp of a fresh float32 result to ``act``'s range, as a function of it.

    NONE (and TANH, SIGN_BIT) clamp to [-FLT_MAX, FLT_MAX], which changes +-inf alone: a large
    C-contiguous result whose sum of squares is finite holds none (an inf or NaN element makes
    any float sum inf or NaN) and is left as it is; an overflowing sum just clips."""
    lo, hi = (np.asarray(v, np.float32) for v in activation_range_float(act))
    if float(lo) > -FLT_MAX or float(hi) < FLT_MAX:

        def clamp(y):
            clip_ufunc(y, lo, hi, out=y)

        return clamp

    def clamp_to_finite(y):
        if y.size >= FINITE_TEST_MIN_ELEMENTS and y.flags.c_contiguous:
            flat = y.reshape(-1)
            if math.isfinite(flat.dot(flat)):
                return
        clip_ufunc(y, lo, hi, out=y)

    return clamp_to_finite


def apply_float_activation(x: np.ndarray, act: int) -> np.ndarray:
    """Clamp a float32 result to ``act``'s range (in place when ``x`` is a writable float32
    array of its own)."""
    if not (x.dtype == np.float32 and x.flags.writeable and x.base is None):
        x = np.array(x, np.float32)
    float_clamp(act)(x)
    return x


def check_activation(ctx: OpContext, act: int) -> int:
    if act not in (0, 1, 2, 3):
        raise ctx.unsupported(
            f"fused activation {act} not supported (NONE, RELU, RELU_N1_TO_1, RELU6)"
        )
    return act


def out_size(padding: int, size: int, k: int, stride: int, dilation: int) -> int:
    eff = (k - 1) * dilation + 1
    if padding == Padding.SAME:
        return (size + stride - 1) // stride
    return (size - eff + stride) // stride


def pad_before(padding: int, size: int, k: int, stride: int, dilation: int) -> tuple[int, int]:
    """(output size, padding before); the odd extra pad goes after (padding.h)."""
    out = out_size(padding, size, k, stride, dilation)
    eff = (k - 1) * dilation + 1
    total = max((out - 1) * stride + eff - size, 0)
    return out, total // 2 if padding == Padding.SAME else 0


def check_window(ctx: OpContext, padding, stride_h, stride_w, dil_h=1, dil_w=1) -> None:
    if padding not in (0, 1):
        raise ctx.fail(f"padding {padding} is neither SAME (0) nor VALID (1)")
    if min(stride_h, stride_w, dil_h, dil_w) < 1:
        raise ctx.fail(
            f"strides ({stride_h}, {stride_w}) and dilations ({dil_h}, {dil_w}) must be >= 1"
        )


def windows(x: np.ndarray, kh, kw, sh, sw, dh, dw, pad_t, pad_l, oh, ow, fill):
    """Strided view (N, OH, OW, KH, KW, C) of NHWC ``x`` padded with ``fill``."""
    n, h, w, c = x.shape
    need_h = max((oh - 1) * sh + (kh - 1) * dh + 1, h + pad_t)
    need_w = max((ow - 1) * sw + (kw - 1) * dw + 1, w + pad_l)
    if pad_t or pad_l or need_h > h or need_w > w:
        check_elements((n, need_h, need_w, c), "padded input", x.dtype.itemsize)
        padded = np.full((n, need_h, need_w, c), fill, dtype=x.dtype)
        padded[:, pad_t : pad_t + h, pad_l : pad_l + w, :] = x
        x = padded
    s = x.strides
    return np.lib.stride_tricks.as_strided(
        x,
        shape=(n, oh, ow, kh, kw, c),
        strides=(s[0], s[1] * sh, s[2] * sw, s[1] * dh, s[2] * dw, s[3]),
        writeable=False,
    )


# Largest intermediate a kernel may create by default (e.g. im2col, padding), in 4-byte elements;
# the limit in force is the run's ``max_tensor_bytes`` (``runtime.Limits``).
MAX_ELEMENTS = DEFAULT_MAX_TENSOR_BYTES // 4


def check_alloc(ctx: OpContext, shape, what: str, itemsize: int = 4) -> None:
    """Refuse, before it is created, an array of ``shape`` above the run's tensor limit."""
    check_elements(shape, lambda: f"{ctx.where}: {what}", itemsize)


def broadcast_shape(ctx: OpContext, a, b) -> tuple:
    """The broadcast shape of ``a`` and ``b``, refused before allocation when too large."""
    shape = np.shape(a)
    if shape == np.shape(b):
        return shape  # (equal shapes: np.broadcast_shapes costs ~2 us on a 1-value compare)
    try:
        shape = np.broadcast_shapes(np.shape(a), np.shape(b))
    except ValueError:
        raise ctx.fail(
            f"shapes {list(np.shape(a))} and {list(np.shape(b))} do not broadcast"
        ) from None
    if shape == np.shape(a) or shape == np.shape(b):
        return shape  # no larger than an input that exists already
    itemsize = max(np.asarray(a).dtype.itemsize, np.asarray(b).dtype.itemsize, 1)
    check_elements(shape, lambda: f"{ctx.where}: broadcast result", itemsize)
    return shape
