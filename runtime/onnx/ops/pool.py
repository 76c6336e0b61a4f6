"""MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool (onnx.ai/onnx/operators).

Windows are a strided view of the (padded) input and the reduction runs over the kernel axes.
With ``ceil_mode`` the last window may run past the end pad; ONNX drops a window that would
start inside the end padding, and AveragePool never counts the extra cells.

Faster orders of the same operations: unit-stride windows of NCHW memory as flat shifted runs
(``_flat_plan``), a padded MaxPool of channels-last memory over the input itself, clipped
(``_clipped_plan``), windows that tile the input as reshaped axes (``max_pool_tiles``).
"""

import itertools
import math

import numpy as np

from runtime.errors import InvalidModelError
from runtime.onnx._types import EXOTIC_FLOATS
from runtime.onnx.ops._common import check_size, conv_pads, windows


def pool_geometry(x, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode, op):
    """Pads, strides, dilations and the extra end padding that ``ceil_mode`` needs."""
    if kernel_shape is None:
        raise InvalidModelError(f"{op}: attribute kernel_shape is required")
    nsp = len(kernel_shape)
    if x.ndim != nsp + 2:
        raise InvalidModelError(f"{op}: input rank {x.ndim} does not match kernel {kernel_shape}")
    strides = list(strides) if strides else [1] * nsp
    dilations = list(dilations) if dilations else [1] * nsp
    if len(strides) != nsp or len(dilations) != nsp or min(strides + dilations + kernel_shape) < 1:
        raise InvalidModelError(f"{op}: kernel/strides/dilations are invalid")
    pads = conv_pads(x.shape[2:], kernel_shape, strides, dilations, auto_pad, pads, op)
    extra = []
    for i, size in enumerate(x.shape[2:]):
        extent = (kernel_shape[i] - 1) * dilations[i] + 1
        span = size + pads[i] + pads[nsp + i] - extent
        if span < 0:
            raise InvalidModelError(f"{op}: kernel extent {extent} exceeds the padded input")
        out = (math.ceil(span / strides[i]) if ceil_mode else span // strides[i]) + 1
        if ceil_mode and (out - 1) * strides[i] >= size + pads[i]:
            out -= 1
        extra.append(max(0, (out - 1) * strides[i] + extent - (size + pads[i] + pads[nsp + i])))
    return pads, strides, dilations, extra


def _padded(x, pads, extra, fill, op):
    """``x`` (N, C, *S) with ``pads`` (begins, then ends) and ``extra`` more cells at each
    end, filled with ``fill``, held in ``x``'s own memory order (a Conv's channels-last
    output stays channels-last, so the reductions' inner loops keep running along channels);
    ``x`` itself when there is nothing to add."""
    return _pad_with(x, _padding_plan(x, pads, extra), fill, op)


def _padding_plan(x, pads, extra):
    """What ``_padded`` does to an input of ``x``'s shape and strides: None (nothing to add),
    or the padded shape, its allocation order's shape and inverse axes, and the input's place."""
    nsp = x.ndim - 2
    ends = [pads[nsp + i] + extra[i] for i in range(nsp)]
    if not any(pads[:nsp]) and not any(ends):
        return None
    shape = list(x.shape[:2]) + [d + pads[i] + ends[i] for i, d in enumerate(x.shape[2:])]
    order = sorted(range(x.ndim), key=lambda a: -x.strides[a])  # outermost axis first
    back = [0] * x.ndim  # the inverse permutation (np.argsort costs more on a short list)
    for i, a in enumerate(order):
        back[a] = i
    inner = tuple(slice(pads[i], pads[i] + d) for i, d in enumerate(x.shape[2:]))
    return shape, [shape[a] for a in order], back, (slice(None), slice(None)) + inner


def _pad_with(x, plan, fill, op):
    """``x`` padded along ``plan`` (``_padding_plan``'s); ``x`` itself when it is None."""
    if plan is None:
        return x
    shape, allocated, back, inner = plan
    check_size(shape, op)
    canvas = np.full(allocated, fill, x.dtype).transpose(back)
    canvas[inner] = x
    return canvas


def _lowest(dtype):
    return -np.inf if dtype.kind == "f" or dtype in EXOTIC_FLOATS else np.iinfo(dtype).min


def MaxPool_1(x, *, auto_pad="NOTSET", kernel_shape=None, pads=None, strides=None):
    """MaxPool 1-7: one output, no dilations, ceil_mode or storage_order."""
    return MaxPool(x, auto_pad=auto_pad, kernel_shape=kernel_shape, pads=pads, strides=strides)


def MaxPool(
    x,
    *,
    auto_pad="NOTSET",
    ceil_mode=0,
    dilations=None,
    kernel_shape=None,
    pads=None,
    storage_order=0,
    strides=None,
    _n_outputs=1,
):
    if _n_outputs > 1:
        pads, strides, dilations, extra = pool_geometry(
            x, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode, "MaxPool"
        )
        return _max_with_indices(x, kernel_shape, strides, dilations, pads, extra, storage_order)
    key = (
        x.shape,
        x.strides,
        x.dtype,
        auto_pad,
        ceil_mode,
        _key_of(dilations),
        _key_of(kernel_shape),
        _key_of(pads),
        _key_of(strides),
        _TILED_MAX_SIZE,
        _ROW_COST,
        CLIPPED,
    )
    plan = _MAX_POOL_PLANS.get(key)
    if plan is None:
        plan = _remember(
            _MAX_POOL_PLANS,
            key,
            _max_pool_plan(x, auto_pad, ceil_mode, dilations, kernel_shape, pads, strides),
        )
    tiles, padding, windows_plan = plan
    if tiles is not None:
        return max_pool_tiles(x, *tiles[:2], height_first=tiles[2])
    if windows_plan[0] == "clipped":
        return _max_clipped(x, windows_plan)
    x = _pad_with(x, padding, _lowest(x.dtype), "MaxPool")
    return _reduce_windows(x, None, None, None, np.maximum, windows_plan)


# The plans of the MaxPool calls seen, by their key (the input's shape, strides and dtype, the
# attributes): a repeated call skips the checks and the shape arithmetic, a good part of a
# small pool. Failures are never stored; the budget check of the padding runs on every call.
_MAX_POOL_PLANS: dict = {}
_PLANS_MAX = 256


def _remember(plans: dict, key, plan):
    """``plan`` stored under ``key`` in ``plans`` (emptied when full), and returned."""
    if len(plans) >= _PLANS_MAX:
        plans.clear()
    plans[key] = plan
    return plan


def _key_of(value):
    return None if value is None else tuple(value)


def _max_pool_plan(x, auto_pad, ceil_mode, dilations, kernel_shape, pads, strides):
    """(tiles, padding, windows): ``max_pool_tiles``'s (KH, KW, height_first), or else the
    ``_padding_plan`` and the ``_window_plan`` of the padded input (checks raising as named)."""
    pads, strides, dilations, extra = pool_geometry(
        x, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode, "MaxPool"
    )
    if (
        len(kernel_shape) == 2
        and strides == list(kernel_shape)
        and dilations == [1, 1]
        and not any(pads)
        and not any(extra)
        and x.dtype in _TILED_DTYPES
        and x.size <= _TILED_MAX_SIZE
    ):
        # Windows tile the input (floor mode drops the rows and columns no window covers; no
        # pads or ceil_mode cells). The cells are taken in the order _reduce_windows takes
        # them, so a tie of -0.0 and 0.0 and a choice between NaNs come out the same.
        height_first = math.prod(kernel_shape) > _NESTED_MAX_TAPS and _separable(
            x.shape, kernel_shape, _outs(x.shape, kernel_shape, strides)
        )
        return (*kernel_shape, height_first), None, None
    padding = _padding_plan(x, pads, extra)
    shape = x.shape if padding is None else padding[0]
    # (the padded copy is allocated in the input's memory order: C-contiguous for such x)
    contiguous = x.flags.c_contiguous
    plan = _window_plan(shape, kernel_shape, strides, dilations, contiguous)
    # Clipped to the input where the channels are its innermost axis (a Conv's channels-last
    # output): the loops run along channels, which clipping never shortens (on NCHW memory it
    # cuts the output rows the loops run along, and measured slower than the padded copy)
    if padding is not None and not plan[0] and CLIPPED and x.strides[1] == x.itemsize:
        return None, None, _clipped_plan(x.shape, kernel_shape, strides, dilations, pads, extra)
    return None, padding, plan


# The switch of the padded MaxPool without a padded copy (``_clipped_plan``); off, the input
# is copied into a canvas of -inf (tests compare the two).
CLIPPED = True


def _clipped_plan(shape, kernel_shape, strides, dilations, pads, extra):
    """A padded MaxPool as the nested reduction over the input itself: each window offset
    reaches the input (not the -inf padding) on one interval of outputs along each axis, so
    it is one ``np.maximum`` of those outputs with a strided slice of the input; the
    padded cells it skips are -inf, which no maximum takes. No padded copy of the input (a
    pass over it and a fresh allocation of its size). ("clipped", the output's spatial
    shape, the offset that reaches every output or None, the (output, input) index pairs of
    the others, in the nested order.)"""
    nsp = len(kernel_shape)
    padded = [d + pads[i] + pads[nsp + i] + extra[i] for i, d in enumerate(shape[2:])]
    outs = _outs([0, 0, *padded], kernel_shape, strides, dilations)
    whole = (slice(None), slice(None))
    first, pairs = None, []
    for offset in itertools.product(*(range(k) for k in kernel_shape)):
        out_index, in_index = [], []
        for i, (k, size, o) in enumerate(zip(offset, shape[2:], outs, strict=True)):
            s, start = strides[i], k * dilations[i] - pads[i]  # output 0's input cell
            lo = -(start // s) if start < 0 else 0  # the first output inside: ceil(-start/s)
            hi = min(o, (size - 1 - start) // s + 1) if size - 1 >= start else 0
            out_index.append(slice(lo, max(lo, hi)))
            begin = start + lo * s
            in_index.append(slice(begin, begin + (hi - lo - 1) * s + 1 if hi > lo else begin, s))
        if any(sl.stop == sl.start for sl in out_index):
            continue  # this offset reaches only padding
        if first is None and all(
            sl.start == 0 and sl.stop == o for sl, o in zip(out_index, outs, strict=True)
        ):
            first = whole + tuple(in_index)
            continue
        pairs.append((whole + tuple(out_index), whole + tuple(in_index)))
    return "clipped", tuple(outs), first, tuple(pairs)


def _max_clipped(x, plan):
    """MaxPool along a ``_clipped_plan``: (N, C, *out) in ``x``'s memory order."""
    _, outs, first, pairs = plan
    if first is not None:
        result = x[first].copy(order="K")
    else:  # every output has a padded cell in each window offset's reach: start from -inf
        order = sorted(range(x.ndim), key=lambda a: -x.strides[a])  # x's memory order
        shape = x.shape[:2] + outs
        back = [order.index(a) for a in range(x.ndim)]
        result = np.full([shape[a] for a in order], _lowest(x.dtype), x.dtype).transpose(back)
    for out_index, in_index in pairs:
        target = result[out_index]
        np.maximum(target, x[in_index], out=target)
    return result


# Inputs of up to this many elements take the tiled MaxPool. Larger ones keep the window
# reduction: measured on the slide CNN, the tiled pool was 0.65-0.73x the time on its batch-1
# Conv outputs (16x26x26, 32x11x11) but made the batch-32 run 8% slower (its partly reduced
# array, half the input, is one more large allocation per call).
_TILED_MAX_SIZE = 1 << 16
# The dtypes the tiled MaxPool is tested on against the window reduction (bit for bit).
_TILED_DTYPES = frozenset(
    np.dtype(t) for t in ("float16", "float32", "float64", "int8", "uint8")
) | frozenset(t for t in EXOTIC_FLOATS if t.name == "bfloat16")


def max_pool_tiles(x: np.ndarray, kh: int, kw: int, *, height_first: bool = False) -> np.ndarray:
    """MaxPool of ``x`` (N, C, H, W; H >= kh, W >= kw) with kernel = strides = (kh, kw), no
    pads or dilations: the maximum over an (N, C, OH, KH, OW, KW) view of the input (the
    rows and columns past OH * KH and OW * KW dropped, as MaxPool's floor mode does), one
    kernel axis at a time: KH - 1 + KW - 1 ``np.maximum`` calls instead of KH * KW - 1 over
    strided window slices. ``np.maximum`` propagates NaN.

    A window's cells are combined in row-major order (the width axis first), the order of
    _reduce_windows' nested loop; ``height_first`` takes them column by column, the order of
    its separable one. The order shows only in which of equal maxima of different sign
    (-0.0, 0.0) or which of several NaNs comes out."""
    n, c, h, w = x.shape
    oh, ow = h // kh, w // kw
    view = x[:, :, : oh * kh, : ow * kw].reshape(n, c, oh, kh, ow, kw)
    # The result is allocated before the partly reduced array, which is freed first (last in,
    # first out: the allocator reuses its memory instead of growing the heap and trimming it,
    # which made the next ops fault on fresh pages; measured at batch 32).
    result = np.empty_like(view[:, :, :, 0, :, 0])  # x's memory order
    if not height_first and kw > 1 and x.flags.c_contiguous and result.size:
        # NCHW memory: the width taps' fold as flat shifted runs, unit-stride loops over the
        # whole input (numpy's strided loops over every kw-th cell run several times slower);
        # runs[p] folds x's cells p .. p+kw-1 as the width pass below does, in the same order
        flat = x.reshape(-1)
        runs = np.maximum(flat[:-1], flat[1:])
        for i in range(2, kw):
            valid = runs[: flat.size - i]  # (the runs that still have a cell i ahead)
            np.maximum(valid, flat[i:], out=valid)
        item = x.itemsize
        folded = np.ndarray(
            (n, c, oh, kh, ow),
            x.dtype,
            runs,
            0,
            (c * h * w * item, h * w * item, kh * w * item, w * item, kw * item),
        )
        return _max_along(folded, 3, kh, result)
    if height_first:  # via (N, C, OH, OW, KW)
        _max_along(_max_along(view, 3, kh), 4, kw, result)
    else:  # via (N, C, OH, KH, OW)
        _max_along(_max_along(view, 5, kw), 3, kh, result)
    return result


def _max_along(v: np.ndarray, axis: int, k: int, out=None) -> np.ndarray:
    """The maximum over ``v``'s axis ``axis`` (of length ``k``), a left fold, into ``out``
    or else a new array when k > 1 (a view of ``v`` when k is 1)."""
    index = (slice(None),) * axis
    if k == 1:
        if out is None:
            return v[index + (0,)]
        np.copyto(out, v[index + (0,)])
        return out
    result = np.maximum(v[index + (0,)], v[index + (1,)], out=out)
    for i in range(2, k):
        np.maximum(result, v[index + (i,)], out=result)
    return result


def _max_with_indices(x, kernel_shape, strides, dilations, pads, extra, storage_order):
    """MaxPool's optional Indices output: the flat index of each maximum in the input tensor
    (row-major, or column-major over the spatial dims when storage_order is 1), pads ignored."""
    nsp = len(kernel_shape)
    flat = np.arange(x.size, dtype=np.int64).reshape(x.shape)
    if storage_order:
        if nsp != 2:
            raise InvalidModelError("MaxPool: storage_order=1 is defined for 2-D pooling only")
        n, c, h, w = x.shape
        flat = (
            (np.arange(n * c, dtype=np.int64) * h * w).reshape(n, c, 1, 1)
            + np.arange(w, dtype=np.int64) * h
            + np.arange(h, dtype=np.int64)[:, None]
        )
    values = windows(x, kernel_shape, strides, dilations, pads, _lowest(x.dtype), extra)
    index = windows(flat, kernel_shape, strides, dilations, pads, -1, extra)
    shape = values.shape[: 2 + nsp] + (-1,)
    values, index = values.reshape(shape), index.reshape(shape)
    best = values.argmax(axis=-1)[..., None]
    return (
        np.take_along_axis(values, best, axis=-1)[..., 0],
        np.take_along_axis(index, best, axis=-1)[..., 0],
    )


def AveragePool(
    x,
    *,
    auto_pad="NOTSET",
    ceil_mode=0,
    count_include_pad=0,
    dilations=None,
    kernel_shape=None,
    pads=None,
    strides=None,
):
    key = (
        x.shape,
        x.strides,
        x.dtype,
        auto_pad,
        ceil_mode,
        count_include_pad,
        _key_of(dilations),
        _key_of(kernel_shape),
        _key_of(pads),
        _key_of(strides),
        _ROW_COST,
    )
    plan = _AVERAGE_POOL_PLANS.get(key)
    if plan is None:
        plan = _remember(
            _AVERAGE_POOL_PLANS,
            key,
            _average_pool_plan(
                x, auto_pad, ceil_mode, count_include_pad, dilations, kernel_shape, pads, strides
            ),
        )
    padding, windows_plan, divisor = plan
    x = _pad_with(x, padding, 0, "AveragePool")
    if windows_plan[0] == "flat":  # the quotients written at once from the padded grid
        if isinstance(divisor, np.ndarray):
            divisor = divisor.reshape(divisor.shape[2:])  # against blocks of planes
        return _reduce_flat(x, np.add, windows_plan, lambda v, out: np.divide(v, divisor, out=out))
    total = _reduce_windows(x, None, None, None, np.add, windows_plan)
    if not isinstance(divisor, np.ndarray):
        return np.divide(total, divisor, out=total).astype(x.dtype, copy=False)
    return (total / divisor).astype(x.dtype, copy=False)


# The plans of the AveragePool calls seen, as _MAX_POOL_PLANS: (the padding plan, the window
# plan, the divisor: an int when every window counts all its cells, else the counts array).
_AVERAGE_POOL_PLANS: dict = {}


def _average_pool_plan(
    x, auto_pad, ceil_mode, count_include_pad, dilations, kernel_shape, pads, strides
):
    """AveragePool's checks (raising as named) and what a call along them needs: the zero
    padding's plan, the window sums' plan (in the float32 summation order of onnxruntime's MLAS
    pooling, ``_reduce_windows``, so that QDQ models match it exactly) and the divisor."""
    pads, strides, dilations, extra = pool_geometry(
        x, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode, "AveragePool"
    )
    padding = _padding_plan(x, pads, extra)
    shape = x.shape if padding is None else padding[0]
    plan = _window_plan(shape, kernel_shape, strides, dilations, x.flags.c_contiguous)
    if not any(extra) and (count_include_pad or not any(pads)):
        # every window counts all its cells: one divisor (the same quotients as an array of it)
        return padding, plan, math.prod(kernel_shape)
    outs = _outs(shape, kernel_shape, strides, dilations)
    count = _window_counts(x, outs, kernel_shape, strides, dilations, pads, count_include_pad)
    count.flags.writeable = False
    return padding, plan, count


def _window_counts(x, outs, kernel_shape, strides, dilations, pads, count_include_pad):
    """Cells each window averages, (1, 1, *out) in ``x``'s dtype: real cells, plus explicit
    pads if ``count_include_pad``, never the extra cells ceil_mode adds. The cells a window
    covers are a product of intervals, so the count is the product over the axes of the
    cells covered along each axis."""
    nsp = len(kernel_shape)
    count = np.ones((1, 1) + (1,) * nsp, dtype=x.dtype)
    for i, (size, k, s, d, o) in enumerate(
        zip(x.shape[2:], kernel_shape, strides, dilations, outs, strict=True)
    ):
        low, high = (-pads[i], size + pads[nsp + i]) if count_include_pad else (0, size)
        cells = np.arange(o)[:, None] * s - pads[i] + np.arange(k)[None, :] * d
        along = ((cells >= low) & (cells < high)).sum(axis=1).astype(x.dtype)
        count = count * along.reshape((1, 1) + (1,) * i + (o,) + (1,) * (nsp - 1 - i))
    return count


# Elements a numpy call is worth in the choice between the two orders of _reduce_windows.
_CALL_COST = 2000
# Kernels of up to this many taps always run nested: the separable order's partly reduced
# arrays, although fewer operations on the 3x3 pools of the backend CNNs, made the heap grow
# and shrink around them, and the ops after them fault on fresh pages (measured: 10x more page
# faults per run and slower whole models).
_NESTED_MAX_TAPS = 64


def _outs(shape, kernel_shape, strides, dilations=None):
    """The output's spatial sizes over a padded input of ``shape`` (N, C, *S)."""
    dilations = dilations or [1] * len(kernel_shape)
    return [
        (size - (k - 1) * d - 1) // s + 1
        for size, k, d, s in zip(shape[2:], kernel_shape, dilations, strides, strict=True)
    ]


def _separable(shape, kernel_shape, outs) -> bool:
    """Whether _reduce_windows takes the separable order over a padded input of ``shape``."""
    nsp = len(kernel_shape)
    if nsp < 2 or math.prod(kernel_shape) <= _NESTED_MAX_TAPS:
        return False
    spatial = list(shape[2:])
    planes = shape[0] * shape[1]
    nested_cost = math.prod(kernel_shape) * (planes * math.prod(outs) + _CALL_COST)
    separable_cost = sum(
        k * (planes * math.prod(outs[: i + 1]) * math.prod(spatial[i + 1 :]) + _CALL_COST)
        for i, k in enumerate(kernel_shape)
    )
    return separable_cost < nested_cost


def _window_plan(shape, kernel_shape, strides, dilations, contiguous=False):
    """``_reduce_windows``' order and slices over a padded input of ``shape``: (separable,
    the slices along each kernel axis, and for the nested order each window offset's index),
    or for a C-contiguous input with unit strides ``_flat_plan``'s."""
    outs = _outs(shape, kernel_shape, strides, dilations)
    if contiguous and max(strides) == 1 and outs and min(outs) > 0:
        # flat: every offset runs over the padded planes; nested: over the output, one
        # inner loop per output row
        flat_cost = math.prod(shape[2:])
        nested_cost = math.prod(outs) + math.prod(outs[:-1]) * _ROW_COST
        if flat_cost < nested_cost:
            return _flat_plan(shape, kernel_shape, dilations, outs)
    separable = _separable(shape, kernel_shape, outs)
    cuts = [
        [slice(o * d, o * d + (n - 1) * s + 1, s) for o in range(k)]
        for k, d, s, n in zip(kernel_shape, dilations, strides, outs, strict=True)
    ]
    whole = (slice(None), slice(None))
    offsets = None if separable else tuple(whole + o for o in itertools.product(*cuts))
    return separable, cuts, offsets


def _reduce_windows(x, kernel_shape, strides, dilations, ufunc, plan=None):
    """``ufunc`` (np.add or np.maximum) over each window of the padded ``x`` (N, C, *S), the
    first kernel axis innermost: ((x00 + x10) + (x01 + x11)) for a 2x2 window. Strided slices
    of the whole tensor are combined in turn, whatever its memory layout (no window view).

    Two orders give that same sequence of operations per output: nested, each kernel offset's
    slice of the input (prod(K) calls over the output); or separable, one kernel axis at a
    time, axis 0 first, over the input partly reduced (sum(K) calls, over larger arrays on the
    first axes). Large kernels run in the cheaper of the two, small ones nested. ``plan`` is
    ``_window_plan``'s for this shape when the caller has it (the other arguments unused)."""
    if plan is None:
        plan = _window_plan(x.shape, kernel_shape, strides, dilations)
    if plan[0] == "flat":
        return _reduce_flat(x, ufunc, plan)
    separable, cuts, offsets = plan
    nsp = len(cuts)
    whole = (slice(None), slice(None))
    if separable:
        # The result is allocated before the partly reduced arrays, which are freed first
        # (last in, first out: the allocator reuses their memory instead of growing the heap
        # and trimming it, which made the next ops fault on fresh pages).
        result = np.empty_like(x[whole + tuple(along[0] for along in cuts)])
        for axis, along in enumerate(cuts):
            before = (slice(None),) * (2 + axis)
            if axis == nsp - 1:
                total = result
                np.copyto(total, x[before + (along[0],)])
            else:
                total = x[before + (along[0],)].copy(order="K")
            for cut in along[1:]:
                ufunc(total, x[before + (cut,)], out=total)
            x = total
        return result

    if ufunc is np.maximum:  # exact in any order: one flat loop, fewer Python frames
        total = None
        for at in offsets:
            term = x[at]
            total = term.copy(order="K") if total is None else ufunc(total, term, out=total)
        return total

    def nested(axis, offset):
        # Over kernel axes 0..axis, the later axes' offsets fixed in ``offset``.
        total = None
        for cut in cuts[axis]:
            at = offset[:axis] + (cut,) + offset[axis + 1 :]
            term = x[whole + at] if axis == 0 else nested(axis - 1, at)
            total = term.copy(order="K") if total is None else ufunc(total, term, out=total)
        return total

    return nested(nsp - 1, tuple(c[0] for c in cuts))


# Elements a ufunc's inner loop start is worth: the choice between flat runs over the padded
# planes (``_flat_plan``) and one strided loop per output row.
_ROW_COST = 16


def _flat_plan(shape, kernel_shape, dilations, outs):
    """Unit-stride windows over a C-contiguous padded input of ``shape`` (N, C, *S) as flat
    runs: flattened, the cell at window offset (k_i) of output (n, c, h_i) is at
    (n*C + c)*Sp + sum_i (h_i + k_i*d_i)*G_i (Sp the padded plane, G_i its row strides), so
    each offset along an axis is one contiguous slice shifted by k_i*d_i*G_i. The axes are
    reduced one at a time, axis 0 first, each over a run long enough for the shifts of the
    axes after it: every output still combines its cells in the nested order (each column
    over axis 0 first, then those partial results in order), in sum(K) long loops instead of
    prod(K) loops of one output row each. The result lives on the padded grid (the cells
    past each output row computed, never read). ("flat", shifts by axis, run lengths by
    axis, the output shape and its strides in cells.)"""
    nsp = len(kernel_shape)
    padded = shape[2:]
    grid = [math.prod(padded[i + 1 :]) for i in range(nsp)]
    plane = math.prod(padded)
    planes = shape[0] * shape[1]
    rows = (planes - 1) * plane + sum((o - 1) * g for o, g in zip(outs, grid, strict=True)) + 1
    shifts = [[o * d * g for o in range(k)] for k, d, g in zip(kernel_shape, dilations, grid)]
    # after axis i, a run must cover every output row plus the later axes' largest shifts
    lengths = [max(rows, 0) + sum(sh[-1] for sh in shifts[i + 1 :]) for i in range(nsp)]
    out = (shape[0], shape[1], *outs)
    strides = (shape[1] * plane, plane, *grid)
    return "flat", shifts, lengths, out, strides


def _reduce_flat(x, ufunc, plan, finish=None):
    """``_reduce_windows`` along a ``_flat_plan``: a C-contiguous (N, C, *out) result,
    written by ``finish(windows, out)`` when given (else a copy of the window results).

    The planes run in blocks of about ``_FLAT_BLOCK`` cells, each through every axis in two
    small scratch buffers: whole-tensor runs would be fresh pages on every call (a page fault
    each 4 KiB, more than the arithmetic) and would not stay in cache between the axes."""
    _, shifts, lengths, out, strides = plan
    flat = np.ascontiguousarray(x).reshape(-1)  # (x as planned: a copy only if size-1 axes
    # gave the padded copy another order)
    rows = lengths[-1]  # (the last axis adds no shift: its run is the output rows' run)
    plane = strides[1]
    planes = out[0] * out[1]
    result = np.empty(out, x.dtype)
    if rows <= 0 or planes == 0:
        return result
    block = max(1, _FLAT_BLOCK // plane)  # planes per block
    extra = [length - rows for length in lengths]  # the later axes' shifts, by axis
    scratch = [np.empty(min(block * plane, rows) + extra[0], x.dtype) for _ in range(2)]
    item = flat.itemsize
    view_strides = tuple(s * item for s in strides[1:])
    by_plane = result.reshape((planes, *out[2:]))
    for first_plane in range(0, planes, block):
        count = min(block, planes - first_plane)
        start = first_plane * plane
        n_rows = min(count * plane, rows - start)
        source, offset = flat, start
        for i, along in enumerate(shifts):
            length = n_rows + extra[i]
            part = scratch[i % 2][:length]
            a, b = offset + along[0], offset + (along[1] if len(along) > 1 else 0)
            if len(along) == 1:
                np.copyto(part, source[a : a + length])
            else:
                ufunc(source[a : a + length], source[b : b + length], out=part)
            for shift in along[2:]:
                ufunc(part, source[offset + shift : offset + shift + length], out=part)
            source, offset = part, 0
        view = np.ndarray((count, *out[2:]), source.dtype, source, 0, view_strides)
        target = by_plane[first_plane : first_plane + count]
        if finish is None:
            np.copyto(target, view)
        else:
            finish(view, target)
    return result


# Cells per block of _reduce_flat (its scratch buffers: well under the allocator's mmap
# threshold and a core's L2 cache).
_FLAT_BLOCK = 1 << 14


def GlobalAveragePool(x):
    return x.mean(axis=tuple(range(2, x.ndim)), keepdims=True, dtype=x.dtype)


def GlobalMaxPool(x):
    return x.max(axis=tuple(range(2, x.ndim)), keepdims=True)
