"""int8 convolution arithmetic with the requantization folded into float64 weights.

Format-neutral (used by CONV_2D and DEPTHWISE_CONV_2D). Per output channel the reference
kernels compute ``clamp(MBQM(acc, M, -r) + zp, lo, hi)`` with ``acc = sum_k x_k w_k + b`` (the
input zero point is already folded into ``b``), M in [0, 2^31) and r >= 0 (``_fixed_point``):

    t = SRDHM(acc, M) = floor((acc M + 2^30) / 2^31)
    RDBPOT(t, r)      = floor((t + h - [t < 0]) / 2^r),  h = 2^(r-1)   (r >= 1; = t for r = 0)

Since floor((floor(a) + k) / n) = floor((a + k) / n) for integers k and n > 0, the two
roundings are one floor of an integer N divided by 2^(31+r):

    MBQM + zp = floor(N U - d [t < 0]),   N = acc M + 2^30 + (h + zp 2^r) 2^31,
    U = 2^-(31+r),  d = 2^-r (0 for r = 0),   t < 0  <=>  N U < zp + 1/2.

So with y = N U computed as ``sum_k x_k (w_k M U) + (b M + 2^30 + (h + zp 2^r) 2^31) U``, a
float64 GEMM (or einsum) with the weights scaled by ``M U`` and an offset gives y exactly when
every partial sum is an integer multiple of U below 2^53 U: each product x (w M U) is an
integer of at most 45 bits times U, and the bound below covers every partial sum, in any order
(so BLAS's blocking and FMAs change nothing). Clamping to the integer bounds commutes with the
floor. As a nonzero M is at least 2^30, the bound also keeps 128 sum|w| below 2^23: the
integer sums alone are exact in float32 too (a channel with M = 0 multiplies its sum by 0),
and scaling such a sum by ``M U`` in float64 is exact. Then:

- when lo >= zp (fused RELU/RELU6 clamps at or above the zero point) the t < 0 branch only
  gives values <= zp, which the clamp raises to lo whichever branch is taken: the result is
  ``floor(clamp(y, lo, hi))``;
- otherwise, with the offset lowered by d/2: y' = y - d/2, and the result is
  ``floor(y' + copysign(d/2, y' - (zp + 1/2 - d/2)))``, i.e. y for t >= 0 and y - d for t < 0
  (y exactly zp + 1/2 means t = 0, and copysign of +0.0 keeps y). The subtraction only
  decides a sign, which floating point rounding never changes.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels._common import clip_ufunc

_EXACT = 2**53


class FoldedRequant:
    """Per-channel constants of the folded requantization, built by ``fold_requantization``.

    Attributes:
        scale: (C,) float64 ``M U``: integer weights times it are exact float64 weights.
        offset: (C,) float64 added to ``sum_k x_k (w_k scale)`` to give y (or y').
    """

    def __init__(self, scale, offset, lo: int, hi: int, sign_point, half_step):
        self.scale = scale
        self.offset = offset
        self._lo = float(lo)
        self._hi = float(hi)
        self._sign_point = sign_point  # None on the lo >= zp path
        self._half_step = half_step

    def finish(self, y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """int8 results of ``y`` (float64, channels last, offset already added; consumed)."""
        if self._sign_point is not None:
            s = np.subtract(y, self._sign_point)
            np.copysign(self._half_step, s, out=s)
            y += s
        clip_ufunc(y, self._lo, self._hi, out=y)  # (the ufunc: ndarray.clip's wrapper ~4 us)
        np.floor(y, out=y)
        # integers in int8's range: the conversion is exact
        if out is None:
            return y.astype(np.int8)
        np.copyto(out, y, casting="unsafe")
        return out


def fold_requantization(
    multiplier, shift, bias, abs_weight_sum, zero_point: int, lo: int, hi: int, max_abs_input=128
) -> FoldedRequant | None:
    """The folded form of ``requantize`` for int8 GEMMs, or None where it is not exact.

    Args:
        multiplier: (C,) int quantized multipliers M in [0, 2^31).
        shift: (C,) int shifts; a positive one (left shift) is not folded.
        bias: (C,) int bias, the input zero point's correction included.
        abs_weight_sum: (C,) int sum of |w| over each channel's weights.
        zero_point, lo, hi: output zero point and clamp bounds.
        max_abs_input: the largest |x| the GEMM multiplies (128 for raw int8 values).
    """
    general = lo < zero_point
    n = len(multiplier)
    scale = np.empty(n)
    offset = np.empty(n)
    sign_point = np.empty(n)
    half_step = np.empty(n)
    for c in range(n):
        m, r = int(multiplier[c]), -int(shift[c])
        if r < 0 or not 0 <= m < 2**31:
            return None
        h = 1 << (r - 1) if r else 0
        big = m * int(bias[c]) + (1 << 30) + ((h + (zero_point << r)) << 31)
        if general and r:
            big -= 1 << 30  # d/2 in units of U
        # every partial sum of the products, plus the offset, plus the d/2 step
        if max_abs_input * int(abs_weight_sum[c]) * m + abs(big) + (1 << 30) >= _EXACT:
            return None
        unit = 2.0 ** -(31 + r)
        scale[c] = m * unit
        offset[c] = big * unit
        d = 2.0**-r if r else 0.0
        sign_point[c] = zero_point + 0.5 - d / 2
        half_step[c] = d / 2
    if not general:
        return FoldedRequant(scale, offset, lo, hi, None, None)
    return FoldedRequant(scale, offset, lo, hi, sign_point, half_step)
