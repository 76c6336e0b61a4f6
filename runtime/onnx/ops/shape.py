"""Shape and data-movement ops: Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Expand, Tile,
Concat, Split, Slice, Gather, Pad, Shape, Size, Identity, Dropout (onnx.ai/onnx/operators).

Ops whose output size comes from a value (Expand, Tile, Pad) check it against MAX_ELEMENTS.
Old-opset variants (attributes instead of inputs) carry the opset in their name.
"""

import math

import numpy as np

from runtime.errors import InvalidModelError, UnsupportedOpError
from runtime.onnx.ops._common import axis_index, check_size, ints


def Reshape(data, shape, *, allowzero=0):
    return data.reshape(reshaped(data.shape, _int_list(shape), allowzero))


def reshaped(shape: tuple, target: list, allowzero=0) -> list:
    """Reshape's output dims for an input of dims ``shape`` and the shape input ``target``."""
    size = math.prod(shape)  # (math.prod: Python ints, no overflow, and cheap on short lists)
    if 0 not in target and min(target, default=0) > 0:
        if math.prod(target) != size:
            raise InvalidModelError(f"Reshape: cannot reshape {list(shape)} to {target}")
        return target  # (every dim given: nothing to infer)
    out = []
    for i, d in enumerate(target):
        if d == 0 and not allowzero:
            if i >= len(shape):
                raise InvalidModelError(
                    f"Reshape: shape {target} copies dim {i} of a rank-{len(shape)} input"
                )
            d = shape[i]
        out.append(d)
    if out.count(-1) > 1 or any(d < -1 for d in out):
        raise InvalidModelError(f"Reshape: shape {target} is invalid")
    if -1 in out:
        known = math.prod(d for d in out if d != -1)
        if known == 0 or size % known:
            raise InvalidModelError(f"Reshape: cannot reshape {list(shape)} to {target}")
        out[out.index(-1)] = size // known
    if math.prod(out) != size:
        raise InvalidModelError(f"Reshape: cannot reshape {list(shape)} to {target}")
    return out


def Flatten(x, *, axis=1):
    if not -x.ndim <= axis <= x.ndim:
        raise InvalidModelError(f"Flatten: axis {axis} is out of range for rank {x.ndim}")
    axis = axis + x.ndim if axis < 0 else axis
    return x.reshape(math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))


def Transpose(data, *, perm=None):
    if perm is None:
        return data.transpose()
    if sorted(perm) != list(range(data.ndim)):
        raise InvalidModelError(f"Transpose: perm {perm} is not a permutation of rank {data.ndim}")
    return data.transpose(perm)


def Squeeze(data, axes=None):
    if axes is None:
        return np.squeeze(data)
    # (a reshape: the same view as np.squeeze's, without its axis normalization)
    return data.reshape(squeezed(data.shape, _int_list(axes)))


def squeezed(shape: tuple, axes: list) -> list:
    """Squeeze's output dims for an input of dims ``shape`` and the axes ``axes``."""
    rank = len(shape)
    drop = set()
    for a in axes:
        if not -rank <= a < rank:
            raise InvalidModelError(f"Squeeze: axis {a} is out of range for rank {rank}")
        a %= rank
        if shape[a] != 1:
            raise InvalidModelError(f"Squeeze: axis {a} of {list(shape)} is not 1")
        drop.add(a)
    return [d for i, d in enumerate(shape) if i not in drop]


def Squeeze_1(data, *, axes=None):
    return Squeeze(data, None if axes is None else np.asarray(axes))


def Unsqueeze(data, axes):
    return data.reshape(unsqueezed(data.shape, _int_list(axes)))


def unsqueezed(shape: tuple, axes: list) -> list:
    """Unsqueeze's output dims for an input of dims ``shape`` and the axes ``axes``."""
    rank = len(shape) + len(axes)
    out = list(shape)
    if len(axes) == 1:
        a = axes[0]
        if not -rank <= a < rank:
            raise InvalidModelError(f"Unsqueeze: axis {a} is out of range for rank {rank}")
        out.insert(a % rank, 1)
        return out
    normal = sorted(axis_index(a, rank, "Unsqueeze") for a in axes)
    if len(set(normal)) != len(normal):
        raise InvalidModelError(f"Unsqueeze: repeated axes {axes}")
    for a in normal:  # (ascending: each axis indexes the output)
        out.insert(a, 1)
    return out


def Unsqueeze_1(data, *, axes):
    return Unsqueeze(data, np.asarray(axes))


def Expand(x, shape):
    target = ints(shape)
    try:
        out = np.broadcast_shapes(x.shape, tuple(target))
    except ValueError:
        raise InvalidModelError(f"Expand: {list(x.shape)} cannot broadcast to {target}") from None
    check_size(out, "Expand")
    return np.broadcast_to(x, out)


def Tile(x, repeats):
    reps = ints(repeats)
    if len(reps) != x.ndim:
        raise InvalidModelError(f"Tile: {len(reps)} repeats for a rank-{x.ndim} input")
    check_size([d * r for d, r in zip(x.shape, reps, strict=True)], "Tile")
    return np.tile(x, reps)


def Concat(*inputs, axis):
    if not inputs:
        raise InvalidModelError("Concat: needs at least one input")
    rank = inputs[0].ndim
    axis = axis_index(axis, rank, "Concat")
    shape = list(inputs[0].shape)
    shape[axis] = sum([x.shape[axis] for x in inputs if x.ndim == rank])
    check_size(shape, "Concat", inputs[0].dtype.itemsize)
    if axis == 1 and rank > 2 and not all([x.flags.c_contiguous for x in inputs]):
        # Channel concatenation of Conv outputs (channels-last memory seen as NCHW): done in
        # channels-last memory too, so the next Conv reads its windows without a transpose.
        # (transpose with the permutation: np.moveaxis's checks cost more on small tensors)
        if all([x.ndim == rank and x.shape[1] > 1 for x in inputs]):
            moved = [x.transpose((0, *range(2, rank), 1)) for x in inputs]
            if all([m.flags.c_contiguous for m in moved]):
                joined = np.concatenate(moved, axis=-1)
                return joined.transpose((0, rank - 1, *range(1, rank - 1)))
    return np.concatenate(inputs, axis=axis)


def Split(x, split=None, *, axis=0, num_outputs=None, _n_outputs=1):
    axis = axis_index(axis, x.ndim, "Split")
    size = x.shape[axis]
    if split is not None:
        sizes = ints(split)
    elif num_outputs is not None:
        # opset 18: the last chunk may be smaller.
        chunk = -(-size // num_outputs)
        sizes = [chunk] * (num_outputs - 1) + [size - chunk * (num_outputs - 1)]
    else:
        if size % _n_outputs:
            raise InvalidModelError(
                f"Split: dim {size} does not split into {_n_outputs} equal parts"
            )
        sizes = [size // _n_outputs] * _n_outputs
    if sum(sizes) != size or any(s < 0 for s in sizes):
        raise InvalidModelError(f"Split: sizes {sizes} do not add up to dim {size}")
    return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=axis))


def Split_2(x, *, axis=0, split=None, _n_outputs=1):
    """Split before opset 13: sizes are an attribute."""
    return Split(x, None if not split else np.asarray(split), axis=axis, _n_outputs=_n_outputs)


def Slice(data, starts, ends, axes=None, steps=None):
    return data[
        slice_index(
            data.shape,
            _int_list(starts),
            _int_list(ends),
            None if axes is None else _int_list(axes),
            None if steps is None else _int_list(steps),
        )
    ]


def slice_index(shape: tuple, starts: list, ends: list, axes, steps) -> tuple:
    """The numpy index of Slice on an input of dims ``shape`` (axes, steps: None or lists)."""
    n = len(starts)
    axes = range(n) if axes is None else axes
    steps = [1] * n if steps is None else steps
    if not n == len(ends) == len(axes) == len(steps):
        raise InvalidModelError("Slice: starts, ends, axes and steps differ in length")
    rank = len(shape)
    index = [slice(None)] * rank
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        if not -rank <= axis < rank:
            raise InvalidModelError(f"Slice: axis {axis} is out of range for rank {rank}")
        axis %= rank
        dim = shape[axis]
        if step == 0:
            raise InvalidModelError("Slice: step 0")
        start = start + dim if start < 0 else start
        end = end + dim if end < 0 else end
        if step > 0:
            start, end = min(max(start, 0), dim), min(max(end, 0), dim)
        else:
            start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
        index[axis] = slice(start, None if end < 0 else end, step)
    return tuple(index)


def Slice_1(data, *, starts, ends, axes=None):
    return Slice(
        data, np.asarray(starts), np.asarray(ends), None if axes is None else np.asarray(axes)
    )


def _int_list(values) -> list[int]:
    """``ints(values)``; an integer array's list at once (a shape op's axes, a Slice's bounds:
    np.asarray and its checks cost more than the list)."""
    if type(values) is np.ndarray and values.dtype.kind in "iu":
        return values.reshape(-1).tolist()
    return ints(values)


def Gather(data, indices, *, axis=0):
    axis = axis_index(axis, data.ndim, "Gather")
    dim = data.shape[axis]
    if type(indices) is np.ndarray and indices.ndim == 0 and indices.dtype.kind in "iu":
        # One index (a state's layer, a shape's dim): a view of that slice of data, as
        # np.take's copy of it (Ellipsis keeps a 0-d result an array).
        i = int(indices)
        if not -dim <= i < dim:
            raise InvalidModelError(
                f"Gather: indices must be in [{-dim}, {dim - 1}] for axis {axis}; "
                f"received [{i}, {i}]"
            )
        return data[(slice(None),) * axis + (i, Ellipsis)]
    idx = indices.astype(np.int64, copy=False)
    if idx.size <= _FEW:  # (a shape's dim: Python's min and max cost less than numpy's)
        values = idx.reshape(-1).tolist()
        lo, hi = min(values, default=0), max(values, default=0)
    else:
        lo, hi = idx.min(), idx.max()
    if lo < -dim or hi >= dim:
        raise InvalidModelError(
            f"Gather: indices must be in [{-dim}, {dim - 1}] for axis {axis}; received [{lo}, {hi}]"
        )
    if idx.ndim == 0:  # one index: no larger than data
        return np.asarray(np.take(data, int(idx) % dim if dim else 0, axis=axis))
    out = data.shape[:axis] + idx.shape + data.shape[axis + 1 :]
    check_size(out, "Gather", data.dtype.itemsize)
    return np.take(data, np.where(idx < 0, idx + dim, idx) if lo < 0 else idx, axis=axis)


# Index tensors of at most this many elements are checked in Python.
_FEW = 64


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "edge", "wrap": "wrap"}


def Pad(data, pads, constant_value=None, axes=None, *, mode="constant"):
    if mode not in _PAD_MODES:
        raise UnsupportedOpError(f"Pad: mode {mode!r} is not one of {sorted(_PAD_MODES)}")
    pads = ints(pads)
    rank = data.ndim
    if axes is None:
        if len(pads) != 2 * rank:
            raise InvalidModelError(f"Pad: {len(pads)} pads for {rank} axes")
        begin, end = pads[:rank], pads[rank:]
    else:
        axes = [axis_index(a, rank, "Pad") for a in ints(axes)]
        if len(pads) != 2 * len(axes):
            raise InvalidModelError(f"Pad: {len(pads)} pads for {len(axes)} axes")
        begin, end = [0] * rank, [0] * rank
        for i, axis in enumerate(axes):
            begin[axis], end[axis] = pads[i], pads[len(axes) + i]
    if min(begin, default=0) < 0 or min(end, default=0) < 0:
        # Negative pads crop first; then non-negative pads are added.
        crop = tuple(
            slice(max(-b, 0), d - max(-e, 0))
            for b, e, d in zip(begin, end, data.shape, strict=True)
        )
        data = data[crop]
        begin, end = [max(b, 0) for b in begin], [max(e, 0) for e in end]
    check_size([d + b + e for d, b, e in zip(data.shape, begin, end, strict=True)], "Pad")
    width = list(zip(begin, end, strict=True))
    if mode == "constant":
        value = 0 if constant_value is None or constant_value.size == 0 else constant_value.item()
        # (np.pad's general machinery costs tens of microseconds; this is its constant mode)
        out = np.full(
            [d + b + e for d, (b, e) in zip(data.shape, width, strict=True)], value, data.dtype
        )
        out[tuple(slice(b, b + d) for d, (b, _) in zip(data.shape, width, strict=True))] = data
        return out
    if data.size == 0:
        raise InvalidModelError(f"Pad: mode {mode!r} needs a non-empty input")
    out = data
    for axis, (b, e) in enumerate(width):
        if b or e:
            out = _pad_axis(out, axis, b, e, mode)
            if out is None:
                return np.pad(data, width, mode=_PAD_MODES[mode])
    return out if out is not data else data.copy()


def _pad_axis(x, axis: int, b: int, e: int, mode: str):
    """``x`` padded by ``b`` and ``e`` along ``axis`` as np.pad does it (axis after axis, each
    from the array padded so far), by one concatenation; None for pads wider than one
    reflection or wrap of the axis (np.pad's repeated passes decide those)."""
    n = x.shape[axis]
    if mode == "reflect":  # (mirrored about the end values, which are not repeated)
        if b >= n or e >= n:
            return None
        head = _along(x, axis, slice(b, 0, -1))
        stop = n - 2 - e
        tail = _along(x, axis, slice(n - 2, stop if stop >= 0 else None, -1))
    elif mode == "wrap":
        if b > n or e > n:
            return None
        head, tail = _along(x, axis, slice(n - b, n)), _along(x, axis, slice(0, e))
    else:  # edge
        head = np.repeat(_along(x, axis, slice(0, 1)), b, axis=axis)
        tail = np.repeat(_along(x, axis, slice(n - 1, n)), e, axis=axis)
    return np.concatenate((head, x, tail), axis=axis)


def _along(x, axis: int, index: slice):
    return x[(slice(None),) * axis + (index,)]


def Pad_2(data, *, pads, mode="constant", value=0.0):
    """Pad before opset 11: pads and the value are attributes."""
    return Pad(data, np.asarray(pads), np.asarray(value, dtype=data.dtype), mode=mode)


def Shape(data, *, start=0, end=None):
    shape = np.array(data.shape, dtype=np.int64)
    if not start and end is None:
        return shape
    rank = data.ndim
    start = min(max(start + rank if start < 0 else start, 0), rank)
    end = rank if end is None else min(max(end + rank if end < 0 else end, 0), rank)
    return shape[start:end]


def Size(data):
    return np.asarray(data.size, dtype=np.int64)


def Identity(x):
    # A sequence (list) is one output, not a list of outputs.
    return (x,) if isinstance(x, list) else x


def Dropout_7(data, *, ratio=0.5):
    """Dropout-7 (to opset 9): ratio is an attribute; inference is the identity.

    The mask has the data's type T (Dropout-10 made it bool). The spec leaves its inference
    value open; onnxruntime, the reference tool for these files, fills it with zeros ("nothing
    dropped") up to opset 11 and with True from Dropout-12 on, and so does this runtime.
    """
    return data, np.zeros(data.shape, dtype=data.dtype)


def Dropout_10(data, *, ratio=0.5):
    """Dropout-10 (to opset 11): as Dropout-7 with a bool mask (all False, see Dropout_7)."""
    return data, np.zeros(data.shape, dtype=np.bool_)


def GatherElements(data, indices, *, axis=0):
    axis = axis_index(axis, data.ndim, "GatherElements")
    dim = data.shape[axis]
    idx = indices.astype(np.int64)
    if idx.ndim != data.ndim:
        raise InvalidModelError(f"GatherElements: indices rank {idx.ndim} != data rank {data.ndim}")
    if idx.size and (idx.min() < -dim or idx.max() >= dim):
        raise InvalidModelError(f"GatherElements: indices must be in [{-dim}, {dim - 1}]")
    return np.take_along_axis(data, np.where(idx < 0, idx + dim, idx), axis=axis)


def Dropout(data, ratio=None, training_mode=None, *, seed=None):
    """Dropout-12+: the identity unless ``training_mode`` is true; then each element is kept
    with probability 1 - ratio and scaled by 1 / (1 - ratio), the mask telling which were.

    A seeded node draws its mask as the spec's reference implementation does (numpy's
    RandomState(seed).uniform), so its results equal the node suite's; onnxruntime's own
    generator draws other masks. Without a seed each run draws fresh entropy.
    """
    if training_mode is None or not _one_value(training_mode, "training_mode"):
        return data, np.ones(data.shape, dtype=np.bool_)
    r = 0.5 if ratio is None else float(_one_value(ratio, "ratio"))
    if not 0.0 <= r < 1.0:
        raise InvalidModelError(f"Dropout: ratio must be in [0, 1) in training mode; got {r}")
    if r == 0.0:
        return data, np.ones(data.shape, dtype=np.bool_)
    if data.dtype.kind != "f":
        raise InvalidModelError(f"Dropout: element type {data.dtype} is not allowed")
    draws = np.random.RandomState(seed).uniform(0.0, 1.0, data.shape)
    mask = draws >= r
    return (mask * data * (1.0 / (1.0 - r))).astype(data.dtype), mask


def _one_value(x, what: str):
    """The value of a one-element tensor input (Dropout's ratio and training_mode)."""
    x = np.asarray(x)
    if x.size != 1:
        raise InvalidModelError(f"Dropout: {what} must hold one value; has shape {list(x.shape)}")
    return x.reshape(-1)[0]
