"""Read an ``.onnx`` file into a ``ModelProto`` and its tensors into numpy, defensively.

The protobuf is decoded by the ``onnx`` package; everything after that is checked here before
it is trusted: the graph is present, the IR and opset versions are known, and a tensor's
declared size matches the bytes the file really holds, so that a hostile file can never make
this runtime allocate more than the file itself justifies.
"""

import math
import os

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper, version_converter

from runtime.errors import InvalidModelError, UnsupportedOpError
from runtime.onnx._types import PACKED_BITS, elem_type_name, is_supported_elem_type, numpy_dtype

# Opsets of the default domain whose operator semantics this runtime implements. Opsets 1-6
# used a different broadcasting rule (the ``broadcast`` attribute): a model importing one is
# upgraded to MIN_OPSET at load with ``onnx.version_converter`` (as onnxruntime runs such
# models), rather than this runtime carrying a second copy of every old op. Newer ones are
# unknown.
OLDEST_OPSET = 1
MIN_OPSET = 7
MAX_OPSET = 28
# Other domains: the version each is implemented for, and the newest accepted.
DOMAIN_OPSETS = {"com.microsoft": 1, "ai.onnx.ml": 5}

_MAX_IR_VERSION = onnx.IR_VERSION

# Which repeated field carries a tensor's values when it has no raw_data (onnx.proto comments).
_TYPED_FIELD = {
    TensorProto.FLOAT: "float_data",
    TensorProto.DOUBLE: "double_data",
    TensorProto.INT64: "int64_data",
    TensorProto.UINT32: "uint64_data",
    TensorProto.UINT64: "uint64_data",
    TensorProto.STRING: "string_data",
}


def read_model_bytes(path_or_bytes) -> bytes:
    """Bytes of a model given as a path or as bytes-like content."""
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        return bytes(path_or_bytes)
    if isinstance(path_or_bytes, (str, os.PathLike)):
        with open(path_or_bytes, "rb") as f:
            return f.read()
    raise TypeError(
        "InferenceSession expects a path or the model's bytes. "
        f"Received: {type(path_or_bytes).__name__}"
    )


def parse_model(data: bytes) -> onnx.ModelProto:
    """Decode and sanity-check a serialized ``ModelProto``.

    Raises:
        InvalidModelError: the bytes are not a protobuf, or not an ONNX model this runtime reads.
        UnsupportedOpError: an opset outside the implemented range.
    """
    try:
        model = onnx.load_model_from_string(data)
    except Exception as e:  # DecodeError, RecursionError from deep nesting, UnicodeDecodeError
        raise InvalidModelError(
            f"not an ONNX model: protobuf decoding failed ({type(e).__name__}: {e}); "
            f"received {len(data)} bytes"
        ) from None
    _check_text_fields(model, "model")
    if not model.HasField("graph"):
        raise InvalidModelError(f"not an ONNX model: no graph (received {len(data)} bytes)")
    if not 3 <= model.ir_version <= _MAX_IR_VERSION:
        raise InvalidModelError(
            f"ir_version {model.ir_version} is not supported; expected 3..{_MAX_IR_VERSION}"
        )
    if opsets(model)[""] < MIN_OPSET:  # validates
        model = _upgrade(model)
    return model


def _upgrade(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` converted to opset MIN_OPSET by onnx's version converter (opsets 1-6 differ
    from 7 in broadcasting and in attributes such as ``consumed_inputs`` and ``is_test``)."""
    old = opsets(model)[""]
    try:
        upgraded = version_converter.convert_version(model, MIN_OPSET)
    except Exception as e:  # the converter reports unconvertible nodes as RuntimeError etc.
        raise UnsupportedOpError(
            f"default-domain opset {old}: onnx.version_converter could not upgrade the model "
            f"to opset {MIN_OPSET} ({type(e).__name__}: {str(e)[:300]})"
        ) from None
    _check_text_fields(upgraded, "model")
    return upgraded


def _check_text_fields(message, path: str) -> None:
    """Every string field holds text. ONNX's .proto is proto2, where protobuf does not check
    UTF-8 and hands back ``bytes`` for an invalid string, which would surface later as an
    unrelated TypeError in whatever code compares or formats that name."""
    for field, value in message.ListFields():
        repeated = field.is_repeated
        if field.type == field.TYPE_STRING:
            for v in value if repeated else [value]:
                if isinstance(v, bytes):
                    raise InvalidModelError(f"{path}.{field.name} is not valid UTF-8: {v[:40]!r}")
        elif field.type == field.TYPE_MESSAGE:
            for i, v in enumerate(value if repeated else [value]):
                _check_text_fields(
                    v, f"{path}.{field.name}[{i}]" if repeated else f"{path}.{field.name}"
                )


def opsets(model: onnx.ModelProto) -> dict[str, int]:
    """The model's opset imports as {domain: version}; "ai.onnx" is spelled ""."""
    result: dict[str, int] = {}
    for entry in model.opset_import:
        domain = "" if entry.domain in ("", "ai.onnx") else entry.domain
        if domain in result:
            raise InvalidModelError(f"opset_import lists domain {domain!r} twice")
        result[domain] = entry.version
    if "" not in result:
        raise InvalidModelError("opset_import has no entry for the default ONNX domain")
    if not OLDEST_OPSET <= result[""] <= MAX_OPSET:
        raise UnsupportedOpError(
            f"default-domain opset {result['']} is not supported; "
            f"expected {OLDEST_OPSET}..{MAX_OPSET}"
        )
    for domain, newest in DOMAIN_OPSETS.items():
        # onnxruntime refuses a model importing a known domain at a version newer than it
        # supports, even when no node uses the domain; so does this runtime.
        if result.get(domain, 0) > newest:
            raise UnsupportedOpError(
                f"opset_import: domain {domain!r} version {result[domain]} is not supported; "
                f"the newest is {newest}"
            )
    return result


def tensor_to_array(tensor: TensorProto, what: str) -> np.ndarray:
    """A ``TensorProto`` as a numpy array, after checking its size against the data present.

    Args:
        tensor: the tensor message.
        what: how to name it in errors, e.g. ``"initializer 'w'"``.

    Raises:
        InvalidModelError: negative or inconsistent dims, data of the wrong length, external or
            segmented data.
        UnsupportedOpError: an element type this runtime does not compute with.
    """
    dims = list(tensor.dims)
    if any(d < 0 for d in dims):
        raise InvalidModelError(f"{what} has negative dims {dims}")
    if tensor.data_location == TensorProto.EXTERNAL or len(tensor.external_data):
        raise InvalidModelError(f"{what} stores its data in an external file; not supported")
    if tensor.HasField("segment"):
        raise InvalidModelError(f"{what} is a segment of a tensor; not supported")
    if not is_supported_elem_type(tensor.data_type):
        raise UnsupportedOpError(
            f"{what} has element type {elem_type_name(tensor.data_type)}, "
            "which this runtime does not support"
        )
    count = math.prod(dims)  # Python int: no overflow
    dtype = numpy_dtype(tensor.data_type)
    # 4- and 2-bit types hold 8 // bits values per byte of raw_data and per int32_data entry,
    # the last one padded (onnx.proto), so an odd count of int4 takes (count + 1) // 2 bytes.
    per_unit = 8 // PACKED_BITS.get(tensor.data_type, 8)
    if tensor.HasField("raw_data"):
        if tensor.data_type == TensorProto.STRING:
            raise InvalidModelError(f"{what}: a string tensor cannot use raw_data")
        expected, received = -(-count // per_unit) * dtype.itemsize, len(tensor.raw_data)
        unit = "bytes of raw_data"
    else:
        field = _TYPED_FIELD.get(tensor.data_type, "int32_data")
        expected, received = -(-count // per_unit), len(getattr(tensor, field))
        unit = f"values in {field}"
    if expected != received:
        raise InvalidModelError(
            f"{what} declares dims {dims} ({count} elements of {elem_type_name(tensor.data_type)}"
            f"), which needs {expected} {unit}; the file holds {received}"
        )
    try:
        array = numpy_helper.to_array(tensor)
    except Exception as e:
        raise InvalidModelError(f"{what} could not be decoded: {type(e).__name__}: {e}") from None
    if tensor.data_type == TensorProto.STRING:
        array = np.vectorize(_decode_utf8, otypes=[object])(array) if array.size else array
    elif array.dtype != dtype:
        # onnx releases before ml_dtypes decoded bfloat16 and float8 to float32 and 4-bit types
        # to int8: the values are exact in the declared type.
        array = array.astype(dtype)
    return array


def _decode_utf8(value):
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value
