"""Real Fashion-MNIST test images for the demo tests (Debian ``dataset-fashion-mnist``)."""

from __future__ import annotations

import gzip
import struct

import numpy as np

from tests.demos._tools import FASHION_MNIST, missing


def _read_idx(path) -> np.ndarray:
    data = gzip.decompress(path.read_bytes())
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fashion_test_images(count: int) -> tuple[np.ndarray, np.ndarray]:
    """The first test image of each of the first ``count`` classes, as (images, labels)."""
    images_path = FASHION_MNIST / "t10k-images-idx3-ubyte.gz"
    labels_path = FASHION_MNIST / "t10k-labels-idx1-ubyte.gz"
    if not images_path.is_file() or not labels_path.is_file():
        missing(f"Fashion-MNIST under {FASHION_MNIST} (Debian dataset-fashion-mnist)")
    images, labels = _read_idx(images_path), _read_idx(labels_path)
    picks = [int(np.flatnonzero(labels == c)[0]) for c in range(count)]
    return images[picks].copy(), labels[picks].astype(np.int64)
