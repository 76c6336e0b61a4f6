"""Shape primitives: the data moves, the values do not change."""

from compiler.keras.backend import xp
from compiler.keras.ops._core import as_tensor, primitive

__all__ = [
    "reshape",
    "transpose",
    "concatenate",
    "stack",
    "getitem",
    "pad",
    "expand_dims",
    "squeeze",
    "broadcast_to",
    "take",
    "flip",
    "split",
]


@primitive("reshape")
def _reshape(a, shape):
    return a.reshape(shape), a.shape


_reshape.defgrad(lambda shape, g: (g.reshape(shape),))


def reshape(x, new_shape):
    return _reshape(as_tensor(x), shape=tuple(new_shape))


@primitive("transpose")
def _transpose(a, axes):
    return xp.transpose(a, axes), axes


_transpose.defgrad(lambda axes, g: (xp.transpose(g, xp.argsort(axes)),))


def transpose(x, axes=None):
    x = as_tensor(x)
    axes = tuple(reversed(range(x.ndim))) if axes is None else tuple(a % x.ndim for a in axes)
    return _transpose(x, axes=axes)


@primitive("concatenate")
def _concatenate(*arrays, axis):
    sizes = [a.shape[axis] for a in arrays]
    return xp.concatenate(arrays, axis=axis), (sizes, axis)


@_concatenate.defgrad
def _concatenate_grad(ctx, g):
    sizes, axis = ctx
    return tuple(xp.split(g, xp.cumsum(sizes)[:-1], axis=axis))


def concatenate(xs, axis=-1):
    xs = [as_tensor(x) for x in xs]
    return _concatenate(*xs, axis=axis % xs[0].ndim)


def stack(xs, axis=0):
    xs = [as_tensor(x) for x in xs]
    axis = axis % (xs[0].ndim + 1)
    return concatenate([expand_dims(x, axis) for x in xs], axis=axis)


@primitive("getitem")
def _getitem(a, index):
    return a[index], (a.shape, a.dtype, index)


@_getitem.defgrad
def _getitem_grad(ctx, g):
    shape, dtype, index = ctx
    out = xp.zeros(shape, dtype=g.dtype)
    xp.add.at(out, index, g) if _has_array_index(index) else out.__setitem__(index, g)
    return (out,)


def _has_array_index(index):
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, (list, xp.ndarray)) for p in parts)


def getitem(x, index):
    return _getitem(as_tensor(x), index=index)


@primitive("pad")
def _pad(a, pad_width, constant_values):
    out = xp.pad(a, pad_width, constant_values=constant_values)
    return out, pad_width


@_pad.defgrad
def _pad_grad(pad_width, g):
    index = tuple(slice(lo, g.shape[i] - hi) for i, (lo, hi) in enumerate(pad_width))
    return (g[index],)


def pad(x, pad_width, constant_values=0):
    pad_width = tuple((int(lo), int(hi)) for lo, hi in pad_width)
    return _pad(as_tensor(x), pad_width=pad_width, constant_values=constant_values)


def expand_dims(x, axis):
    x = as_tensor(x)
    shape = list(x.shape)
    shape.insert(axis % (x.ndim + 1), 1)
    return reshape(x, shape)


def squeeze(x, axis=None):
    x = as_tensor(x)
    if axis is None:
        axes = {i for i, n in enumerate(x.shape) if n == 1}
    else:
        axes = {a % x.ndim for a in ((axis,) if isinstance(axis, int) else axis)}
    return reshape(x, [n for i, n in enumerate(x.shape) if i not in axes])


@primitive("broadcast_to")
def _broadcast_to(a, shape):
    return xp.broadcast_to(a, shape), None


_broadcast_to.defgrad(lambda ctx, g: (g,))


def broadcast_to(x, shape):
    return _broadcast_to(as_tensor(x), shape=tuple(shape))


@primitive("take")
def _take(a, indices, axis):
    return xp.take(a, indices, axis=axis), (a.shape, indices, axis)


@_take.defgrad
def _take_grad(ctx, g):
    shape, indices, axis = ctx
    out = xp.zeros(shape, dtype=g.dtype)
    moved = xp.moveaxis(out, axis, 0)
    grad = xp.moveaxis(g, tuple(range(axis, axis + indices.ndim)), tuple(range(indices.ndim)))
    xp.add.at(moved, indices, grad)
    return out, None


def take(x, indices, axis=0):
    """Gathers slices of ``x`` along ``axis`` (Embedding's lookup); ``indices`` get no gradient."""
    x = as_tensor(x)
    indices = as_tensor(indices)
    return _take(x, indices, axis=axis % x.ndim)


def flip(x, axis):
    x = as_tensor(x)
    index = [slice(None)] * x.ndim
    index[axis] = slice(None, None, -1)
    return getitem(x, tuple(index))


def split(x, indices_or_sections, axis=0):
    x = as_tensor(x)
    axis = axis % x.ndim
    n = x.shape[axis]
    if isinstance(indices_or_sections, int):
        step = n // indices_or_sections
        bounds = list(range(0, n + 1, step))
    else:
        bounds = [0, *indices_or_sections, n]
    outs = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        index = [slice(None)] * x.ndim
        index[axis] = slice(lo, hi)
        outs.append(getitem(x, tuple(index)))
    return outs
