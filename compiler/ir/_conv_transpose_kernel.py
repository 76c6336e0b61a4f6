"""TRANSPOSE_CONV in the IR evaluator (``reference/transpose_conv.h``).

Each input pixel ``(y, x)`` scatters ``filter[:, fy, fx, :] @ input[y, x]`` onto output pixel
``(y * stride - pad + fy, x * stride - pad + fx)``; taps outside the output are dropped. The
pad is TFLite's: ``max((o - 1) * s + k - H, 0) // 2`` with ``o = ceil(H / s)`` for SAME, 0 for
VALID, computed from the output size ``H``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["transpose_conv", "transpose_conv_pad"]


def transpose_conv_pad(padding: str, out: int, kernel: int, stride: int) -> int:
    """TFLite's front padding of one axis (``ComputePaddingHeightWidth`` on the output)."""
    if padding == "VALID":
        return 0
    conv_out = (out + stride - 1) // stride
    return max((conv_out - 1) * stride + kernel - out, 0) // 2


def transpose_conv(x, w, bias=None, *, padding, stride, output_size):
    """NHWC ``x``, OHWI ``w``: the float64 transposed convolution of size ``output_size``."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    n, h, wd, _ = x.shape
    oc, kh, kw, _ = w.shape
    (sh, sw), (oh, ow) = stride, output_size
    ph = transpose_conv_pad(padding, oh, kh, sh)
    pw = transpose_conv_pad(padding, ow, kw, sw)
    # A canvas holding every tap, then the [ph, ph + oh) x [pw, pw + ow) window of it.
    ch = max((h - 1) * sh + kh, ph + oh)
    cw = max((wd - 1) * sw + kw, pw + ow)
    canvas = np.zeros((n, ch, cw, oc))
    for fy in range(kh):
        for fx in range(kw):
            tap = x @ w[:, fy, fx, :].T  # (n, h, w, oc)
            canvas[:, fy : fy + (h - 1) * sh + 1 : sh, fx : fx + (wd - 1) * sw + 1 : sw] += tap
    out = canvas[:, ph : ph + oh, pw : pw + ow]
    if bias is not None:
        out = out + np.asarray(bias, np.float64)
    return out
