"""ONNX element types: numpy dtypes and onnxruntime's ``tensor(...)`` type strings.

Source: onnx.proto ``TensorProto.DataType`` and onnxruntime's ``NodeArg.type`` strings.
"""

import ml_dtypes
import numpy as np
from onnx import TensorProto

# elem_type -> (numpy dtype, onnxruntime type name). The types numpy has no dtype for
# (bfloat16, float8, float4, int4, int2, ...) use ml_dtypes' dtypes, as onnx's numpy_helper and
# reference implementation do; 4- and 2-bit values take one byte each in memory and are packed
# only in files (TensorProto.raw_data). Types with no dtype here (complex, float6) are refused.
_ELEM_TYPES = {
    TensorProto.FLOAT: (np.dtype(np.float32), "float"),
    TensorProto.UINT8: (np.dtype(np.uint8), "uint8"),
    TensorProto.INT8: (np.dtype(np.int8), "int8"),
    TensorProto.UINT16: (np.dtype(np.uint16), "uint16"),
    TensorProto.INT16: (np.dtype(np.int16), "int16"),
    TensorProto.INT32: (np.dtype(np.int32), "int32"),
    TensorProto.INT64: (np.dtype(np.int64), "int64"),
    TensorProto.STRING: (np.dtype(object), "string"),
    TensorProto.BOOL: (np.dtype(np.bool_), "bool"),
    TensorProto.FLOAT16: (np.dtype(np.float16), "float16"),
    TensorProto.DOUBLE: (np.dtype(np.float64), "double"),
    TensorProto.UINT32: (np.dtype(np.uint32), "uint32"),
    TensorProto.UINT64: (np.dtype(np.uint64), "uint64"),
    TensorProto.BFLOAT16: (np.dtype(ml_dtypes.bfloat16), "bfloat16"),
    TensorProto.FLOAT8E4M3FN: (np.dtype(ml_dtypes.float8_e4m3fn), "float8e4m3fn"),
    TensorProto.FLOAT8E4M3FNUZ: (np.dtype(ml_dtypes.float8_e4m3fnuz), "float8e4m3fnuz"),
    TensorProto.FLOAT8E5M2: (np.dtype(ml_dtypes.float8_e5m2), "float8e5m2"),
    TensorProto.FLOAT8E5M2FNUZ: (np.dtype(ml_dtypes.float8_e5m2fnuz), "float8e5m2fnuz"),
    TensorProto.FLOAT8E8M0: (np.dtype(ml_dtypes.float8_e8m0fnu), "float8e8m0"),
    TensorProto.FLOAT4E2M1: (np.dtype(ml_dtypes.float4_e2m1fn), "float4e2m1"),
    TensorProto.UINT4: (np.dtype(ml_dtypes.uint4), "uint4"),
    TensorProto.INT4: (np.dtype(ml_dtypes.int4), "int4"),
    TensorProto.UINT2: (np.dtype(ml_dtypes.uint2), "uint2"),
    TensorProto.INT2: (np.dtype(ml_dtypes.int2), "int2"),
}

# Bits per element of the types packed several to a byte in a TensorProto (onnx.proto: low
# bits first); every other type takes its numpy itemsize.
PACKED_BITS = {
    TensorProto.FLOAT4E2M1: 4,
    TensorProto.UINT4: 4,
    TensorProto.INT4: 4,
    TensorProto.UINT2: 2,
    TensorProto.INT2: 2,
}
# The ml_dtypes floating types: numpy's ufuncs work on them through ml_dtypes, but their
# dtype.kind is "V" (float8_e5m2's is "f"), so code that dispatches on kind must ask here.
EXOTIC_FLOATS = frozenset(
    _ELEM_TYPES[e][0]
    for e in (
        TensorProto.BFLOAT16,
        TensorProto.FLOAT8E4M3FN,
        TensorProto.FLOAT8E4M3FNUZ,
        TensorProto.FLOAT8E5M2,
        TensorProto.FLOAT8E5M2FNUZ,
        TensorProto.FLOAT8E8M0,
        TensorProto.FLOAT4E2M1,
    )
)
# The ml_dtypes integer types (dtype.kind "V").
EXOTIC_INTS = frozenset(
    _ELEM_TYPES[e][0]
    for e in (TensorProto.UINT4, TensorProto.INT4, TensorProto.UINT2, TensorProto.INT2)
)

_BY_DTYPE = {dtype: elem for elem, (dtype, _) in _ELEM_TYPES.items()}


_BITS = {_ELEM_TYPES[e][0]: bits for e, bits in PACKED_BITS.items()}


def bit_width(dtype: np.dtype) -> int:
    """Bits per element of a dtype of this table (4 for int4, whose arrays take a byte each)."""
    return _BITS.get(dtype, 8 * dtype.itemsize)


def is_supported_elem_type(elem_type: int) -> bool:
    """Whether tensors of this ``TensorProto.DataType`` can be computed with."""
    return elem_type in _ELEM_TYPES


def numpy_dtype(elem_type: int) -> np.dtype:
    """The numpy dtype of a supported ``TensorProto.DataType`` (KeyError otherwise)."""
    return _ELEM_TYPES[elem_type][0]


def elem_type_name(elem_type: int) -> str:
    """onnxruntime's spelling, e.g. ``tensor(float)``; unsupported types use ONNX's enum name."""
    if elem_type in _ELEM_TYPES:
        return f"tensor({_ELEM_TYPES[elem_type][1]})"
    try:
        return f"tensor({TensorProto.DataType.Name(elem_type).lower()})"
    except ValueError:
        return f"tensor(<unknown type {elem_type}>)"


def dtype_type_name(dtype: np.dtype) -> str:
    """onnxruntime's spelling of the type of a numpy array, e.g. ``tensor(double)``."""
    dtype = np.dtype(dtype)
    if dtype.kind in "US":
        return "tensor(string)"
    if dtype in _BY_DTYPE:
        return elem_type_name(_BY_DTYPE[dtype])
    return f"tensor(<numpy {dtype}>)"


def elem_type_of_dtype(dtype: np.dtype) -> int | None:
    """The ``TensorProto.DataType`` of a numpy dtype, or None when ONNX has no such type."""
    return _BY_DTYPE.get(np.dtype(dtype))
