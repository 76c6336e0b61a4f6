"""The files ``compile`` writes: names that cannot leave the output directory, written all or
nothing.

Names. A model's name comes from whoever made the model, possibly a downloaded file:
``stem_from_name`` keeps letters, digits, ``_``, ``-`` and ``.`` (any other run of characters
becomes ``_``), drops leading dots (no hidden file, no ``..``), and cuts names longer than
``MAX_STEM_BYTES`` (UTF-8) to a prefix plus a hash of the whole name, so that every file name
(with the ``.int8.tflite`` suffix and the temporary prefix) stays far below the 255-byte limit of
file systems. ``check_stem`` refuses an explicitly given stem that is not a plain file name.
``output_path`` refuses any path whose directory is not the output directory.

Writing. ``atomic_write`` is the package's one writer of a file: a temporary file beside the
target (mode 0o666 less the umask, applied by the kernel), flushed to disk, renamed over the
target. ``write_all`` writes several files all or nothing: every file is written to a
temporary name beside its target and flushed to disk; each target that already exists gets a
second name (a hard link, or a copy where links are not supported); then the temporaries are
renamed over the targets.
On any failure, ``KeyboardInterrupt`` included, the targets already replaced get their previous
files back (or are removed when they were new), and every temporary and backup is deleted, so
the previous outputs are left byte for byte as they were. Targets that exist but are not regular
files (a directory, a FIFO) are refused before anything is written.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "stem_from_name",
    "check_stem",
    "output_path",
    "write_all",
    "atomic_write",
    "MAX_STEM_BYTES",
]

MAX_STEM_BYTES = 120
_UNSAFE = re.compile(r"[^\w.\-]+")


def stem_from_name(name: object) -> str:
    """A file stem made from a model's name, safe whatever the name holds."""
    text = str(name)
    stem = _UNSAFE.sub("_", text).lstrip(".")
    if len(stem.encode("utf-8")) > MAX_STEM_BYTES:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        head = stem.encode("utf-8")[: MAX_STEM_BYTES - 13].decode("utf-8", "ignore")
        stem = f"{head}-{digest}"
    return stem or "model"


def check_stem(stem: str) -> str | None:
    """Why ``stem`` (given explicitly) is not a plain file name, or ``None`` when it is."""
    if not isinstance(stem, str) or not stem:
        return f"the output stem must be a non-empty string; received {stem!r}"
    if "/" in stem or "\\" in stem or "\x00" in stem or stem in (".", ".."):
        return f"the output stem must be a plain file name (no '/', '\\\\', NUL); received {stem!r}"
    if len(stem.encode("utf-8", "surrogatepass")) > MAX_STEM_BYTES:
        return f"the output stem is longer than {MAX_STEM_BYTES} bytes"
    return None


def output_path(out_dir: Path, file_name: str) -> Path:
    """``out_dir / file_name``, refused (``PermissionError``) if it would not lie directly in
    ``out_dir``."""
    path = out_dir / file_name
    parent = os.path.dirname(os.path.abspath(path))
    if parent != os.path.abspath(out_dir) or path.name != file_name:
        raise PermissionError(
            errno.EACCES, f"the file name {file_name!r} would leave the output directory", str(path)
        )
    return path


def _check_target(path: Path) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "it exists and is a directory", str(path))
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise FileExistsError(errno.EEXIST, "it exists and is not a regular file", str(path))


def _backup(path: Path) -> str | None:
    """A second name for the file at ``path`` (``None`` when there is none)."""
    if not os.path.lexists(path):
        return None
    while True:
        backup = os.path.join(path.parent, f".{path.name}.{secrets.token_hex(6)}.bak")
        try:
            if os.path.islink(path):
                os.symlink(os.readlink(path), backup)
            else:
                try:
                    os.link(path, backup, follow_symlinks=False)
                except OSError as exc:
                    if exc.errno == errno.EEXIST:
                        raise
                    shutil.copy2(path, backup)  # file systems without hard links
            return backup
        except FileExistsError:
            continue


def _create_temporary(path) -> tuple[int, str]:
    """A new, empty temporary file beside ``path``: ``(descriptor, name)``.

    Created with mode 0o666 less the umask, as ``open()`` would create ``path`` itself: the
    kernel applies the umask, so nothing reads it (``os.umask`` can only be read by setting
    it, a race with other threads creating files).
    """
    directory, name = os.path.split(os.path.abspath(path))
    while True:
        temp = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), temp
        except FileExistsError:
            continue


def _fill(fd: int, write: Callable[[BinaryIO], object]) -> None:
    with os.fdopen(fd, "wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())


def atomic_write(path, write: Callable[[BinaryIO], object]) -> None:
    """Calls ``write(fileobj)`` on a temporary file beside ``path``, flushes it to disk, then
    renames it to ``path``: the one atomic writer of the package (``write_all`` for several
    files, the bundle, ``.keras`` files).

    A crash or an error, ``KeyboardInterrupt`` included, leaves ``path`` as it was (absent or
    the previous file), never half written, and no temporary behind. The new file gets the
    mode ``open()`` would give it (0o666 less the umask).

    Raises:
        OSError: the file system's errors (unwritable directory, ``path`` is a directory).
    """
    fd, temp = _create_temporary(path)
    try:
        _fill(fd, write)
        os.replace(temp, path)
    except BaseException:
        _unlink_quietly(temp)
        raise


def _write_temporary(path: Path, data: bytes, temps: dict) -> None:
    fd, temp = _create_temporary(path)
    temps[path] = temp
    _fill(fd, lambda handle: handle.write(data))


def write_all(payloads: dict[Path, bytes]) -> None:
    """Writes every ``{path: bytes}``, all or nothing (see the module doc).

    Raises:
        OSError: with ``filename`` set to the file that could not be written; the outputs are
            then as they were before the call.
    """
    for path in payloads:
        _check_target(path)
    temps: dict[Path, str] = {}
    backups: dict[Path, str | None] = {}
    replaced: list[Path] = []
    current = None
    try:
        for path, data in payloads.items():
            current = path
            _write_temporary(path, data, temps)
        for path in payloads:
            current = path
            backups[path] = _backup(path)
        for path in payloads:
            current = path
            os.replace(temps[path], path)
            del temps[path]
            replaced.append(path)
    except BaseException as exc:
        _roll_back(replaced, backups, temps)
        if isinstance(exc, OSError) and exc.filename is None and current is not None:
            exc.filename = str(current)
        raise
    finally:
        for backup in backups.values():
            if backup is not None and os.path.lexists(backup):
                os.unlink(backup)


def _roll_back(replaced: list[Path], backups: dict, temps: dict) -> None:
    for path in reversed(replaced):
        backup = backups.get(path)
        if backup is None:
            _unlink_quietly(path)
        else:
            try:
                os.replace(backup, path)
            except OSError:  # keep undoing the others; the backup stays for the user
                backups[path] = None
    for temp in temps.values():
        _unlink_quietly(temp)


def _unlink_quietly(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
