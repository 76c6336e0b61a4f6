"""TensorScatter (onnx.ai/onnx/operators/onnx__TensorScatter.html, opset 24).

A KV-cache update: ``update`` (``past_cache``'s shape except a shorter ``axis``) is written into
a copy of ``past_cache`` along ``axis`` (not 0) from ``write_indices[b]`` (per batch, default 0);
``mode`` ``linear`` requires the slice to fit, ``circular`` wraps modulo the axis length.
"""

import numpy as np

from runtime.errors import InvalidModelError
from runtime.onnx.ops._common import axis_index


def TensorScatter(past_cache, update, write_indices=None, *, axis=-2, mode="linear"):
    if mode not in ("linear", "circular"):
        raise InvalidModelError(f"TensorScatter: mode {mode!r}; expected linear or circular")
    rank = past_cache.ndim
    axis = axis_index(axis, rank, "TensorScatter")
    if axis == 0 or update.ndim != rank:
        raise InvalidModelError(
            f"TensorScatter: axis {axis} must not be the batch axis and update (rank "
            f"{update.ndim}) must have the cache's rank {rank}"
        )
    fits = all(u == c for i, (u, c) in enumerate(zip(update.shape, past_cache.shape)) if i != axis)
    size, count = past_cache.shape[axis], update.shape[axis]
    if not fits or count > size:
        raise InvalidModelError(
            f"TensorScatter: update {list(update.shape)} does not fit cache "
            f"{list(past_cache.shape)} along axis {axis}"
        )
    batch = past_cache.shape[0]
    starts = np.zeros(batch, np.int64) if write_indices is None else write_indices.reshape(-1)
    if starts.shape != (batch,):
        raise InvalidModelError(f"TensorScatter: write_indices must have {batch} entries")
    present = past_cache.copy()
    for b in range(batch):
        index = int(starts[b]) + np.arange(count)
        if mode == "circular":
            index %= size
        elif count and (index[0] < 0 or index[-1] >= size):
            raise InvalidModelError(
                f"TensorScatter: write index {int(starts[b])} + {count} rows exceeds the axis "
                f"length {size} (mode linear)"
            )
        target = np.moveaxis(present[b], axis - 1, 0)  # a view: writes land in present
        target[index] = np.moveaxis(update[b], axis - 1, 0)
    return present
