"""QUANTIZE (float32 -> int8) of a few values as a count of thresholds.

Within QUANTIZE's bounded range (|x| < scale * 2^29, where nothing overflows or wraps) the
output q(x) = clamp(round_half_away(fl32(x / scale)) + zp, -128, 127) is a non-decreasing step
function of x: the float32 quotient by a positive scale is monotone (IEEE division rounds
correctly), and so are the rounding, the shift and the clamp. So q(x) = -128 + #{j : T_j <= x}
where T_j is the least float32 with q(T_j) >= -128 + j (j = 1..255). Each T_j is found exactly
by bisection over the float32 values of that range, in their numeric order, evaluating the
kernel's own formula (``_general_quantize``, exact for every input): one ``searchsorted`` and
one ``take`` then replace the half-dozen float64 passes, which on a few hundred values cost
more in numpy's per-call overhead than in arithmetic.
"""

from __future__ import annotations

import numpy as np

# Zero points beyond this would let the quotient plus the zero point wrap int32 in the range;
# no real file comes near it, and those files keep the arithmetic path.
_MAX_ZERO_POINT = 1 << 16

_SIGN = 1 << 31


def _ordered_keys(x: np.ndarray) -> np.ndarray:
    """int64 keys in the numeric order of float32 ``x`` (-0.0 just below +0.0)."""
    bits = np.asarray(x, np.float32).view(np.uint32).astype(np.int64)
    return np.where(bits < _SIGN, bits, _SIGN - 1 - bits)


def _from_keys(keys: np.ndarray) -> np.ndarray:
    """The float32 values of ``_ordered_keys``' keys."""
    bits = np.where(keys >= 0, keys, _SIGN - 1 - keys)
    return bits.astype(np.uint32).view(np.float32)


def quantize_thresholds(scale, zero_point: int, bound: float, quantize) -> np.ndarray | None:
    """The 255 float32 thresholds T_j of int8 QUANTIZE on |x| < ``bound`` (-inf where every
    such x reaches the level, +inf where none does), or None where the search does not apply.

    ``quantize(x, scale, zero_point, info)`` is the kernel's exact formula.
    """
    s = float(scale)
    if not (np.isfinite(s) and s > 0 and np.isfinite(bound) and abs(zero_point) <= _MAX_ZERO_POINT):
        return None
    info = np.iinfo(np.int8)
    top = np.float32(bound)
    targets = np.arange(info.min + 1, info.max + 1, dtype=np.int64)

    def level(keys):
        return quantize(_from_keys(keys), scale, zero_point, info).astype(np.int64)

    lo_key, hi_key = _ordered_keys(-top), _ordered_keys(top)
    never = level(np.array([hi_key]))[0] < targets  # not reached anywhere in the range
    always = level(np.array([lo_key]))[0] >= targets  # reached at its lowest value
    # Invariant: level(lo) < target <= level(hi); the search ends with hi the least such key.
    lo = np.full(len(targets), lo_key)
    hi = np.full(len(targets), hi_key)
    open_ = ~(never | always)
    # A narrow first bracket around the estimate (target - zp - 1/2) * scale, kept only where
    # it holds the invariant (it does within a few float32 steps of the true threshold): a
    # few halvings instead of thirty.
    with np.errstate(over="ignore", invalid="ignore"):
        estimate = _ordered_keys(((targets - zero_point - 0.5) * s).astype(np.float32))
    near_lo = np.clip(estimate - 64, lo_key, hi_key)
    near_hi = np.clip(estimate + 64, lo_key, hi_key)
    good = open_ & (level(near_lo) < targets) & (level(near_hi) >= targets)
    lo = np.where(good, near_lo, lo)
    hi = np.where(good, near_hi, hi)
    while True:
        step = open_ & (hi - lo > 1)
        if not step.any():
            break
        mid = (lo + hi) // 2
        reached = level(mid) >= targets
        hi = np.where(step & reached, mid, hi)
        lo = np.where(step & ~reached, mid, lo)
    thresholds = _from_keys(hi)
    thresholds = np.where(never, np.float32(np.inf), thresholds)
    thresholds = np.where(always, np.float32(-np.inf), thresholds).astype(np.float32)
    # The step function's premise, checked where it matters: each threshold reaches its level
    # and the float32 before it does not.
    inner = open_
    if inner.any():
        at = level(hi[inner]) >= targets[inner]
        before = level(hi[inner] - 1) < targets[inner]
        if not (at.all() and before.all()):
            return None
    if np.any(np.diff(thresholds) < 0):
        return None
    return thresholds
