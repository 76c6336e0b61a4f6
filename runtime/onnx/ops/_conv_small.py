"""Small convolutions of one sample (onnx.ai/onnx/operators/onnx__Conv.html): one product
with an NCHW result, planned once per geometry.

With one sample, out (M, P) = W (M, K*C) @ cols (K*C, P), where cols holds every window
(kernel tap and channel, then output position): the result is already the NCHW output, no
transpose (the bias and a fused Relu then pass over contiguous rows), and a 1x1 convolution of
an input whose (C, P) matrix BLAS can read needs no copy at all. cols' rows follow
``conv.pack_weights``'s order (kernel position, then channel): the packed weights' transpose
is W with no copy, and the sums over k run in the general im2col path's order.

The one copy of cols is chosen by its cost (``_copy_cost``): numpy's strided copy pays per run
of its innermost axis, so of the (K*C, P) order (runs along output rows: an NCHW input of few
channels), the (P, K*C) order read by BLAS transposed (runs over a window's channels, or over
a long 1-D kernel's taps: an STFT's frames, each one run of a strided view), and either one
after a channels-last or NCHW copy of the input (made anyway when padded), and, for a stride-1
convolution whose output keeps the input's size on every axis after the first, the flat shifts
(``_shifts_layout``: each tap's entries one shifted run of the flat NCHW planes, rows crossed
at an edge zeroed after), the cheapest wins. When the copy is made anyway, the bias rides in
the product as one more column of W against a row of ones in cols (the product's last term:
the same single rounding of acc + b as an addition after it), saving a pass over the result:
[W | b] built once for constant weights and bias, or on each call where that costs less.

A depthwise convolution (one filter per channel) is an ``einsum`` over channels-last windows.

These convolutions are small enough that the general path's fixed costs (its checks, layout
choices and transposes on every call) are a large part of their time: here everything that
depends on shapes and strides alone is decided once, in ``plan``, and a call does only the
copy, the product and the bias.
"""

import math
import weakref

import numpy as np

from runtime.onnx.ops._common import check_size

# Multiply-adds up to which a one-sample convolution is planned here: a product of this size
# takes a few tens of microseconds, the order of the general path's per-call costs; larger
# ones are the general path's (its layouts suit the networks those come from).
MAX_MACS = 1 << 22
# Result elements from which constant weights' [W | b] (built once) replaces the bias's pass
# over the result: below, that pass costs about the two more small calls the product's row of
# ones takes (measured on silero's Convs of 1-4 positions: folding was ~0.5 us slower).
FOLD_MIN = 1024
# The most zeroed edges (one assignment each per call) a flat-shift plan may take.
MAX_MASKS = 16
# numpy's strided copy loop costs about this many element copies per run of its innermost
# axis (measured: a (288, 121) window copy in runs of 11 takes four times one in runs of 96).
RUN_COST = 64


class SmallPlan:
    """What ``run`` needs, decided from the key of ``conv.conv_nchw`` alone."""

    __slots__ = (
        "path",  # "small": how conv.conv_nchw tells it from its own geometries
        "depthwise",
        "canvas",  # the shape of the input's (padded) copy in the chosen layout, or None
        "padded",
        "canvas_axes",  # the canvas as (N, C, *S): a transpose of it
        "inner",  # where the input goes in the canvas (as (N, C, *S))
        "root",  # the view's C-contiguous root: 0 the input, 1 its channels-last transpose
        "view_shape",
        "view_strides",
        "cols",  # the copy's 2-D shape
        "rows",  # True: cols is (K*C, P); False: (P, K*C), read transposed
        "natural",  # W is w (M, C, *K) reshaped: (K, C) and (C, K) orders are one
        "biased",  # (the (K*C+1)-wide cols' shape, the view's strides in it), or None
        "cheap_bias",  # whether building [W | b] on each call costs less than a bias pass
        "out",  # the product as (1, M, *out); depthwise: (1, *out, C), returned transposed
        "largest",  # the budget check's shape: the largest array a call makes
        "letters",  # depthwise: the einsum subscripts
        "filters",  # depthwise: the weights' shape as (*K, C)
        "wshape",  # w as a matrix (M, K*C)
        "axes",  # (N, C, *S) -> (N, *S, C)
        "axes_back",  # (N, *S, C) -> (N, C, *S)
        "shifts",  # flat shifts: (the flat canvas's width, where x goes in it), or None
        "offset",  # the view's first element in its root, in elements
        "masks",  # flat shifts: the window entries to zero in the cols view (index tuples)
    )

    def __init__(self):
        for name in self.__slots__:
            setattr(self, name, None)

    def run(self, x, w, bias, packed, op: str):
        """The convolution planned, of ``x`` with ``w`` (M, C/group, *K) plus ``bias``
        (M,) if given; ``packed`` is ``conv.pack_weights(w, group, dtype)`` or None."""
        check_size(self.largest, op)
        dtype = x.dtype
        if self.shifts is not None:
            return self._run_shifts(x, w, bias, packed)
        if self.canvas is not None:
            # (zeros only around a padded input: a copy into another layout fills it all)
            canvas = np.zeros(self.canvas, dtype) if self.padded else np.empty(self.canvas, dtype)
            canvas.transpose(self.canvas_axes)[self.inner] = x
            root = canvas
        elif self.root == 0:
            root = x
        else:
            root = x.transpose(self.axes)
        view = np.ndarray(self.view_shape, dtype, root, 0, self.view_strides)
        if self.depthwise:
            # (*K, C) C-contiguous: einsum's inner loop runs over adjacent channels of both
            filters = np.ascontiguousarray(w.reshape(self.wshape).T, dtype=dtype)
            out = np.einsum(self.letters, view, filters.reshape(self.filters))
            if bias is not None:
                out += bias.astype(dtype, copy=False)
            return out.reshape(self.out).transpose(self.axes_back)
        weights, wb = self._operands(w, bias, packed, dtype)
        if wb is not None:
            # out = [W | b] @ [cols; 1]: the bias added by the product's last term, exactly
            # as a separate addition after it (one rounding of acc + b * 1)
            cols = np.empty(self.biased[0], dtype)
            np.copyto(np.ndarray(self.view_shape, dtype, cols, 0, self.biased[1]), view)
            ones = cols[-1] if self.rows else cols[:, -1]
            ones.fill(1)
            return np.matmul(wb, cols if self.rows else cols.T).reshape(self.out)
        cols = view.reshape(self.cols)  # (no copy when BLAS can read the view as it is)
        out = np.matmul(weights, cols if self.rows else cols.T)
        if bias is not None:
            out += bias.astype(dtype, copy=False)[:, None]
        return out.reshape(self.out)

    def _operands(self, w, bias, packed, dtype):
        """(the weights as the product's left operand, [W | b] when the bias is folded into
        the product, else None)."""
        weights = _matrix(self, w, packed, dtype)
        if self.biased is None or bias is None:
            return weights, None
        return weights, _with_bias(weights, bias, dtype, packed, self.cheap_bias)

    def _run_shifts(self, x, w, bias, packed):
        """The flat-shift cols (``_shifts_layout``): the kernel taps' shifted runs of the
        (N, C, *S)-contiguous input's flat planes, one strided copy, then the entries whose
        window reached across a row edge (a pad) zeroed."""
        dtype = x.dtype
        c = x.shape[1]
        if self.canvas is not None:  # zeros before and after each flat plane: the pads
            width, start = self.shifts
            root = np.zeros(self.canvas, dtype)
            root[:, start : start + width] = x.reshape(c, width)
        else:
            root = x if x.flags.c_contiguous else np.ascontiguousarray(x)
        view = np.ndarray(self.view_shape, dtype, root, self.offset * x.itemsize, self.view_strides)
        weights, wb = self._operands(w, bias, packed, dtype)
        if wb is not None:
            cols = np.empty(self.biased[0], dtype)
            target = np.ndarray(self.view_shape, dtype, cols, 0, self.biased[1])
        else:
            cols = np.empty(self.cols, dtype)
            target = cols.reshape(self.view_shape)
        np.copyto(target, view)
        for mask in self.masks:
            target[mask] = 0
        if wb is not None:  # (as in run: the bias as the product's last term)
            cols[-1].fill(1)
            return np.matmul(wb, cols).reshape(self.out)
        out = np.matmul(weights, cols)
        if bias is not None:
            out += bias.astype(dtype, copy=False)[:, None]
        return out.reshape(self.out)


# [W | b] of constant weights (``packed``, bound at load) and their bias, by id(packed): built
# on a Conv's first call, then reused as long as both are the same objects. An entry holds its
# weights weakly and goes with them (a closed session's weights are not kept alive); bounded by
# the elements held (the weights of a few small networks): emptied when full.
_BIASED: dict = {}
_BIASED_MAX_ELEMENTS = 1 << 22
_biased_elements = 0


def _with_bias(weights, bias, dtype, packed, cheap: bool):
    """[W | b] (M, K*C+1) for the product with a ones row below cols, or None when adding the
    bias after the product costs less: ``cheap`` (building it costs less than that pass) or
    constant weights seen before with this very bias (a cached copy)."""
    global _biased_elements
    # (an entry goes when its packed weights do: no other array can have their id meanwhile)
    entry = None if packed is None else _BIASED.get(id(packed))
    if entry is not None and entry[1] is bias:
        return entry[2]
    if not cheap and (packed is None or entry is not None or not _frozen(bias)):
        return None  # (weights not known constant, a bias that may change, or another one)
    wb = np.empty((weights.shape[0], weights.shape[1] + 1), dtype)
    wb[:, :-1] = weights
    wb[:, -1] = bias
    if packed is not None and entry is None and _frozen(bias):
        if _biased_elements + wb.size > _BIASED_MAX_ELEMENTS:
            _BIASED.clear()
            _biased_elements = 0
        wb.flags.writeable = False
        _BIASED[id(packed)] = (weakref.ref(packed), bias, wb)
        _biased_elements += wb.size
        weakref.finalize(packed, _forget, id(packed))
    return wb


def _forget(key: int) -> None:
    """Drop the [W | b] of packed weights that are gone."""
    global _biased_elements
    entry = _BIASED.pop(key, None)
    if entry is not None:
        _biased_elements -= entry[2].size


def _frozen(a) -> bool:
    """Whether nothing can write ``a``'s values: it and every array it views read-only, down
    to memory of its own or an immutable ``bytes`` (a model's constants, as loaded)."""
    while isinstance(a, np.ndarray):
        if a.flags.writeable:
            return False
        a = a.base
    return a is None or isinstance(a, bytes)


def _matrix(small, w, packed, dtype):
    """The weights as the (M, K*C) left operand, columns in cols' (kernel tap, channel)
    order."""
    if small.natural:  # (one channel or a 1x1 kernel: w's own order is the packed one)
        return w.reshape(small.wshape).astype(dtype, copy=False)
    if packed is not None:
        return packed[0].T  # (M, K*C), a view
    return np.moveaxis(w, 1, -1).reshape(small.wshape).astype(dtype, copy=False)


def _shifts_layout(x, kernel, dilations, pads, out_sp):
    """The flat-shift cols of a stride-1 convolution whose output keeps the input's size on
    every spatial axis but the first, or None when it does not.

    With x's planes flat (C, S) and the output's positions r on the same grid, the window
    entry of tap t at r is x[c, r + o_t] (o_t the tap's flat offset, pads included): one
    strided view (*K, C, *out) of x whose runs are the P positions in a row, a copy of
    memcpy speed, rather than runs of one output row. Pads are zeros around each flat plane
    (a canvas of (C, before + S + after) when a tap reaches past the plane) and, along the
    axes after the first, entries whose window crossed a row edge (read from the row before
    or after) zeroed once copied. Returns (canvas or None, (S, before), view offset in
    elements, view shape, view strides in elements, masks)."""
    nsp = len(kernel)
    spatial = x.shape[2:]
    if any(o != d for o, d in zip(out_sp[1:], spatial[1:], strict=True)):
        return None
    c = x.shape[1]
    grid = [math.prod(spatial[i + 1 :]) for i in range(nsp)]  # the flat planes' row strides
    size = math.prod(spatial)
    p = math.prod(out_sp)
    first = -sum(pads[i] * g for i, g in enumerate(grid))
    last = first + sum((k - 1) * d * g for k, d, g in zip(kernel, dilations, grid, strict=True))
    before, after = max(0, -first), max(0, last + p - size)
    width = before + size + after
    canvas = (c, width) if before or after else None
    shape = (*kernel, c, *out_sp)
    strides = (*(d * g for d, g in zip(dilations, grid, strict=True)), width, *grid)
    masks = []
    for i in range(1, nsp):
        for k in range(kernel[i]):
            shift = k * dilations[i] - pads[i]
            if shift == 0:
                continue
            edge = slice(0, -shift) if shift < 0 else slice(max(0, spatial[i] - shift), None)
            index = [slice(None)] * len(shape)
            index[i], index[nsp + 1 + i] = k, edge
            masks.append(tuple(index))
    if len(masks) > MAX_MASKS:
        return None  # (each one a numpy call per run: wide kernels keep the padded copies)
    return canvas, (size, before), before + first, shape, strides, tuple(masks)


def plan(geo, x, w, group: int, dtype) -> SmallPlan | None:
    """A ``SmallPlan`` for the convolution ``conv._geometry`` described as ``geo`` (its checks
    passed), or None when it belongs to the general path: more than one sample, a dtype other
    than float32/float64, groups other than 1 or depthwise, more than ``MAX_MACS``, or a
    depthwise convolution the general path runs along rows of width x channels."""
    from runtime.onnx.ops.conv import _TILE_MIN  # (here: conv imports this module)

    n, c = x.shape[:2]
    m, cg = w.shape[:2]
    nsp = x.ndim - 2
    kernel = geo.kernel
    kk = math.prod(kernel)
    depthwise = cg == 1 and m == group and group > 1 and kk > 1
    if n != 1 or dtype not in (np.float32, np.float64) or x.dtype != dtype:
        return None
    if group != 1 and not depthwise:
        return None
    strides = list(geo.strides)
    if geo.sub is not None:  # (a strided 1x1: conv._geometry kept its strides in the slices)
        strides = [s.step for s in geo.sub[2:]]
    pads, dilations = geo.pads, geo.dilations
    padded = [d + pads[i] + pads[nsp + i] for i, d in enumerate(x.shape[2:])]
    extent = [(k - 1) * d + 1 for k, d in zip(kernel, dilations, strict=True)]
    out_sp = [(p - e) // s + 1 for p, e, s in zip(padded, extent, strides, strict=True)]
    p = math.prod(out_sp)
    if p * kk * cg * m > MAX_MACS or p == 0 or m == 0:
        return None
    if depthwise and out_sp[-1] >= _TILE_MIN:
        # (the general path's einsum then runs along rows of W x C values, longer loops than
        # this plan's C: measured faster on shufflenet's 28x28 and 14x14 depthwise layers)
        return None
    item = x.itemsize
    best = None
    for order in ((0, *range(2, x.ndim), 1), tuple(range(x.ndim))):  # channels-last, NCHW
        if depthwise and order[1] == 1:
            continue  # (depthwise: channels-last windows, one einsum run over channels)
        if x.transpose(order).flags.c_contiguous and not any(pads):
            xs, canvas, made = x.strides, None, 0
        else:  # a (padded) copy in this layout; its cost: the copy of x into it
            shape = [n, c, *padded]
            canvas = tuple(shape[a] for a in order)
            xs = _c_strides(canvas, order, item)
            made = _copy_cost([x.shape[a] for a in order], [x.strides[a] for a in order], item)
        taps = [st * d for st, d in zip(xs[2:], dilations, strict=True)]
        steps = [st * s for st, s in zip(xs[2:], strides, strict=True)]
        if depthwise:
            layouts = [(None, (*out_sp, *kernel, c), (*steps, *taps, xs[1]))]
        else:
            layouts = [
                (True, (*kernel, c, *out_sp), (*taps, xs[1], *steps)),
                (False, (*out_sp, *kernel, c), (*steps, *taps, xs[1])),
            ]
        for rows, view_shape, view_strides in layouts:
            copy = _cols_cost(view_shape, view_strides, kk * c, item, rows)
            if best is None or made + copy < best[0]:
                best = (made + copy, copy, order, canvas, rows, view_shape, view_strides)
    _, copy, order, canvas, rows, view_shape, view_strides = best
    shifts = None
    if not depthwise and max(strides) == 1:
        shifts = _shifts_layout(x, kernel, dilations, pads, out_sp)
        if shifts is not None and _shifts_cost(x, shifts, item) >= best[0]:
            shifts = None
    small = SmallPlan()
    small.path, small.depthwise, small.rows = "small", depthwise, rows
    small.view_shape, small.view_strides = view_shape, view_strides
    if shifts is not None:
        canvas, small.shifts, small.offset, view_shape, steps, small.masks = shifts
        small.view_shape, small.view_strides = view_shape, tuple(s * item for s in steps)
        copy, rows, order = 1, True, tuple(range(x.ndim))
        small.rows = rows
    small.canvas, small.padded = canvas, any(pads)
    small.wshape = (m, kk * cg)
    small.axes = (0, *range(2, x.ndim), 1)
    small.axes_back = (0, nsp + 1, *range(1, nsp + 1))
    small.root = 0 if order[1] == 1 else 1  # (without a canvas: x or its channels-last view)
    small.canvas_axes = tuple(order.index(a) for a in range(x.ndim))
    small.inner = (slice(None), slice(None)) + tuple(
        slice(pads[i], pads[i] + d) for i, d in enumerate(x.shape[2:])
    )
    letters = "abdefghijklmnoprstuvwxyz"
    if depthwise:
        k, o = letters[:nsp], letters[nsp : 2 * nsp]
        small.letters = f"{o}{k}c,{k}c->{o}c"
        small.filters, small.out = (*kernel, c), (1, *out_sp, c)
        small.largest = max((*out_sp, c), canvas or (), key=math.prod)
        return small
    small.cols = (kk * c, p) if rows else (p, kk * c)
    small.out = (1, m, *out_sp)
    # W as w's rows (C-contiguous: BLAS runs a wide product with few positions, an STFT's,
    # faster on them than on the packed weights' transpose)
    small.natural = c == 1 or kk == 1
    cheap = m * (kk * c + 1) + p < m * p
    if copy and (cheap or m * p >= FOLD_MIN):
        # The bias as one more column of the product's weights, against a row of ones
        # below the cols copy: when the copy is made anyway, and those weights are built
        # once (constant weights, ``_with_bias``) or cost less to build than a pass over
        # the result
        shape = (kk * c + 1, p) if rows else (p, kk * c + 1)
        small.biased = (shape, _cols_strides(view_shape, rows, nsp, shape, item))
        small.cheap_bias = cheap
    cols = small.biased[0] if small.biased else small.cols
    small.largest = max(cols, (m, p), canvas or (), key=math.prod)
    return small


def _shifts_cost(x, shifts, item) -> int:
    """The cost of ``_shifts_layout``'s copies, in element copies: the input into its flat
    canvas (or an NCHW copy of an input in another layout), the cols copy, and the zeroed
    window entries (one run per output row)."""
    canvas, _, _, shape, strides, masks = shifts
    made = 0 if x.flags.c_contiguous else _copy_cost(x.shape, x.strides, item)
    if canvas is not None:
        made += x.size + RUN_COST * x.shape[1]
    copy = _copy_cost(shape, [s * item for s in strides], item)
    target = _c_strides(shape, range(len(shape)), item)  # (the cols' own layout)
    for mask in masks:
        zeroed = np.broadcast_to(np.empty((), np.int8), shape)[mask]  # (no memory: a shape)
        steps = [st for st, index in zip(target, mask, strict=True) if isinstance(index, slice)]
        copy += _copy_cost(zeroed.shape, steps, item)
    return made + copy


def _cols_strides(view_shape, rows, nsp, shape, item) -> tuple:
    """The byte strides of the window view's axes in a C-contiguous cols buffer of ``shape``,
    one wider than the view's own matrix (the bias's row or column)."""
    if rows:  # (*K, C, *out) in the first K*C rows of (K*C+1, P)
        return _c_strides(view_shape, range(len(view_shape)), item)
    # (*out, *K, C) in (P, K*C+1): positions step by rows, window values within a row
    outer = _c_strides(view_shape[:nsp], range(nsp), shape[1] * item)
    return outer + _c_strides(view_shape[nsp:], range(len(view_shape) - nsp), item)


def _c_strides(shape, order, item) -> tuple:
    """The byte strides, as (N, C, *S), of a C-contiguous array of ``shape`` that holds the
    axes (N, C, *S) in ``order``."""
    xs = [0] * len(order)
    step = item
    for pos in reversed(range(len(order))):
        xs[order[pos]] = step
        step *= shape[pos]
    return tuple(xs)


def _merged(shape, strides) -> list:
    """(length, byte stride) of the axes of a view once adjacent axes that step as one are
    merged (axes of length 1 dropped)."""
    axes = []
    for size, stride in zip(shape, strides, strict=True):
        if size == 1:
            continue
        if axes and axes[-1][1] == size * stride:
            axes[-1] = (axes[-1][0] * size, stride)
        else:
            axes.append((size, stride))
    return axes


def _copy_cost(shape, strides, item) -> int:
    """The cost of a C-order copy of a view, in element copies: numpy's copy loop runs once
    per innermost (merged) axis, each run costing about ``RUN_COST`` elements."""
    axes = _merged(shape, strides)
    total = math.prod(shape)
    inner = axes[-1][0] if axes else 1
    return total + RUN_COST * (total // max(inner, 1))


def _cols_cost(shape, strides, k, item, rows) -> int:
    """The cost of the (K*C, P) (``rows``) or (P, K*C) matrix of a window view: nothing when
    it is the view's own memory in a layout BLAS reads (a 1x1 convolution), else its copy."""
    if rows is None:
        return 0  # (depthwise: einsum reads the view)
    axes = _merged(shape, strides)
    if len(axes) <= 2 and _blas_2d(axes, k, rows, item):
        return 0
    return _copy_cost(shape, strides, item)


def _blas_2d(axes, k, rows, item) -> bool:
    """Whether the merged ``axes`` are the planned 2-D matrix (K*C rows first when ``rows``)
    with one unit stride, as BLAS takes it."""
    if len(axes) < 2:
        return not axes or axes[0][1] == item
    (a, sa), (b, sb) = axes
    if (a if rows else b) != k:
        return False
    return (sb == item and sa >= b * item) or (sa == item and sb >= a * item)
