"""Constant, ConstantOfShape, Range, Cast, CastLike (onnx.ai/onnx/operators)."""

import numpy as np

from runtime.errors import InvalidModelError, UnsupportedOpError
from runtime.onnx._types import is_supported_elem_type, numpy_dtype
from runtime.onnx.ops import _exotic_types
from runtime.onnx.ops._common import check_size, ints


def Constant(
    *,
    value=None,
    value_float=None,
    value_floats=None,
    value_int=None,
    value_ints=None,
    value_string=None,
    value_strings=None,
):
    given = [
        v
        for v in (
            value,
            value_float,
            value_floats,
            value_int,
            value_ints,
            value_string,
            value_strings,
        )
        if v is not None
    ]
    if len(given) != 1:
        raise InvalidModelError(
            f"Constant: exactly one value attribute is needed; got {len(given)}"
        )
    if value is not None:
        return value
    if value_float is not None:
        return np.asarray(value_float, dtype=np.float32)
    if value_floats is not None:
        return np.asarray(value_floats, dtype=np.float32)
    if value_int is not None:
        return np.asarray(value_int, dtype=np.int64)
    if value_ints is not None:
        return np.asarray(value_ints, dtype=np.int64)
    if value_string is not None:
        return np.asarray(value_string, dtype=object)
    return np.asarray(value_strings, dtype=object)


def ConstantOfShape(input, *, value=None):  # noqa: A002 - the ONNX input's name
    shape = check_size(ints(input), "ConstantOfShape")
    if value is None:
        return np.zeros(shape, dtype=np.float32)
    if value.size != 1:
        raise InvalidModelError(f"ConstantOfShape: value must hold one element; has {value.size}")
    return np.full(shape, value.reshape(-1)[0], dtype=value.dtype)


def Range(start, limit, delta):
    dtype = start.dtype
    first, last, step = start.item(), limit.item(), delta.item()
    if step == 0:
        raise InvalidModelError("Range: delta is 0")
    count = max(int(np.ceil((last - first) / step)), 0)
    check_size([count], "Range")
    return (start + np.arange(count, dtype=dtype) * delta).astype(dtype)


def _cast_dtype(to: int) -> np.dtype:
    if not is_supported_elem_type(to):
        raise UnsupportedOpError(f"Cast: target element type {to} is not supported")
    return numpy_dtype(to)


def Cast(input, *, to, saturate=1, round_mode="up"):  # noqa: A002
    dtype = _cast_dtype(to)
    if input.dtype.kind == "O" or dtype.kind == "O":
        raise UnsupportedOpError("Cast: casts from or to strings are not supported")
    if _exotic_types.involved(input.dtype, dtype):  # bfloat16, float8, int4, ...
        return _exotic_types.cast(input, dtype, saturate, round_mode)
    if input.dtype.kind == "f" and dtype.kind in "iub":
        with np.errstate(invalid="ignore"):
            return input.astype(dtype)
    return input.astype(dtype)


def CastLike(input, target_type, *, saturate=1, round_mode="up"):  # noqa: A002
    if input.dtype.kind == "O" or target_type.dtype.kind == "O":
        raise UnsupportedOpError("CastLike: casts from or to strings are not supported")
    if _exotic_types.involved(input.dtype, target_type.dtype):  # bfloat16, float8, int4, ...
        return _exotic_types.cast(input, target_type.dtype, saturate, round_mode)
    return input.astype(target_type.dtype)
