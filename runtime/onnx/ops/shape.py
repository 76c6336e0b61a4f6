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
    target = ints(shape)
    out = []
    for i, d in enumerate(target):
        if d == 0 and not allowzero:
            if i >= data.ndim:
                raise InvalidModelError(
                    f"Reshape: shape {target} copies dim {i} of a rank-{data.ndim} input"
                )
            d = data.shape[i]
        out.append(d)
    if out.count(-1) > 1 or any(d < -1 for d in out):
        raise InvalidModelError(f"Reshape: shape {target} is invalid")
    # (math.prod: Python ints, no overflow, and a tenth of np.prod's cost on a short list)
    if -1 in out:
        known = math.prod(d for d in out if d != -1)
        if known == 0 or data.size % known:
            raise InvalidModelError(f"Reshape: cannot reshape {list(data.shape)} to {target}")
        out[out.index(-1)] = data.size // known
    if math.prod(out) != data.size:
        raise InvalidModelError(f"Reshape: cannot reshape {list(data.shape)} to {target}")
    return data.reshape(out)


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
    axes = {axis_index(a, data.ndim, "Squeeze") for a in ints(axes)}
    if any(data.shape[a] != 1 for a in axes):
        raise InvalidModelError(f"Squeeze: axes {sorted(axes)} of {list(data.shape)} are not 1")
    # (a reshape: the same view as np.squeeze's, without its axis normalization)
    return data.reshape([d for i, d in enumerate(data.shape) if i not in axes])


def Squeeze_1(data, *, axes=None):
    return Squeeze(data, None if axes is None else np.asarray(axes))


def Unsqueeze(data, axes):
    axes = ints(axes)
    rank = data.ndim + len(axes)
    normal = sorted(axis_index(a, rank, "Unsqueeze") for a in axes)
    if len(set(normal)) != len(normal):
        raise InvalidModelError(f"Unsqueeze: repeated axes {axes}")
    shape = list(data.shape)
    for a in normal:  # (ascending: each axis indexes the output)
        shape.insert(a, 1)
    return data.reshape(shape)


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
    axis = axis_index(axis, inputs[0].ndim, "Concat")
    shape = list(inputs[0].shape)
    shape[axis] = sum(x.shape[axis] for x in inputs if x.ndim == len(shape))
    check_size(shape, "Concat", inputs[0].dtype.itemsize)
    if (
        axis == 1
        and len(shape) > 2
        and not all(x.flags.c_contiguous for x in inputs)
        and all(_channels_last(x, len(shape)) for x in inputs)
    ):
        # Channel concatenation of Conv outputs (channels-last memory seen as NCHW): done in
        # channels-last memory too, so the next Conv reads its windows without a transpose.
        joined = np.concatenate([np.moveaxis(x, 1, -1) for x in inputs], axis=-1)
        return np.moveaxis(joined, -1, 1)
    return np.concatenate(inputs, axis=axis)


def _channels_last(x, ndim: int) -> bool:
    return x.ndim == ndim and np.moveaxis(x, 1, -1).flags.c_contiguous and x.shape[1] > 1


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
    starts, ends = ints(starts), ints(ends)
    axes = list(range(len(starts))) if axes is None else ints(axes)
    steps = [1] * len(starts) if steps is None else ints(steps)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise InvalidModelError("Slice: starts, ends, axes and steps differ in length")
    index = [slice(None)] * data.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        axis = axis_index(axis, data.ndim, "Slice")
        dim = data.shape[axis]
        if step == 0:
            raise InvalidModelError("Slice: step 0")
        start = start + dim if start < 0 else start
        end = end + dim if end < 0 else end
        if step > 0:
            start, end = min(max(start, 0), dim), min(max(end, 0), dim)
        else:
            start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
        index[axis] = slice(start, None if end < 0 else end, step)
    return data[tuple(index)]


def Slice_1(data, *, starts, ends, axes=None):
    return Slice(
        data, np.asarray(starts), np.asarray(ends), None if axes is None else np.asarray(axes)
    )


def Gather(data, indices, *, axis=0):
    axis = axis_index(axis, data.ndim, "Gather")
    dim = data.shape[axis]
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
    axes = (
        list(range(data.ndim))
        if axes is None
        else [axis_index(a, data.ndim, "Pad") for a in ints(axes)]
    )
    if len(pads) != 2 * len(axes):
        raise InvalidModelError(f"Pad: {len(pads)} pads for {len(axes)} axes")
    begin, end = [0] * data.ndim, [0] * data.ndim
    for i, axis in enumerate(axes):
        begin[axis], end[axis] = pads[i], pads[len(axes) + i]
    # Negative pads crop first; then non-negative pads are added.
    crop = tuple(
        slice(max(-b, 0), d - max(-e, 0)) for b, e, d in zip(begin, end, data.shape, strict=True)
    )
    data = data[crop]
    check_size(
        [d + max(b, 0) + max(e, 0) for d, b, e in zip(data.shape, begin, end, strict=True)], "Pad"
    )
    width = [(max(b, 0), max(e, 0)) for b, e in zip(begin, end, strict=True)]
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
    return np.pad(data, width, mode=_PAD_MODES[mode])


def Pad_2(data, *, pads, mode="constant", value=0.0):
    """Pad before opset 11: pads and the value are attributes."""
    return Pad(data, np.asarray(pads), np.asarray(value, dtype=data.dtype), mode=mode)


def Shape(data, *, start=0, end=None):
    shape = np.asarray(data.shape, dtype=np.int64)
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
    if training_mode is not None and bool(training_mode):
        raise UnsupportedOpError("Dropout: training_mode=True is not supported (inference only)")
    return data, np.ones(data.shape, dtype=np.bool_)
