"""STRING tensors: LiteRT's string buffer format, and the numpy form this runtime gives them.

Reference: ``tensorflow/lite/string_util.h``. A string tensor's buffer is, little-endian:
int32 ``N`` (the number of strings), ``N + 1`` int32 offsets from the buffer's start (string
``i`` is ``buffer[offset[i]:offset[i + 1]]``; the last offset is the buffer's length), then the
bytes. While running, a string tensor is a numpy object array of ``bytes``, which is also what
LiteRT's Python ``get_tensor`` returns (``get_input_details`` reports ``numpy.bytes_``).

A buffer is checked before anything is built from it: ``N`` must equal the tensor's element
count (so the header cannot claim more strings than the shape allows), the header must fit,
the first offset must be the header's end, offsets must not decrease and the last must be the
buffer's length. The strings made from it then hold at most the buffer's own bytes.
"""

from __future__ import annotations

import math

import numpy as np

from runtime.errors import InvalidInputError, InvalidModelError

OBJECT = np.dtype(object)


def decode(data, shape, what: str) -> np.ndarray:
    """The strings of a constant STRING tensor's ``data`` as an object array of ``shape``.

    Raises:
        InvalidModelError: the buffer does not follow the format (``what`` names the tensor).
    """
    raw = bytes(data)
    count = math.prod(shape)
    if len(raw) < 4:
        raise InvalidModelError(f"{what}: string buffer of {len(raw)} bytes has no count")
    n = int(np.frombuffer(raw, "<i4", 1)[0])
    if n != count:
        raise InvalidModelError(
            f"{what}: string buffer holds {n} strings but shape {list(shape)} has {count} elements"
        )
    header = 4 * (n + 2)
    if header > len(raw):
        raise InvalidModelError(
            f"{what}: string buffer of {len(raw)} bytes is too short for the {header}-byte header "
            f"of {n} strings"
        )
    offsets = np.frombuffer(raw, "<i4", n + 1, 4).astype(np.int64)
    if offsets[0] != header or offsets[-1] != len(raw) or np.any(np.diff(offsets) < 0):
        bad = "the first offset is not the header's end"
        if offsets[0] == header:
            bad = "the last offset is not the buffer's length"
            if offsets[-1] == len(raw):
                bad = "its offsets decrease"
        raise InvalidModelError(
            f"{what}: invalid string buffer ({len(raw)} bytes, {n} strings): {bad}"
        )
    out = np.empty(count, OBJECT)
    for i in range(count):
        out[i] = raw[offsets[i] : offsets[i + 1]]
    out.flags.writeable = False  # a constant, as the file's other constants
    return out.reshape(shape)


def encode(values) -> bytes:
    """The string buffer of an array of bytes (row-major), as LiteRT's ``DynamicBuffer``."""
    items = [bytes(v) for v in np.asarray(values, OBJECT).ravel()]
    header = 4 * (len(items) + 2)
    offsets = np.cumsum([header] + [len(s) for s in items])
    head = np.concatenate([[len(items)], offsets]).astype("<i4").tobytes()
    return head + b"".join(items)


def from_user(value: np.ndarray, what: str) -> np.ndarray:
    """An object array of bytes from what ``set_tensor`` was given for a STRING tensor: an
    object, bytes (``S``) or unicode (``U``) array whose items are ``bytes`` or ``str`` (encoded
    as UTF-8, as LiteRT's wrapper does).

    Raises:
        InvalidInputError: an item is neither bytes nor str.
    """
    out = np.empty(value.shape, OBJECT)
    flat = out.reshape(-1)
    for i, item in enumerate(value.reshape(-1)):
        if isinstance(item, str):
            item = item.encode("utf-8")
        elif not isinstance(item, bytes):
            raise InvalidInputError(
                f"Cannot set tensor: {what} is a STRING tensor; item {i} is a "
                f"{type(item).__name__}, expected bytes or str"
            )
        flat[i] = bytes(item)
    return out


def is_string_array(value: np.ndarray) -> bool:
    """Whether LiteRT's wrapper takes ``value`` as a STRING value (object, bytes or unicode)."""
    return value.dtype.kind in "OSU"


def as_bytes(value: np.ndarray) -> np.ndarray:
    """``value`` with every item that is not bytes read as the empty string: the items of a
    STRING input that ``allocate_tensors`` made before any ``set_tensor`` (zeros)."""
    if all(isinstance(v, bytes) for v in value.reshape(-1)):
        return value
    out = np.empty(value.shape, OBJECT)
    flat = out.reshape(-1)
    for i, v in enumerate(value.reshape(-1)):
        flat[i] = v if isinstance(v, bytes) else b""
    return out
