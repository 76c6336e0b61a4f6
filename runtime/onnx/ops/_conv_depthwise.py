"""Depthwise 2-D convolutions (onnx.ai/onnx/operators/onnx__Conv.html with group = C = M: one
input channel and one filter per group) as one ``einsum`` per band of output rows.

With the input channels-last, out[n, h, w, c] = sum_{i, j} x[n, h*sh + i*dh - pt,
w*sw + j*dw - pl, c] * f[i, j, c]. Along a row, the output's (w, c) entries are one run of
Wo*C values when the windows step by whole pixels (sw = 1): tap (i, j) reads the run that
starts at column j*dw, against the filter values tiled, ``tiled[i, j, w*C + c] = f[i, j, c]``;
einsum's inner loop then runs along several pixels' channels instead of C values. The row is
cut into chunks of WIDTH / 2 to 2 * WIDTH values (``runtime._depthwise_rows``: whole pixels
dividing the row when some do, else about WIDTH values and a shorter tail chunk): the
tiled filters of one chunk, K chunks in all, stay in cache while einsum runs over the row's
chunks (a whole row's would be K times the output row, read again for each row).

A stride sw > 1 along the rows is brought back to that case by splitting the padded columns by
phase (column q*sw + b held at canvas[n, y, b, q, c]): with j = a*sw + b (dilation 1 along the
rows), tap (i, j) reads phase b from q = w + a, one run again; the (a, b) pairs past the
kernel get zero filters.

The rows are not padded: output row h reads input row h*sh + i*dh - pt, and only the taps i
whose row lies inside the input are summed (a pad's row adds zeros). Consecutive rows with the
same range of such taps form a band: one einsum each, written into the output's rows (a map
two rows high under a 5x5 kernel sums two of five kernel rows). The sums run over the taps in
the order (i, j), as the general path's, which also sums a pad's zeros.

The tiled filters depend on the weights and the chunk's width. For constant weights they are
kept in the Conv node's own ``tiles`` dict (bound at load by ``runtime.onnx._plan``, so they
go with the session, and no other Conv or session shares them); otherwise they are built on
each call. Everything else is decided once per geometry (``plan``), and a call does the
channels-last copy, the einsums and the bias.
"""

import math

import numpy as np

from runtime._depthwise_rows import chunk_pixels, row_bands
from runtime.onnx.ops._common import check_size

# Tiled filters a Conv keeps (one per dtype and chunk width in use).
MAX_TILES = 4


class DepthwisePlan:
    """What ``run`` needs, decided from the key of ``conv.conv_nchw`` alone."""

    __slots__ = (
        "path",  # "depthwise2d": how conv.conv_nchw tells it from its own geometries
        "canvas",  # the (N, H, B, Q, C) zero-padded phase copy's shape, or None: x's memory
        "inner",  # per phase: (b, first q, last q + 1, first x column)
        "borders",  # the canvas's pad columns: (b, first q, last q + 1)
        "steps",  # the root's element strides (n, input row, phase b, column q)
        "dilation",  # columns between taps j in the root (dw when sw = 1, else 1)
        "taps",  # (kh, A, B): the tiled filters' kernel axes
        "bands",  # (h0, h1, i0, i1, first input row): output rows and their taps
        "strides",  # (sh, dh): input rows per output row and per tap
        "chunk",  # pixels per chunk (Wt)
        "chunks",  # whole chunks per row
        "tail",  # pixels after them
        "out",  # (N, Ho, Wo*C)
        "result",  # (N, Ho, Wo, C)
        "largest",
        "width",  # Wo
        "kernel",
    )

    def __init__(self):
        for name in self.__slots__:
            setattr(self, name, None)

    def run(self, x, w, bias, tiles, op: str):
        """The convolution of ``x`` (N, C, H, W) with ``w`` (C, 1, kh, kw) plus ``bias``
        (C,) if given; ``tiles``: the dict keeping this Conv's tiled filters, or None."""
        check_size(self.largest, op)
        dtype = x.dtype
        root = x.transpose(0, 2, 3, 1)  # (C-contiguous when there is no canvas)
        if self.canvas is not None:
            canvas = np.empty(self.canvas, dtype)
            for b, q0, q1 in self.borders:  # (the pads: zeros written once, not a pass)
                canvas[:, :, b, q0:q1] = 0
            for b, q0, q1, x0 in self.inner:
                canvas[:, :, b, q0:q1] = root[:, :, x0 :: self.canvas[2]]
            root = canvas
        tiled = self._tiled(w, dtype, tiles)
        out = np.empty(self.out, dtype)
        item = dtype.itemsize
        sn, sy, sb, sq = self.steps
        sh, dh = self.strides
        _, na, nb = self.taps
        n = self.out[0]
        run = self.chunk * sq  # (values per chunk: sq is C)
        whole = self.chunks * run
        for h0, h1, i0, i1, row in self.bands:
            if i0 == i1:  # (every tap in a pad)
                out[:, h0:h1] = 0
                continue
            lead = (n, h1 - h0, i1 - i0, na, nb)
            steps = (sn, sh * sy, dh * sy, self.dilation * sq, sb)
            if self.chunks:
                view = _view(root, row * sy, lead + (self.chunks, run), steps + (run, 1), item)
                target = out[:, h0:h1, :whole].reshape(n, h1 - h0, self.chunks, run)
                np.einsum("nhiabpq,iabq->nhpq", view, tiled[i0:i1], out=target)
            if self.tail:
                rest = self.tail * sq
                view = _view(root, row * sy + whole, lead + (rest,), steps + (1,), item)
                part = tiled[i0:i1, ..., :rest]
                np.einsum("nhiabq,iabq->nhq", view, part, out=out[:, h0:h1, whole:])
        result = out.reshape(self.result)
        if bias is not None:
            result += bias.astype(dtype, copy=False)
        return result.transpose(0, 3, 1, 2)

    def _tiled(self, w, dtype, tiles):
        """The filters as (kh, A, B, Wt*C): tiled[i, a, b, w*C + c] = w[c, 0, i, a*B + b]
        (zero past the kernel)."""
        key = (self.chunk, dtype.str)
        hit = None if tiles is None else tiles.get(key)
        if hit is not None:
            return hit
        c = w.shape[0]
        kh, na, nb = self.taps
        kw = self.kernel[1]
        f = np.zeros((kh, na * nb, c), dtype)
        f[:, :kw] = w.reshape(c, kh, kw).transpose(1, 2, 0)
        tiled = np.tile(f[:, :, None, :], (1, 1, self.chunk, 1)).reshape(kh, na, nb, -1)
        if tiles is not None and len(tiles) < MAX_TILES:
            tiled.flags.writeable = False
            tiles[key] = tiled  # (another thread may store an equal array: either serves)
        return tiled


def _view(root, offset, shape, steps, item):
    """The windows ``shape`` at element ``offset`` of ``root``, element strides ``steps``."""
    return np.ndarray(shape, root.dtype, root, offset * item, tuple(s * item for s in steps))


def plan(x, w, dtype, kernel, strides, dilations, pads) -> DepthwisePlan | None:
    """A ``DepthwisePlan`` for the checked depthwise convolution of ``x`` (N, C, H, W) with
    ``w`` (C, 1, kh, kw), or None when it is not one this path takes: other than 2-D, float32
    or float64 in and out, an empty output, or a stride along the rows with a dilation."""
    if x.ndim != 4 or dtype not in (np.float32, np.float64) or x.dtype != dtype:
        return None
    if w.dtype != dtype:
        return None
    n, c, height, width = x.shape
    kh, kw = kernel
    sh, sw = strides
    dh, dw = dilations
    pt, pl, pb, pr = pads
    if sw > 1 and dw > 1:
        return None
    padded_w = width + pl + pr
    ho = (height + pt + pb - (kh - 1) * dh - 1) // sh + 1
    wo = (padded_w - (kw - 1) * dw - 1) // sw + 1
    if n == 0 or c == 0 or ho <= 0 or wo <= 0:
        return None
    p = DepthwisePlan()
    p.path, p.kernel, p.width = "depthwise2d", (kh, kw), wo
    na, nb = (kw, 1) if sw == 1 else (-(-kw // sw), sw)
    p.taps, p.strides, p.dilation = (kh, na, nb), (sh, dh), dw if sw == 1 else 1
    p.chunk = chunk_pixels(wo, c)
    p.chunks, p.tail = divmod(wo, p.chunk)
    if p.chunks == 1 and not p.tail:
        p.chunks, p.tail = 0, wo  # (one chunk: the plain row, one axis fewer)
    p.out, p.result = (n, ho, wo * c), (n, ho, wo, c)
    channels_last = x.transpose(0, 2, 3, 1).flags.c_contiguous
    if sw == 1 and not pl and not pr and channels_last:
        q = width  # (x's own memory, (N, H, W, C))
        p.canvas = None
    else:
        q = max(-(-padded_w // nb), wo + na - 1)
        p.canvas = (n, height, nb, q, c)
        p.inner, p.borders = [], []
        for b in range(nb):
            x0 = (b - pl) % nb  # the first x column in phase b
            if x0 >= width:
                p.borders.append((b, 0, q))
                continue
            count = len(range(x0, width, nb))
            q0 = (x0 + pl) // nb
            p.inner.append((b, q0, q0 + count, x0))
            p.borders += [(b, lo, hi) for lo, hi in ((0, q0), (q0 + count, q)) if lo < hi]
    p.steps = (height * nb * q * c, nb * q * c, q * c, c)
    p.bands = row_bands(ho, height, kh, sh, dh, pt)
    p.largest = max(p.out, p.canvas or (), key=math.prod)
    return p
