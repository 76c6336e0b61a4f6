"""ONNX element types: numpy dtypes and onnxruntime's ``tensor(...)`` type strings.

Source: onnx.proto ``TensorProto.DataType`` and onnxruntime's ``NodeArg.type`` strings.
"""

import ml_dtypes
import numpy as np
from onnx import TensorProto

# elem_type -> (numpy dtype, onnxruntime type name).
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
}

# The types numpy has no dtype for use ml_dtypes' dtypes, as onnx's numpy_helper and reference
# implementation do: (TensorProto name, ml_dtypes type, onnxruntime's name, bits when several
# are packed into a byte in a TensorProto, low bits first). 4- and 2-bit values take a byte
# each in memory; only files pack them. Types with no dtype (complex, float6) are refused, and
# so is any of these that the installed onnx does not define yet.
_EXOTIC = [
    ("BFLOAT16", ml_dtypes.bfloat16, "bfloat16", 0),
    ("FLOAT8E4M3FN", ml_dtypes.float8_e4m3fn, "float8e4m3fn", 0),
    ("FLOAT8E4M3FNUZ", ml_dtypes.float8_e4m3fnuz, "float8e4m3fnuz", 0),
    ("FLOAT8E5M2", ml_dtypes.float8_e5m2, "float8e5m2", 0),
    ("FLOAT8E5M2FNUZ", ml_dtypes.float8_e5m2fnuz, "float8e5m2fnuz", 0),
    ("FLOAT8E8M0", ml_dtypes.float8_e8m0fnu, "float8e8m0", 0),
    ("FLOAT4E2M1", ml_dtypes.float4_e2m1fn, "float4e2m1", 4),
    ("UINT4", ml_dtypes.uint4, "uint4", 4),
    ("INT4", ml_dtypes.int4, "int4", 4),
    ("UINT2", ml_dtypes.uint2, "uint2", 2),
    ("INT2", ml_dtypes.int2, "int2", 2),
]
# Bits per element of the packed types, by TensorProto.DataType; every other type takes its
# numpy itemsize.
PACKED_BITS: dict[int, int] = {}
for _name, _type, _ort_name, _bits in _EXOTIC:
    if hasattr(TensorProto, _name):
        _ELEM_TYPES[getattr(TensorProto, _name)] = (np.dtype(_type), _ort_name)
        if _bits:
            PACKED_BITS[getattr(TensorProto, _name)] = _bits
_BITS = {np.dtype(t): bits for _, t, _, bits in _EXOTIC if bits}

# The ml_dtypes floating types: numpy's ufuncs work on them through ml_dtypes, but their
# dtype.kind is "V" (float8_e5m2's is "f"), so code that dispatches on kind must ask here.
EXOTIC_FLOATS = frozenset(np.dtype(t) for _, t, _, _ in _EXOTIC[:7])
# The ml_dtypes integer types (dtype.kind "V").
EXOTIC_INTS = frozenset(np.dtype(t) for _, t, _, _ in _EXOTIC[7:])

_BY_DTYPE = {dtype: elem for elem, (dtype, _) in _ELEM_TYPES.items()}


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
