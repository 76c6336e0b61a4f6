"""ONNX element types: numpy dtypes and onnxruntime's ``tensor(...)`` type strings.

Source: onnx.proto ``TensorProto.DataType`` and onnxruntime's ``NodeArg.type`` strings.
"""

import numpy as np
from onnx import TensorProto

# elem_type -> (numpy dtype, onnxruntime type name). Types without a numpy dtype this runtime
# computes in (bfloat16, float8, int4, ...) are left out: tensors of those types are refused.
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

_BY_DTYPE = {dtype: elem for elem, (dtype, _) in _ELEM_TYPES.items()}


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
