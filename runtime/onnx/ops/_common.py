"""Helpers shared by op implementations: axes, sizes, padding and im2col windows."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from runtime._budget import DEFAULT_MAX_TENSOR_BYTES, check_elements
from runtime.errors import InvalidModelError

# The largest tensor an op may create by default, in elements (1 GiB of float32). The limit in
# force is the run's ``max_tensor_bytes`` (``runtime.Limits``); ops whose output size is driven
# by values or by broadcasting (ConstantOfShape, Expand, Tile, Range, Pad, conv windows, Add of
# [n, 1] and [1, m], MatMul, Concat) check against it before allocating.
MAX_ELEMENTS = DEFAULT_MAX_TENSOR_BYTES // 4


def check_size(shape, op: str, itemsize: int = 4) -> tuple[int, ...]:
    """``shape`` as ints, after checking it is non-negative and within the run's limit."""
    return check_elements(shape, op, itemsize)


def matmul_shape(a: tuple, b: tuple) -> tuple:
    """numpy.matmul's result shape (a 1-D operand gains then loses a unit dim)."""
    if not a or not b:
        raise InvalidModelError(f"MatMul: an operand is a scalar: {list(a)} and {list(b)}")
    a2 = (1,) + a if len(a) == 1 else a
    b2 = b + (1,) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        raise InvalidModelError(f"MatMul: inner dims differ: {list(a)} and {list(b)}")
    try:
        batch = np.broadcast_shapes(a2[:-2], b2[:-2])
    except ValueError:
        raise InvalidModelError(
            f"MatMul: batch dims of {list(a)} and {list(b)} do not broadcast"
        ) from None
    return batch + a2[-2:-1] * (len(a) > 1) + b2[-1:] * (len(b) > 1)


def broadcast_size(op: str, *xs, itemsize: int | None = None) -> tuple[int, ...]:
    """The broadcast shape of ``xs``, refused before allocation when too large (``itemsize``:
    bytes per element of the result, the inputs' largest when None)."""
    try:
        shape = np.broadcast_shapes(*(np.shape(x) for x in xs))
    except ValueError:
        raise InvalidModelError(
            f"{op}: shapes {[list(np.shape(x)) for x in xs]} do not broadcast"
        ) from None
    if itemsize is None:
        itemsize = max((x.dtype.itemsize for x in xs if isinstance(x, np.ndarray)), default=4)
    return check_size(shape, op, itemsize)


def axis_index(axis: int, rank: int, op: str) -> int:
    """``axis`` normalized to [0, rank), with an error when it is out of range."""
    axis = int(axis)
    if not -rank <= axis < rank:
        raise InvalidModelError(f"{op}: axis {axis} is out of range for rank {rank}")
    return axis % rank


def ints(values) -> list[int]:
    """A 1-D int list from an attribute list or an int tensor input."""
    array = np.asarray(values).reshape(-1)
    if array.dtype.kind in "iu":
        return array.tolist()  # (Python ints at once: a loop of int() costs ten times more)
    return [int(v) for v in array]


def conv_pads(
    spatial: tuple, kernel: tuple, strides, dilations, auto_pad: str, pads, op: str
) -> list[int]:
    """Begin pads then end pads for each spatial dim, per the ONNX Conv/Pool ``auto_pad`` rule."""
    n = len(spatial)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begins, ends = [], []
        for size, k, s, d in zip(spatial, kernel, strides, dilations, strict=True):
            out = -(-size // s)
            total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
            small, big = total // 2, total - total // 2
            begins.append(small if auto_pad == "SAME_UPPER" else big)
            ends.append(big if auto_pad == "SAME_UPPER" else small)
        return begins + ends
    if auto_pad == "VALID":
        return [0] * (2 * n)
    if auto_pad != "NOTSET":
        raise InvalidModelError(
            f"{op}: auto_pad {auto_pad!r} is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID"
        )
    pads = list(pads) if pads else [0] * (2 * n)
    if len(pads) != 2 * n or any(p < 0 for p in pads):
        raise InvalidModelError(f"{op}: pads {pads} should be {2 * n} non-negative ints")
    return pads


def windows(x: np.ndarray, kernel, strides, dilations, pads, pad_value, extra_end=None):
    """A view of every window of ``x`` (N, C, *spatial): shape (N, C, *out, *kernel).

    The input is padded once (a copy only when there are pads); the windows themselves are a
    strided view, so reducing or reshaping them is the only copy.
    """
    n = len(kernel)
    ends = [pads[n + i] + (extra_end[i] if extra_end else 0) for i in range(n)]
    if any(pads[:n]) or any(ends):
        padded = [d + pads[i] + ends[i] for i, d in enumerate(x.shape[2:])]
        check_size(list(x.shape[:2]) + padded, "padding")
        width = [(0, 0), (0, 0)] + [(pads[i], ends[i]) for i in range(n)]
        x = np.pad(x, width, constant_values=pad_value)
    extent = [(k - 1) * d + 1 for k, d in zip(kernel, dilations, strict=True)]
    if any(e > s for e, s in zip(extent, x.shape[2:], strict=True)):
        raise InvalidModelError(
            f"kernel extent {extent} is larger than the padded input {list(x.shape[2:])}"
        )
    view = sliding_window_view(x, extent, axis=tuple(range(2, 2 + n)))
    index = (slice(None), slice(None))
    index += tuple(slice(None, None, s) for s in strides)
    index += tuple(slice(None, None, d) for d in dilations)
    return view[index]
