"""Bit ops on integer tensors: BitShift, BitwiseAnd, BitwiseOr, BitwiseXor, BitwiseNot, BitCast
(onnx.ai/onnx/operators).

BitShift follows BitShift-28's rule for shift amounts outside [0, bits): the result is what
the sign extension alone gives (-1 for a right shift of a negative X, else 0). numpy's shifts
already define exactly that, where C++ leaves it undefined.
"""

import numpy as np

from runtime.errors import InvalidModelError, UnsupportedOpError
from runtime.onnx._types import bit_width, is_supported_elem_type, numpy_dtype
from runtime.onnx.ops._common import broadcast_size


def _same(op, a, b):
    if a.dtype != b.dtype:
        raise InvalidModelError(f"{op}: inputs have different element types {a.dtype}, {b.dtype}")
    broadcast_size(op, a, b)


def BitShift(X, Y, *, direction):
    if direction not in ("LEFT", "RIGHT"):
        raise InvalidModelError(
            f"BitShift: direction must be LEFT or RIGHT; received {direction!r}"
        )
    _same("BitShift", X, Y)
    shift = np.left_shift if direction == "LEFT" else np.right_shift
    return np.asarray(shift(X, Y), dtype=X.dtype)


def BitwiseAnd(A, B):
    _same("BitwiseAnd", A, B)
    return np.asarray(np.bitwise_and(A, B))


def BitwiseOr(A, B):
    _same("BitwiseOr", A, B)
    return np.asarray(np.bitwise_or(A, B))


def BitwiseXor(A, B):
    _same("BitwiseXor", A, B)
    return np.asarray(np.bitwise_xor(A, B))


def BitwiseNot(X):
    return np.asarray(np.invert(X))


def BitCast(input, *, to):  # noqa: A002 - ONNX input name
    if not is_supported_elem_type(to):
        raise UnsupportedOpError(f"BitCast: target element type {to} is not supported")
    target = numpy_dtype(to)
    if target.kind == "O" or input.dtype.kind in "OUS":
        raise InvalidModelError("BitCast: strings have no bit pattern to reinterpret")
    if bit_width(target) != bit_width(input.dtype):
        raise InvalidModelError(
            f"BitCast: {input.dtype} ({bit_width(input.dtype)} bits) and {target} "
            f"({bit_width(target)} bits) differ in width"
        )
    # (4- and 2-bit values, ml_dtypes arrays, sit in the low bits of one byte each: the same
    # view reinterprets them)
    # The spec reads the bytes as little endian whatever the host's order.
    raw = np.ascontiguousarray(input, dtype=input.dtype.newbyteorder("<"))
    out = raw.view(target.newbyteorder("<")).astype(target)
    if target == np.bool_:
        out = raw.view(np.uint8) != 0  # a byte other than 0 or 1 is still a valid bool
    return out.reshape(input.shape)
