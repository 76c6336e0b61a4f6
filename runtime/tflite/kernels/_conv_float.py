"""Float32 CONV_2D as GEMMs with fewer passes over the result.

* The bias is added over the result viewed as rows of ``BIAS_ROW_ELEMENTS``-ish elements (the
  bias tiled to that length once): numpy's broadcast add loops per row of the (pixels, oc)
  result, and with MediaPipe's 16-64 channels that loop overhead cost as much as the GEMM's
  own write (12544x16: 101 -> 38 us on AVX2). Same additions, same result.
* Windows of few input channels (first layers: 3 channels, 3x3, stride 2) are gathered tap by
  tap into a (depth + 1, pixels) matrix whose last row is ones, multiplied (transposed) by the
  filter with the bias as one more row: the copies run along long rows (the window view's
  innermost axis is 3 elements long) and the bias costs no pass
  (224x224x3 -> 112x112x24: gather 283 -> 205 us, bias pass gone).
"""

from __future__ import annotations

import numpy as np

from runtime._budget import check_elements
from runtime._parallel import run_chunks

# Length the bias is tiled to for its add (a multiple of the channel count at least this long).
BIAS_ROW_ELEMENTS = 1024

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
        np.matmul(cols, self.w, out=y)
        self.add_bias(y)
        self.clamp(y)

    def gather_wanted(self, win: np.ndarray) -> bool:
        """Whether ``win`` (N, OH, OW, KH, KW, IC) runs through ``gathered``."""
        n, oh, ow, kh, kw, ic = win.shape
        per = max(1, CHUNK_ROWS // max(oh * ow, 1))
        return ic <= TAP_GATHER_MAX_CHANNELS and min(n, per) * oh * ow >= TAP_GATHER_MIN_ROWS

    def gathered(self, win: np.ndarray) -> np.ndarray:
        """The convolution of the window view ``win`` by tap gathers (see the module)."""
        n, oh, ow, kh, kw, ic = win.shape
        depth = kh * kw * ic
        oc = self.oc
        check_elements((n, oh, ow, oc), "convolution output", 4)
        out = np.empty((n, oh, ow, oc), np.float32)
        per = max(1, CHUNK_ROWS // max(oh * ow, 1))

        def chunk(s):
            block = win[s : s + per]
            m = block.shape[0]
            taps = np.empty((depth + 1, m, oh, ow), np.float32)
            k = 0
            for i in range(kh):
                for j in range(kw):
                    for ch in range(ic):
                        taps[k] = block[:, :, :, i, j, ch]
                        k += 1
            taps[depth] = 1.0
            y = out[s : s + per].reshape(-1, oc)
            np.matmul(taps.reshape(depth + 1, -1).T, self.w_aug, out=y)
            self.clamp(y)

        if n <= per:
            chunk(0)
        else:
            run_chunks(chunk, range(0, n, per))
        return out


# As conv.CHUNK_ROWS (rows of one GEMM); kept equal there.
CHUNK_ROWS = 8192
