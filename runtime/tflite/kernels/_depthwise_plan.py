"""Depthwise convolution sums over NHWC maps, as one ``einsum`` per band of output rows,
planned once per input shape (``DepthwisePlan``) and used by DEPTHWISE_CONV_2D's float32 and
int8 kernels.

out[n, h, w, c] = sum_{i, j} x[n, h*sh + i*dh - pt, w*sw + j*dw - pl, c] * f[i, j, c].
Channels are the contiguous axis, so along a row of the output the (w, c) entries are one run
of Wo*C values when the windows step by whole pixels (sw = 1): tap (i, j) reads the run that
starts at column j*dw, against the filter tiled, ``tiled[i, j, w*C + c] = f[i, j, c]``, and
einsum's inner loop runs along several pixels' channels instead of C values. The row is cut
into chunks of about WIDTH values (``runtime._depthwise_rows``; whole pixels dividing the row
when some do): one chunk's tiled filters stay in cache while einsum runs over the row's
chunks.

Where a map is read from: either a padded canvas, a copy of the input (converted to the sums'
type on the way; the pads hold ``fill``), or, for float32 at sw = 1, the input itself for the
output columns whose taps all lie inside it, with the few columns at the left and right edges
summed from small canvases of their own (strips). A stride sw > 1 along the rows either
splits the canvas's columns by phase (column q*sw + b held at canvas[n, y, b, q, c]): with
j = a*sw + b (dilation 1 along the rows), tap (i, j) reads phase b from q = w + a, one run
again, the (a, b) pairs past the kernel with zero filters (so a map holding inf or NaN goes
to the caller's general path); or reads windows at that stride, einsum's inner loop running
along one pixel's C channels (many channels: no taps past the kernel, no copy in place).

Rows either get pad rows in the canvas (one band: every output row sums every tap) or none:
output row h then sums only the taps i whose input row lies in the map (a pad's row adds
zeros), and consecutive rows with the same taps form a band, one einsum each. The plan takes
the cheapest of these ways by a count of multiply-adds, with an einsum call worth
``CALL_COST`` of them and a copied value ``copy_cost`` (small maps under tall kernels pad
their rows; large ones are read in place). The sums run over the taps in (i, j) order.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from runtime._depthwise_rows import chunk_pixels, row_bands
from runtime.tflite.kernels import _common as c

# One einsum call's fixed cost (parsing, iterator set-up: ~3 us) in multiply-adds (~0.2 ns
# each in its inner loop): a band of rows is worth its own call only when it saves more.
CALL_COST = 16384
# A value copied into a canvas, in multiply-adds: the copy reads a map that the previous
# operator wrote and writes the canvas, at ~0.1 ns a value while both stay in cache (a map of
# up to CACHED bytes) and ~0.5 ns from memory.
COPY_COST_CACHED = 0.5
COPY_COST = 2.5
CACHED = 1 << 20
# One pass of einsum's inner loop, in multiply-adds: what a window read in place at a stride
# pays per pixel and tap, its inner loop running along C channels alone.
INNER_COST = 64


class DepthwisePlan:
    """The sums for one input shape, geometry and filter; ``sums`` runs them.

    Build with ``plan``. Holds its own tiled filters and one canvas per thread that runs it
    (``threading.local``): a plan belongs to one kernel (it is kept in that kernel's closure,
    so it goes with the interpreter), and threads running that kernel may share it.
    """

    __slots__ = (
        "canvas",  # (N, rows, B, Q, C) shape of the padded copy, or None: x's own memory
        "top",  # the canvas row of input row 0
        "inner",  # per phase: (b, first q, last q + 1, first x column)
        "borders",  # the canvas's pad regions: (row0, row1, b, q0, q1)
        "steps",  # the root's element strides (n, row, phase b, column q)
        "dilation",  # root columns between taps j (dw when sw = 1, else 1)
        "bands",  # (h0, h1, i0, i1, first root row): output rows and their taps
        "strides",  # (sh, dh)
        "taps",  # (kh, A, B)
        "span",  # (first output column, its tap 0's root column, output columns) summed here
        "chunk",  # pixels per chunk
        "chunks",  # whole chunks per row
        "tail",  # pixels after them
        "strips",  # (plan, first x column, last + 1, first output column, last + 1)
        "out",  # (N, Ho, Wo*C)
        "result",  # (N, Ho, Wo, C)
        "dtype",
        "tiled",  # (kh, A, B, chunk*C) filters, read-only
        "scratch",  # thread-local: each thread's canvas
        "columns",  # (N, 1, H, C): a one-column map read as one row, or None
        "calls",  # the einsums: see _calls
        "fill",  # the pads' value
        "phantom",  # whether the phases add taps past the kernel (zero filters)
        "stride",  # sw > 1 when the windows are read in place at that stride (no phases)
    )

    def sums(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray | None:
        """The (N, Ho, Wo, C) sums for ``x`` (N, H, W, C) of the planned shape, converted to
        the plan's dtype (exact for integers: the caller's dtype bounds the sums). The result
        is a fresh C-contiguous array the caller may change in place (or ``out``, an
        (N, Ho, Wo*C) view, filled). None for a float map holding inf or NaN when the plan has
        taps past the kernel (their zero filters would turn an inf into NaN where the
        reference sums no such tap)."""
        dtype = self.dtype
        if self.phantom and x.dtype.kind == "f" and not _finite(x):
            return None
        if self.columns is not None:
            x = x.reshape(self.columns)
        if self.canvas is None:
            root = np.ascontiguousarray(x, dtype)
            views = None
        else:
            root = getattr(self.scratch, "canvas", None)
            if root is None:
                # This thread's canvas: its pads keep the fill for good (each call writes the
                # inside alone), and a fresh array per call would cost page faults; the
                # einsums' windows on it are made once too.
                root = np.empty(self.canvas, dtype)
                for r0, r1, b, q0, q1 in self.borders:
                    root[:, r0:r1, b, q0:q1] = self.fill
                self.scratch.views = [_call_view(root, call) for call in self.calls]
                self.scratch.canvas = root
            views = self.scratch.views
            rows = slice(self.top, self.top + x.shape[1])
            for b, q0, q1, x0 in self.inner:
                np.copyto(root[:, rows, b, q0:q1], x[:, :, x0 :: self.canvas[2]], "unsafe")
        if out is None:
            out = np.empty(self.out, dtype)
        for k, call in enumerate(self.calls):
            subscripts, _, _, _, filters, index, shape = call
            target = out[index]
            if subscripts is None:  # (every tap in a pad)
                target[...] = 0
                continue
            view = _call_view(root, call) if views is None else views[k]
            np.einsum(subscripts, view, filters, out=target.reshape(shape))
        for strip, x0, x1, w0, w1 in self.strips:
            ch = self.result[3]
            if strip.sums(x[:, :, x0:x1], out[:, :, w0 * ch : w1 * ch]) is None:
                return None  # (an inf or NaN that the strip's phases would spread)
        return out.reshape(self.result)


def _call_view(root, call):
    """The windows one einsum call reads from ``root``."""
    if call[0] is None:
        return None
    _, shape, strides, offset = call[:4]
    return np.ndarray(shape, root.dtype, root, offset, strides)


def _calls(p: DepthwisePlan) -> tuple:
    """The plan's einsum calls: (subscripts or None for zeros, windows' shape, byte strides
    and byte offset in the root, filters, the output's index, the output part's shape)."""
    item = p.dtype.itemsize
    sn, sy, sb, sq = p.steps
    sh, dh = p.strides
    _, na, nb = p.taps
    n = p.out[0]
    w0, x0, wide = p.span
    calls = []
    for h0, h1, i0, i1, row in p.bands:
        first = row * sy + x0 * sq
        rows = (n, h1 - h0)
        lead = (*rows, i1 - i0, na)
        steps = (sn, sh * sy, dh * sy, p.dilation * sq)
        # (subscripts, windows' shape, element strides, filters, element offset, output
        # values [a, b) of each row, the output part's shape)
        if i0 == i1:  # (every tap in a pad)
            parts = [(None, None, None, None, None, 0, wide * sq, None)]
        elif p.stride > 1:  # windows at the stride: (N, rows, i, j, w, C)
            shape, steps = (*lead, wide, sq), (*steps, p.stride * sq, 1)
            target = (*rows, wide, sq)
            parts = [
                ("nhijwc,ijc->nhwc", shape, steps, p.tiled[i0:i1], first, 0, wide * sq, target)
            ]
        else:  # runs of (w, c) values: (N, rows, i, a, b, chunks, run), then the tail's
            run, rest = p.chunk * sq, p.tail * sq
            whole = p.chunks * run
            parts = []
            if p.chunks:
                shape, strides = (*lead, nb, p.chunks, run), (*steps, sb, run, 1)
                filters, target = p.tiled[i0:i1], (*rows, p.chunks, run)
                parts.append(
                    ("nhiabpq,iabq->nhpq", shape, strides, filters, first, 0, whole, target)
                )
            if rest:
                shape, strides = (*lead, nb, rest), (*steps, sb, 1)
                filters, target = p.tiled[i0:i1, ..., :rest], (*rows, rest)
                part = (shape, strides, filters, first + whole, whole, whole + rest, target)
                parts.append(("nhiabq,iabq->nhq", *part))
        for subscripts, shape, strides, filters, offset, a, b, target in parts:
            index = (slice(None), slice(h0, h1), slice(w0 * sq + a, w0 * sq + b))
            if subscripts is not None:
                strides, offset = tuple(v * item for v in strides), offset * item
            calls.append((subscripts, shape, strides, offset, filters, index, target))
    return tuple(calls)


def _finite(x: np.ndarray) -> bool:
    """Whether ``x`` holds no inf or NaN: its sum of squares is finite (one BLAS read pass;
    values past 1e19 overflow it too and count as not finite, which only costs speed)."""
    flat = np.ascontiguousarray(x).reshape(-1)
    return math.isfinite(flat.dot(flat))


def plan(ctx: c.OpContext, shape, f: np.ndarray, geom, dtype, fill=0) -> DepthwisePlan | None:
    """A ``DepthwisePlan`` for inputs of ``shape`` (N, H, W, C) and filters ``f``
    (kh, kw, C) in ``dtype``, or None for an empty map. ``geom``: (kh, kw, sh, sw, dh, dw, padding);
    ``fill``: the pads' value (a nonzero one, an int8 zero point, is summed as the reference
    sums x - zero point: every tap is summed, pad rows included). Canvas and output sizes are
    checked against the run's limits here."""
    kh, kw, sh, sw, dh, dw, padding = geom
    n, height, width, ch = shape
    if width == 1 and height > 1:
        # A one-column map (audio: time along the rows) is one row of H pixels with the
        # kernel transposed: the sums of a tap then run along all its rows' channels.
        geom = (kw, kh, sw, sh, dw, dh, padding)
        p = plan(ctx, (n, 1, height, ch), f.transpose(1, 0, 2), geom, dtype, fill)
        if p is not None:
            p.columns = (n, 1, height, ch)
            p.result = (n, p.result[2], 1, ch)
        return p
    ho, pt = c.pad_before(padding, height, kh, sh, dh)
    wo, pl = c.pad_before(padding, width, kw, sw, dw)
    if wo == 1:
        sw = 1  # (one output column: its stride moves nothing; e.g. 9x1 kernels on audio)
    if n == 0 or ch == 0 or ho <= 0 or wo <= 0:
        return None
    dtype = np.dtype(dtype)
    c.check_alloc(ctx, (n, ho, wo * ch), "depthwise sums", dtype.itemsize)
    window, kernel = (ho, wo, pt, pl), (kh, kw, sh, sw, dh, dw)
    ways = []
    if sw == 1 or dw == 1:
        ways.append(_canvas_plan(ctx, shape, f, kernel, window, dtype, fill, None, True))
    if sw > 1:
        ways.append(_canvas_plan(ctx, shape, f, kernel, window, dtype, fill, None, False))
    if dtype == np.float32 and not fill:
        ways.append(_direct_plan(ctx, shape, f, kernel, window))
    return min((w for w in ways if w is not None), key=lambda w: w[0])[1]


def _rows(ho, height, kh, sh, dh, pt, row_work, fill, pad_rows):
    """(cost, bands, whether the rows are padded): bands that skip the pad rows' taps, or one
    band over padded rows, whichever costs less (``pad_rows`` forces a choice)."""
    bands = row_bands(ho, height, kh, sh, dh, pt)
    banded = sum((h1 - h0) * (i1 - i0) for h0, h1, i0, i1, _ in bands) * row_work
    banded += CALL_COST * len(bands)
    padded = ho * kh * row_work + CALL_COST
    if pad_rows is False or (pad_rows is None and not fill and banded <= padded):
        return banded, bands, False
    return padded, ((0, ho, 0, kh, 0),), True


def _canvas_plan(ctx, shape, f, kernel, window, dtype, fill, pad_rows, phases):
    """(cost, plan) reading a padded canvas copy of the input, split by column phases at a
    stride sw > 1 (``phases``, dilation 1 along the rows) or read at that stride."""
    kh, kw, sh, sw, dh, dw = kernel
    ho, wo, pt, pl = window
    n, height, width, ch = shape
    p = _common(f, kernel, (0, 0, wo), (n, ho, wo, ch), dtype, fill, phases)
    _, na, nb = p.taps
    row_work = wo * ch * na * nb + (p.stride > 1) * wo * kw * INNER_COST
    cost, p.bands, padded = _rows(ho, height, kh, sh, dh, pt, row_work, fill, pad_rows)
    need_h = (ho - 1) * sh + (kh - 1) * dh + 1
    need_w = (wo - 1) * sw + (kw - 1) * dw + 1
    rows, p.top = (max(need_h, pt + height), pt) if padded else (height, 0)
    padded_w = max(need_w, pl + width)
    q = max(-(-padded_w // nb), wo + na - 1)
    p.canvas = (n, rows, nb, q, ch)
    c.check_alloc(ctx, p.canvas, "padded depthwise input", dtype.itemsize)
    p.inner, p.borders = [], []
    inside = (p.top, p.top + height)
    for r0, r1 in ((0, inside[0]), (inside[1], rows)):
        if r0 < r1:
            p.borders.append((r0, r1, slice(None), 0, q))
    for b in range(nb):
        x0 = (b - pl) % nb  # the first x column in phase b
        if x0 >= width:
            p.borders.append((*inside, b, 0, q))
            continue
        count = len(range(x0, width, nb))
        q0 = (x0 + pl) // nb
        p.inner.append((b, q0, q0 + count, x0))
        p.borders += [(*inside, b, lo, hi) for lo, hi in ((0, q0), (q0 + count, q)) if lo < hi]
    p.steps = (rows * nb * q * ch, nb * q * ch, q * ch, ch)
    p.calls = _calls(p)
    # (the copy; a test for inf and NaN reads the input again where phases add taps)
    cost += (
        (_copy_cost(n * height * width * ch * dtype.itemsize) + p.phantom) * n * height * width * ch
    )
    return cost, p


def _direct_plan(ctx, shape, f, kernel, window):
    """(cost, plan) reading float32 ``x`` in place for the output columns whose taps all lie
    inside it, the edge columns from strips with canvases of their own; None when no column
    has all its taps inside. With a stride sw > 1 the windows step by sw pixels, so einsum's
    inner loop runs along one pixel's C channels (worth it for many channels: no copy, no
    taps past the kernel)."""
    kh, kw, sh, sw, dh, dw = kernel
    ho, wo, pt, pl = window
    n, height, width, ch = shape
    reach = (kw - 1) * dw
    left = min(wo, -(-pl // sw))  # output columns reading a pad on the left
    right = max(left, min(wo, (width - 1 + pl - reach) // sw + 1))  # and from there on
    if right <= left:
        return None
    span = (left, left * sw - pl, right - left)
    p = _common(f, kernel, span, (n, ho, wo, ch), np.dtype(np.float32), 0, False)
    row_work = (right - left) * ch * kw + (sw > 1) * (right - left) * kw * INNER_COST
    cost, p.bands, _ = _rows(ho, height, kh, sh, dh, pt, row_work, 0, False)
    p.canvas, p.top = None, 0
    p.steps = (height * width * ch, width * ch, width * ch, ch)
    p.calls = _calls(p)
    strips = []
    for w0, w1 in ((0, left), (right, wo)):
        if w0 == w1:
            continue
        x0, x1 = max(0, w0 * sw - pl), min(width, (w1 - 1) * sw - pl + reach + 1)
        sub = (n, height, x1 - x0, ch)
        part_window = (ho, w1 - w0, pt, max(0, pl - w0 * sw))
        # (read at the stride too: a strip is a pixel or two wide)
        part_cost, part = _canvas_plan(ctx, sub, f, kernel, part_window, p.dtype, 0, True, False)
        cost += part_cost + 2 * CALL_COST  # (a plan of its own: its Python calls too)
        strips.append((part, x0, x1, w0, w1))
    p.strips = tuple(strips)
    return cost, p


def _copy_cost(nbytes: int) -> float:
    """What copying a value of a map of ``nbytes`` costs, in multiply-adds."""
    return COPY_COST_CACHED if nbytes <= CACHED else COPY_COST


def _common(f, kernel, span, out, dtype, fill, phases):
    """A plan's fields other than where it reads, for ``out`` (N, Ho, Wo, C) sums of which it
    sums the output columns ``span`` itself; at a stride sw > 1, by column phases or by
    windows read at that stride."""
    kh, kw, sh, sw, dh, dw = kernel
    p = DepthwisePlan()
    p.dtype, p.fill = dtype, fill
    p.strides, p.stride = (sh, dh), 1
    if sw > 1 and not phases:
        p.taps, p.dilation, p.stride = (kh, kw, 1), dw, sw
    elif sw > 1:
        p.taps, p.dilation = (kh, -(-kw // sw), sw), 1
    else:
        p.taps, p.dilation = (kh, kw, 1), dw
    _, na, nb = p.taps
    p.phantom = na * nb > kw
    p.span = span
    wide = span[2]
    p.chunk = chunk_pixels(wide, out[3])
    p.chunks, p.tail = divmod(wide, p.chunk)
    if p.chunks == 1 and not p.tail:
        p.chunks, p.tail = 0, wide  # (one chunk: the plain row, one axis fewer)
    n, ho, wo, ch = out
    p.out, p.result = (n, ho, wo * ch), out
    if p.stride > 1:
        p.tiled = f.astype(dtype)  # (kh, kw, C): windows at a stride need no tiling
        p.tiled.flags.writeable = False
    else:
        p.tiled = _tiled(f, p.taps, kw, p.chunk, dtype)
    p.scratch = threading.local()
    p.columns = None
    p.strips = ()
    return p


def _tiled(f, taps, kw, chunk, dtype):
    """The filters as (kh, A, B, chunk*C): tiled[i, a, b, w*C + c] = f[i, a*B + b, c] (zero
    past the kernel), read-only."""
    kh, na, nb = taps
    ch = f.shape[-1]
    g = np.zeros((kh, na * nb, ch), dtype)
    g[:, :kw] = f
    tiled = np.tile(g[:, :, None, :], (1, 1, chunk, 1)).reshape(kh, na, nb, chunk * ch)
    tiled.flags.writeable = False
    return tiled
