"""Shared helpers of the corpus tests: which manifest files to parametrize over, seeded inputs."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from tests.corpus import CORPUS_DIR, entries, require_corpus


def manifest_names(suffix: str) -> list[str]:
    """``package/path`` of every manifest file with ``suffix``, sorted.

    Taken from the committed manifest, not from the disk, so that the tests are the same
    whether or not the corpus was fetched (an absent corpus fails under CI, skips elsewhere).
    """
    return sorted(
        f"{package}/{e['path']}" for package, e in entries() if e["path"].endswith(suffix)
    )


def corpus_path(name: str, kind: str) -> Path:
    require_corpus(kind)
    return CORPUS_DIR / name


def rng_for(name: str) -> np.random.Generator:
    """A generator seeded by the file's name: the same inputs on every run and machine."""
    return np.random.default_rng(zlib.crc32(name.encode()))


def random_tensor(rng: np.random.Generator, shape, dtype) -> np.ndarray:
    """Integers over their whole range (int8 inputs are already-quantized activations),
    booleans at random, floats uniform in [-1, 1] (the range image and audio models expect
    after their usual normalization)."""
    dtype = np.dtype(dtype)
    shape = tuple(int(d) for d in shape)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype)
    return rng.uniform(-1.0, 1.0, shape).astype(dtype)
