"""Sparse constant tensors (``Tensor.sparsity``) turned into dense arrays.

Format (``SparsityParameters`` in the TFLite schema; ``FormatConverter::SparseToDense`` in
``tflite/kernels/internal/utils/sparsity_format_converter.cc``): a tensor of rank n, some of
whose dims are split into blocks (``block_map[k]`` is the dim that block dim k splits), is
stored as the n + len(block_map) "expanded" dims, visited in ``traversal_order`` (the first n
levels are the original dims, the rest the block dims). ``dim_metadata[level]`` says how each
level is stored: DENSE (all ``dense_size`` positions) or SPARSE_CSR (for parent position p,
the children are ``array_indices[array_segments[p]:array_segments[p + 1]]``). The stored
values are the leaves in that order. Block k's size is
``dim_metadata[traversal_order[n + k]].dense_size``.

LiteRT reads these vectors without checking them (its optional verifier does); here every
vector is checked first, so a hostile file gets ``InvalidModelError`` rather than an index
error or a huge allocation: a permutation for ``traversal_order``, block sizes that divide
their dims, DENSE sizes equal to the expanded dims, one segment per parent position plus one,
segments from 0, non-decreasing and ending at the number of indices, indices inside their dim,
and as many stored values as leaves. Duplicate indices are accepted and the last one wins,
as in LiteRT's sequential writes. Sizes are charged to the run's ``max_tensor_bytes`` before
anything is allocated.
"""

from __future__ import annotations

import math

import numpy as np

from runtime._budget import check_elements
from runtime.errors import InvalidModelError
from runtime.tflite.schema import DimensionType


def densify(shape: tuple[int, ...], sparsity, values: np.ndarray, what: str) -> np.ndarray:
    """The dense array of ``shape`` described by ``sparsity`` and its stored ``values`` (1-D).

    Raises:
        InvalidModelError: the sparsity parameters are inconsistent or out of range.
        BudgetExceededError: the dense tensor or the index arrays exceed the run's limits.
    """
    order, block_map, dims = sparsity.traversal_order, sparsity.block_map, sparsity.dim_metadata
    n, total = len(shape), len(order)

    def fail(message: str) -> InvalidModelError:
        return InvalidModelError(f"{what}: sparsity {message}")

    if sorted(order) != list(range(total)) or total != n + len(block_map):
        raise fail(
            f"traversal_order {_short(order)} is not a permutation of the {n} dims and "
            f"{len(block_map)} block dims"
        )
    if any(d >= n for d in order[:n]):
        raise fail(f"traversal_order {_short(order)} must list the {n} tensor dims first")
    if len(dims) != total:
        raise fail(f"has {len(dims)} dim_metadata entries, expected {total}")
    if list(block_map) != sorted(set(block_map)) or any(not 0 <= d < n for d in block_map):
        raise fail(f"block_map {_short(block_map)} must be increasing dims in [0, {n})")
    check_elements(shape, lambda: f"{what}: densified tensor", values.dtype.itemsize)
    block_sizes = [int(dims[order[n + k]].dense_size) for k in range(len(block_map))]
    expanded = list(shape)
    for k, d in enumerate(block_map):
        if block_sizes[k] < 1 or shape[d] % block_sizes[k]:
            raise fail(f"block size {block_sizes[k]} does not divide dim {d} of {list(shape)}")
        expanded[d] //= block_sizes[k]
    expanded += block_sizes

    coords: list[np.ndarray] = []  # per level so far: the index of each path at that level
    position = np.zeros(1, np.int64)  # each path's position in its level's index space
    space = 1  # size of that index space
    for level in range(total):
        meta, size = dims[level], expanded[order[level]]
        if meta.format == DimensionType.DENSE:
            if meta.dense_size != size:
                raise fail(f"level {level} is DENSE of size {meta.dense_size}, expected {size}")
            _charge(len(position) * size, level + 1, what)
            index = np.tile(np.arange(size, dtype=np.int64), len(position))
            coords = [np.repeat(c, size) for c in coords] + [index]
            position = np.repeat(position, size) * size + index
            space *= size
        elif meta.format == DimensionType.SPARSE_CSR:
            segments, indices = _csr_vectors(meta, level, space, size, fail)
            starts = segments[position]
            counts = segments[position + 1] - starts
            count = int(counts.sum())
            _charge(count, level + 1, what)
            # Child k of a parent sits at starts + k: one arange shifted per parent.
            offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts)
            position = offsets + np.arange(count, dtype=np.int64)
            coords = [np.repeat(c, counts) for c in coords] + [indices[position]]
            space = len(indices)
        else:
            raise fail(f"level {level} has unknown format {meta.format}")
    if len(position) != values.size:
        raise fail(f"describes {len(position)} stored values, the buffer holds {values.size}")

    original = [None] * n
    for level in range(n):
        original[order[level]] = coords[level]
    for level in range(n, total):
        k = order[level] - n
        original[block_map[k]] = original[block_map[k]] * block_sizes[k] + coords[level]
    dense = np.zeros(math.prod(shape), values.dtype)
    if n == 0:
        dense[...] = values.reshape(dense.shape)
        return dense.reshape(shape)
    flat = np.ravel_multi_index(original, shape)
    # With duplicate indices the last stored value wins, as in LiteRT's sequential writes.
    _, last_from_end = np.unique(flat[::-1], return_index=True)
    keep = len(flat) - 1 - last_from_end
    dense[flat[keep]] = values.ravel()[keep]
    return dense.reshape(shape)


def _csr_vectors(meta, level: int, space: int, size: int, fail):
    """A SPARSE_CSR level's (segments, indices) as int64, checked."""
    if meta.segments is None or meta.indices is None:
        raise fail(f"level {level} is SPARSE_CSR without array_segments and array_indices")
    segments = meta.segments.astype(np.int64)
    indices = meta.indices.astype(np.int64)
    if len(segments) != space + 1:
        raise fail(
            f"level {level} has {len(segments)} array_segments, expected {space + 1} "
            "(one per parent position, plus one)"
        )
    if segments[0] != 0 or segments[-1] != len(indices) or np.any(np.diff(segments) < 0):
        raise fail(
            f"level {level}: array_segments must rise from 0 to the {len(indices)} indices "
            "without decreasing"
        )
    if len(indices) and (indices.min() < 0 or indices.max() >= size):
        raise fail(f"level {level}: array_indices outside [0, {size})")
    return segments, indices


def _charge(paths: int, levels: int, what: str) -> None:
    # One int64 coordinate per level and path, plus the positions.
    check_elements((paths, levels + 1), lambda: f"{what}: sparse index arrays", 8)


def _short(values) -> str:
    values = list(values)
    return str(values) if len(values) <= 8 else f"{values[:8]}..."


def densify_tensor(t, dtype: np.dtype, where: str) -> np.ndarray:
    """The dense value of sparse constant tensor ``t`` (a ``model.Tensor``) of ``dtype``."""
    what = f"{where}: tensor {t.name!r}"
    if t.sparsity is None or len(t.data) % dtype.itemsize:
        raise InvalidModelError(
            f"{what}: sparse buffer of {len(t.data)} bytes is not a whole number of {dtype} values"
        )
    values = np.frombuffer(t.data, dtype=dtype.newbyteorder("<")).astype(dtype, copy=False)
    dense = densify(t.shape, t.sparsity, values, what)
    dense.flags.writeable = False
    return dense


def details(sparsity) -> dict:
    """``sparsity_parameters`` of LiteRT's tensor details (``PyDictFromSparsityParam`` in its
    Python wrapper): int32 arrays; ``block_map`` only when the file has one; each level's
    ``format`` (0 DENSE, 1 SPARSE_CSR) with its ``dense_size`` or its segments and indices."""
    levels = []
    for meta in sparsity.dim_metadata:
        if meta.format == DimensionType.DENSE:
            levels.append({"format": 0, "dense_size": int(meta.dense_size)})
        else:
            levels.append(
                {
                    "format": 1,
                    "array_segments": _int32s(meta.segments),
                    "array_indices": _int32s(meta.indices),
                }
            )
    out = {"traversal_order": np.array(sparsity.traversal_order, np.int32)}
    if sparsity.has_block_map:
        out["block_map"] = np.array(sparsity.block_map, np.int32)
    out["dim_metadata"] = levels
    return out


def _int32s(values) -> np.ndarray:
    return np.zeros(0, np.int32) if values is None else np.asarray(values).astype(np.int32)
