"""Checks an ``.npz`` of input arrays before ``np.load`` allocates what its headers claim.

Each ``.npy`` member starts with numpy's header (magic, header length, then a Python-literal
dict with ``shape``, ``descr``, ``fortran_order``). A header may claim any shape, and
``np.load`` would allocate it before finding the data missing: so each header is read first and
must fit in the bytes its member holds, and all members together in the caller's limit.
"""

from __future__ import annotations

import math
import zipfile

import numpy as np

_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


def check_npz_headers(path, *, limit: int, error, label: str, advice: str) -> None:
    """Raises ``error(message)`` when the ``.npz`` at ``path`` cannot hold what it claims.

    Args:
        path: the ``.npz`` file.
        limit: bytes all its members may take together.
        error: the exception class raised, with a message starting with ``label``.
        label: how the file is named in messages (``"calibration file 'c.npz'"``).
        advice: what to do when ``limit`` is exceeded, appended to that message.
    """
    total = 0
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                total += _member_bytes(archive, info, error, label)
                if total > limit:
                    raise error(
                        f"{label}: its arrays take more than {limit:,} bytes, the limit ({advice})"
                    )
    except error:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise error(f"{label}: not a readable .npz: {exc}") from None


def _member_bytes(archive, info, error, label) -> int:
    if not info.filename.endswith(".npy"):
        return info.file_size
    name = info.filename[:-4]
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version not in _HEADER_READERS:
            raise error(
                f"{label}: array {name!r} is in .npy format {version[0]}.{version[1]}; "
                "expected 1.0 or 2.0 (what np.savez writes)"
            )
        shape, _, dtype = _HEADER_READERS[version](member)
        held = info.file_size - member.tell()
    claimed = math.prod(shape) * dtype.itemsize
    if claimed > held:
        raise error(
            f"{label}: array {name!r} claims shape {shape} of {dtype} ({claimed:,} bytes) but "
            f"its member holds {held:,}"
        )
    return claimed
