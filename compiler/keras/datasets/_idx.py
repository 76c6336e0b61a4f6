"""Reader of the IDX files of MNIST and Fashion-MNIST (optionally gzip-compressed).

Format (LeCun's MNIST page): two zero bytes, a type byte (0x08 = unsigned byte), a byte with
the number of dimensions, then each dimension as a big-endian uint32, then the data in C order.
Every inconsistency (bad magic, wrong rank, truncated or trailing data, absurd sizes, corrupt
gzip) raises a ValueError that names the file; nothing larger than the header announces, within
a fixed cap, is ever read.
"""

import gzip
import os
import struct
import zlib

import numpy

__all__ = ["read_idx", "MAX_BYTES"]

# Fashion-MNIST's training images are 47 MB; 1 GiB leaves room and bounds memory on bad headers.
MAX_BYTES = 1 << 30


def read_idx(path, expected_ndim):
    """Returns the uint8 array stored in the IDX file ``path`` (``.gz`` is decompressed)."""
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as stream:
            header = _read_exact(stream, 4, path, "header")
            zero0, zero1, dtype_code, ndim = header
            if zero0 != 0 or zero1 != 0:
                raise ValueError(
                    f"{path}: not an IDX file (magic bytes {header.hex()}, expected 0000 08 "
                    f"0{expected_ndim})"
                )
            if dtype_code != 0x08:
                raise ValueError(
                    f"{path}: unsupported IDX data type 0x{dtype_code:02x}, expected 0x08 "
                    "(unsigned byte)"
                )
            if ndim != expected_ndim:
                raise ValueError(
                    f"{path}: IDX file has {ndim} dimensions, expected {expected_ndim}"
                )
            dims = struct.unpack(f">{ndim}I", _read_exact(stream, 4 * ndim, path, "dimensions"))
            size = 1
            for d in dims:
                size *= d
            if size > MAX_BYTES:
                raise ValueError(
                    f"{path}: IDX header announces shape {dims} ({size} bytes), more than the "
                    f"{MAX_BYTES}-byte limit: the file is corrupt"
                )
            data = stream.read(size + 1)
    except (gzip.BadGzipFile, zlib.error, EOFError) as error:
        raise ValueError(f"{path}: corrupt gzip data ({error})") from error
    if len(data) < size:
        raise ValueError(
            f"{path}: truncated IDX file: header announces shape {dims} ({size} bytes) but only "
            f"{len(data)} bytes of data follow"
        )
    if len(data) > size:
        raise ValueError(
            f"{path}: IDX file has data beyond the {size} bytes its header announces (shape {dims})"
        )
    return numpy.frombuffer(data, dtype=numpy.uint8).reshape(dims)


def _read_exact(stream, count, path, what):
    data = stream.read(count)
    if len(data) != count:
        raise ValueError(f"{path}: truncated IDX file (incomplete {what})")
    return data
