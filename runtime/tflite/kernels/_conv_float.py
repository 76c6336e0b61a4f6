"""Float32 CONV_2D as GEMMs with fewer passes over the result.

* The bias is added over the result viewed as rows of ``BIAS_ROW_ELEMENTS``-ish elements (the
  bias tiled to that length once): numpy's broadcast add loops per row of the (pixels, oc)
  result, and with MediaPipe's 16-64 channels that loop overhead cost as much as the GEMM's
  own write (12544x16: 101 -> 38 us on AVX2). Same additions, same result.
* Where the result is at least ``AUGMENT_MIN_RATIO`` times wider than the GEMM's depth (1x1
  expansions), the input is copied beside a ones column and the bias is one more filter row.
* Windows of few input channels (first layers: 3 channels, 3x3 or 5x5, stride 2) are gathered
  into a (depth + 1, pixels) matrix whose last row is ones, multiplied (transposed) by the
  filter with the bias as one more row. At dilation 1 the input is first split into
  stride-phase channel planes (``PhasePlanes``), from which all taps of a phase pair copy as
  one strided view of contiguous rows; dilated windows copy tap by tap. Either way the copies
  run along rows, not the window view's 3-element innermost axis, and the bias costs no pass
  (128x128x3 -> 64x64x24 5x5/2: the window copy 221 -> 104 us with the planes' own copy).
"""

from __future__ import annotations

import numpy as np

from runtime._budget import check_elements
from runtime._parallel import run_chunks

# Length the bias is tiled to for its add (a multiple of the channel count at least this long).
BIAS_ROW_ELEMENTS = 1024

# Output/input width ratio of a GEMM from which the bias runs as one more GEMM row (on a copy of
# the input with a ones column) instead of a pass over the result (on AVX2: 16 -> 64 channels
# 4% faster, 16 -> 96 10%, 24 -> 144 13%, 32 -> 192 15%; 24 -> 16 and 32 -> 32 slower).
AUGMENT_MIN_RATIO = 4

# Largest input copy (elements) made for that: on 112x112 maps (16 -> 64 channels, a 0.85 MB
# copy) the plain GEMM and tiled bias pass were faster in the models (755 vs 781-850 us).
AUGMENT_MAX_ELEMENTS = 1 << 17

# Input channels up to which windows are gathered tap by tap (each tap and channel one copy of
# a pixel plane), and the fewest output pixels per chunk for which that beats one copy of the
# window view (measured on AVX2; the existing one-channel rule used 1024 pixels too).
TAP_GATHER_MAX_CHANNELS = 4
TAP_GATHER_MIN_ROWS = 1024


class FloatConv:
    """The GEMM of a float32 convolution: ``w`` (depth, oc) and the optional bias ``b``.

    Holds only the filter's own arrays (made from the model's constants at prepare time)."""

    def __init__(self, w: np.ndarray, b: np.ndarray | None, clamp):
        self.w = w
        self.oc = w.shape[1]
        self.clamp = clamp
        self.b = b
        # (see AUGMENT_MIN_RATIO)
        self.augments = b is not None and self.oc >= AUGMENT_MIN_RATIO * w.shape[0]
        if b is None:
            self.w_aug = np.concatenate([w, np.zeros((1, self.oc), np.float32)])
            self.tiled = None
            return
        self.w_aug = np.concatenate([w, b[None, :]])
        reps = max(1, -(-BIAS_ROW_ELEMENTS // self.oc))
        self.reps = reps
        self.tiled = np.tile(b, reps)
        for a in (self.w, self.w_aug, self.tiled):
            a.flags.writeable = False  # shared by the threads of sliced batches

    def add_bias(self, y: np.ndarray) -> None:
        """``y`` (rows, oc), C-contiguous, += bias, over long rows where the count allows."""
        if self.b is None:
            return
        rows = y.shape[0]
        whole = rows - rows % self.reps
        if whole:
            v = y[:whole].reshape(-1, self.tiled.size)
            np.add(v, self.tiled, out=v)
        if whole < rows:
            rest = y[whole:]
            np.add(rest, self.b, out=rest)

    def gemm(self, cols: np.ndarray, y: np.ndarray) -> None:
        """``y`` (rows, oc, C-contiguous) = clamp(cols @ w + b)."""
        depth = self.w.shape[0]
        if self.augments and cols.shape[0] * (depth + 1) <= AUGMENT_MAX_ELEMENTS:
            # The bias as one more GEMM row: copying the narrow input beside a ones column
            # costs less than a pass over the wider result.
            check_elements((cols.shape[0], depth + 1), "augmented GEMM input", 4)
            aug = np.empty((cols.shape[0], depth + 1), np.float32)
            aug[:, depth] = 1.0
            aug[:, :depth] = cols
            np.matmul(aug, self.w_aug, out=y)
        else:
            np.matmul(cols, self.w, out=y)
            self.add_bias(y)
        self.clamp(y)

    def gather_wanted(self, win_shape) -> bool:
        """Whether windows of shape ``win_shape`` (N, OH, OW, KH, KW, IC) run through
        ``gathered``."""
        n, oh, ow, kh, kw, ic = win_shape
        per = max(1, CHUNK_ROWS // max(oh * ow, 1))
        return ic <= TAP_GATHER_MAX_CHANNELS and min(n, per) * oh * ow >= TAP_GATHER_MIN_ROWS

    def gathered(self, x: np.ndarray, win_shape, strides, pads, win=None) -> np.ndarray:
        """The convolution of float32 ``x`` (NHWC) by tap gathers (see the module) over
        windows of shape ``win_shape`` (N, OH, OW, KH, KW, IC): from stride-phase planes at
        dilation 1, given the convolution's ``strides`` (sh, sw) and ``pads`` (rows and
        columns of padding before the image), else (``strides`` None) tap by tap from the
        window view ``win`` of the padded input."""
        n, oh, ow, kh, kw, ic = win_shape
        depth = kh * kw * ic
        oc = self.oc
        check_elements((n, oh, ow, oc), "convolution output", 4)
        out = np.empty((n, oh, ow, oc), np.float32)
        per = max(1, CHUNK_ROWS // max(oh * ow, 1))
        phases = None if strides is None else PhasePlanes(x, win_shape, strides, pads)

        def chunk(s):
            m = min(per, n - s)
            taps = np.empty((depth + 1, m, oh, ow), np.float32)
            if phases is not None:
                phases.gather(taps, s, m)
            else:
                block = win[s : s + m]
                k = 0
                for i in range(kh):
                    for j in range(kw):
                        for ch in range(ic):
                            taps[k] = block[:, :, :, i, j, ch]
                            k += 1
            taps[depth] = 1.0
            y = out[s : s + m].reshape(-1, oc)
            np.matmul(taps.reshape(depth + 1, -1).T, self.w_aug, out=y)
            self.clamp(y)

        if n <= per:
            chunk(0)
        else:
            run_chunks(chunk, range(0, n, per))
        return out


class PhasePlanes:
    """An NHWC input split by the convolution's strides into channel planes: plane
    (py, px, c) holds the padded input's pixels (sh * Y + py, sw * X + px) of channel c at
    (Y, X), zeros in the padding. Tap (i, j) of every output pixel is then plane
    (i % sh, j % sw)'s shifted window at (i // sh, j // sw): rows of OW contiguous values, so
    all taps of a phase pair copy as one strided view (one call each instead of a call per tap
    and channel). Made per call: the planes belong to one input."""

    def __init__(self, x: np.ndarray, win_shape, strides, pads):
        n, h, w, ic = x.shape
        _, oh, ow, kh, kw, _ = win_shape
        sh, sw = strides
        pt, pl = pads
        self.geometry = (ic, oh, ow, kh, kw, sh, sw)
        ph, pw = min(sh, kh), min(sw, kw)
        hh, wh = oh + (kh - 1) // sh, ow + (kw - 1) // sw
        check_elements((n, ph, pw, ic, hh, wh), "phase planes", 4)
        self.planes = planes = np.zeros((n, ph, pw, ic, hh, wh), np.float32)
        for py in range(ph):
            y0 = (py - pt) % sh  # the first input row of this phase
            dy = (y0 + pt) // sh
            rows = min(len(range(y0, h, sh)), hh - dy)
            for px in range(pw):
                x0 = (px - pl) % sw
                dx = (x0 + pl) // sw
                cols = min(len(range(x0, w, sw)), wh - dx)
                if rows > 0 and cols > 0:
                    src = x[
                        :, y0 : y0 + (rows - 1) * sh + 1 : sh, x0 : x0 + (cols - 1) * sw + 1 : sw
                    ]
                    dst = planes[:, py, px, :, dy : dy + rows, dx : dx + cols]
                    np.copyto(dst, src.transpose(0, 3, 1, 2))

    def gather(self, taps: np.ndarray, first: int, count: int) -> None:
        """Fill ``taps`` (KH*KW*IC (+ more), count, OH, OW; C-contiguous) with images
        ``first`` to ``first + count``'s taps, in OHWI filter order."""
        ic, oh, ow, kh, kw, sh, sw = self.geometry
        planes = self.planes
        sn, sy, sx, sc, sr, se = planes.strides
        e = taps.itemsize
        rows = count * oh * ow
        for pi in range(planes.shape[1]):
            ni = len(range(pi, kh, sh))
            for pj in range(planes.shape[2]):
                nj = len(range(pj, kw, sw))
                shape = (ni, nj, ic, count, oh, ow)
                src = np.ndarray(
                    shape,
                    np.float32,
                    planes,
                    first * sn + pi * sy + pj * sx,
                    (sr, se, sc, sn, sr, se),
                )
                dst = np.ndarray(
                    shape,
                    np.float32,
                    taps,
                    (pi * kw + pj) * ic * rows * e,
                    (sh * kw * ic * rows * e, sw * ic * rows * e, rows * e, oh * ow * e, ow * e, e),
                )
                np.copyto(dst, src)


# As conv.CHUNK_ROWS (rows of one GEMM); kept equal there.
CHUNK_ROWS = 8192
