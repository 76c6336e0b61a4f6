"""The ``.keras`` zip: bounded, validated reading and atomic, deterministic writing.

Reading looks at the central directory first and refuses, before decompressing anything:
member names that are absolute or contain ``..``, duplicate or encrypted members, unknown
compression, declared sizes beyond the limits or beyond what the archive can hold (zip bombs).
Members are then read with at most their declared size (zipfile checks each CRC), each declared
size charged to the load's memory budget (``_guard.charge``) before it is decompressed.

Writing is Keras's layout (``metadata.json``, ``config.json``, ``model.weights.h5``, stored
uncompressed), with fixed member timestamps so the same model gives the same bytes; the file
appears atomically (``compiler._outputs.atomic_write``: temporary file in the same directory,
fsync, then ``os.replace``).
"""

import os
import zipfile
from dataclasses import dataclass

from compiler._outputs import atomic_write
from compiler.keras.saving._guard import charge

__all__ = ["read_members", "zip_bytes", "atomic_write", "MEMBER_LIMITS"]

CONFIG_NAME = "config.json"
METADATA_NAME = "metadata.json"
WEIGHTS_NAME = "model.weights.h5"

# Largest declared uncompressed size accepted per member.
MEMBER_LIMITS = {
    METADATA_NAME: 1 << 20,
    CONFIG_NAME: 16 << 20,  # real configs take a few MB at most (hundreds of layers)
    WEIGHTS_NAME: 16 << 30,
}
_MAX_MEMBERS = 10_000
# A compressed member may expand at most this much (a zip bomb expands ~1000x).
_MAX_RATIO = 100
_RATIO_FREE_BYTES = 1 << 20


@dataclass
class Members:
    """The three members of a ``.keras`` archive (``metadata`` may be absent: ``None``)."""

    config: bytes
    metadata: bytes | None
    weights: bytes


def _check_name(name):
    normalized = name.replace("\\", "/")
    if not name or "\x00" in name:
        return "an empty or NUL-containing member name"
    if normalized.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return f"member '{name}' has an absolute path"
    if ".." in normalized.split("/"):
        return f"member '{name}' has a '..' path component"
    return None


def _archive_size(fileobj):
    position = fileobj.tell()
    size = fileobj.seek(0, os.SEEK_END)
    fileobj.seek(position)
    return size


def read_members(fileobj):
    """Validates the archive's directory and returns its members' bytes.

    Raises:
        ValueError: naming the problem (bad member name, size, duplicate, missing member...).
        zipfile.BadZipFile, OSError, EOFError: from a damaged archive (the caller wraps them).
    """
    archive_size = _archive_size(fileobj)
    with zipfile.ZipFile(fileobj) as archive:
        infos = archive.infolist()
        if len(infos) > _MAX_MEMBERS:
            raise ValueError(f"the archive has {len(infos)} members (at most {_MAX_MEMBERS})")
        seen = set()
        for info in infos:
            problem = _check_name(info.filename)
            if problem:
                raise ValueError(problem)
            if info.filename in seen:
                raise ValueError(f"member '{info.filename}' appears twice")
            seen.add(info.filename)
            _check_member(info, archive_size)
        for required in (CONFIG_NAME, WEIGHTS_NAME):
            if required not in seen:
                raise ValueError(
                    f"'{required}' is missing from the archive (members: {sorted(seen)[:10]})"
                )
        names = [n for n in (CONFIG_NAME, METADATA_NAME, WEIGHTS_NAME) if n in seen]
        infos = [archive.getinfo(name) for name in names]
        for info in infos:  # every size charged before anything is decompressed
            charge(
                info.file_size, f"member '{info.filename}' ({info.compress_size:,} bytes zipped)"
            )
        read = {}
        for info in infos:
            with archive.open(info) as member:
                data = member.read(info.file_size + 1)
            if len(data) != info.file_size:
                raise ValueError(
                    f"member '{info.filename}' holds {len(data)} bytes, its header says "
                    f"{info.file_size}"
                )
            read[info.filename] = data
    return Members(read[CONFIG_NAME], read.get(METADATA_NAME), read[WEIGHTS_NAME])


def _check_member(info, archive_size):
    name = info.filename
    if info.flag_bits & 0x1:
        raise ValueError(f"member '{name}' is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ValueError(f"member '{name}' uses unsupported compression {info.compress_type}")
    if info.header_offset + info.compress_size > archive_size:
        raise ValueError(
            f"member '{name}' claims {info.compress_size} bytes at offset {info.header_offset}, "
            f"beyond the end of the {archive_size}-byte archive (truncated?)"
        )
    limit = MEMBER_LIMITS.get(name)
    if limit is not None and info.file_size > limit:
        raise ValueError(f"member '{name}' declares {info.file_size:,} bytes (limit {limit:,})")
    if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
        raise ValueError(
            f"stored member '{name}' declares {info.file_size} bytes but occupies "
            f"{info.compress_size}"
        )
    if info.file_size > max(_RATIO_FREE_BYTES, _MAX_RATIO * info.compress_size):
        raise ValueError(
            f"member '{name}' would expand from {info.compress_size:,} to {info.file_size:,} "
            f"bytes (more than {_MAX_RATIO}x: a zip bomb?)"
        )


def zip_bytes(members, fileobj):
    """Writes ``[(name, bytes), ...]`` as a stored zip with fixed timestamps (deterministic)."""
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3
            info.external_attr = 0o600 << 16
            archive.writestr(info, data)
