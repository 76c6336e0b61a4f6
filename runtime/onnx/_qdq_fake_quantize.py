"""A fake quantization with constant parameters, its constants prepared once at load.

QDQ files quantize every tensor: each ``QuantizeLinear -> DequantizeLinear`` pair (one
node after the plan's pair fusion) computes, per tensor, in float32,

    q = min(max(rint(x / s) + z, lo), hi)        (NaN becomes lo)
    y = (q - z') * s'

with lo, hi the range of the integer type. On small tensors (a batch-1 Dense output has ten
values) the run was dominated by re-deriving the same constants at every call: checking and
reshaping the four parameters, the error-state context, converting the zero points and the
bounds. When those parameters are initializers (they cannot be fed: the planned graph only runs
when no initializer is overridden), this module derives them once and binds them to the node;
the run does the array passes (divide, rint, the clamp's maximum and minimum, NaN check,
multiply) and nothing else, with its constants as 0-d float32 arrays (a ufunc converts a scalar
operand at every call).

The arithmetic is the fused pair's (``runtime.onnx._plan._fake_quantize``) operation for
operation, on the same float32 values, so the results are the same bits:

- x / s with s a finite nonzero float32, rounded half to even;
- with one zero point z: min(max(r + z, lo), hi) - z = min(max(r, lo - z), hi - z), since
  r + z is exact below 2^24 and beyond it clamped on both sides alike; with two, the
  additions and subtractions are done as written;
- NaN is found by a reduction (cheaper than a pass that writes) and only then sent to lo
  with fmax.

The error-state context of the general path is not needed: dividing by a finite nonzero
constant raises no division-by-zero or invalid flag (NaN and infinities propagate quietly),
and the clip, fmax and multiply of the values that follow raise none either; an overflow of
x / s is reported as the general path reports it.
"""

import dataclasses

import numpy as np

from runtime.onnx._graph import Node

_FQ = "QuantizeLinear+DequantizeLinear"


def plan_fake_quantizations(nodes: list, known: dict) -> list:
    """``nodes`` with each per-tensor fake quantization of constant parameters bound to them."""
    planned = []
    for node in nodes:
        constants = _constants(node, known)
        if constants is not None:
            keywords = getattr(node.fn, "keywords", {})
            fn = FakeQuantize(
                *constants, in_place=keywords.get("_in_place", False), fallback=node.fn
            )
            node = dataclasses.replace(node, fn=fn)
        planned.append(node)
    return planned


def _constants(node: Node, known: dict):
    """(s, s', clip bounds, z, z') of a float32 -> (u)int8 -> float32 per-tensor fake
    quantization whose parameters are all constants, or None."""
    fn = node.fn
    keywords = getattr(fn, "keywords", None)
    if node.op_type != _FQ or node.domain != "" or len(node.inputs) != 5 or not keywords:
        return None
    if keywords.get("_split") != 3 or "_q" not in keywords or "_dq" not in keywords:
        return None
    if set(keywords["_q"][1]) - {"axis"} or set(keywords["_dq"][1]) - {"axis"}:
        return None
    values = [known.get(name) for name in node.inputs[1:]]
    if any(type(v) is not np.ndarray or v.size != 1 or v.ndim > 1 for v in values):
        return None
    s_q, z_q, s_dq, z_dq = (v.reshape(()) for v in values)
    if s_q.dtype != np.float32 or s_dq.dtype != np.float32:
        return None
    if z_q.dtype not in (np.int8, np.uint8) or z_dq.dtype != z_q.dtype:
        return None
    if not np.isfinite(s_q) or s_q == 0:
        return None  # (the general path, with its error-state context, handles these)
    info = np.iinfo(z_q.dtype)
    zq, zdq = np.float32(z_q), np.float32(z_dq)
    if zq == zdq:
        lo, hi = np.float32(info.min) - zq, np.float32(info.max) - zq
        shift = None
    else:
        lo, hi = np.float32(info.min), np.float32(info.max)
        shift = (zq, zdq)
    # (0-d arrays: a ufunc converts Python and numpy scalars at every call, a good part of
    # its time on a small tensor)
    if shift is not None:
        shift = (np.array(shift[0]), np.array(shift[1]))
    return np.array(np.float32(s_q)), np.array(np.float32(s_dq)), np.array(lo), np.array(hi), shift


class FakeQuantize:
    """The fused pair's kernel for one node's constant parameters.

    ``in_place``: the input is a fresh result that nothing else reads (set by the plan for a
    Conv's output), so the divide writes into it. Any input other than a float32 array with
    at least one dimension runs ``fallback``, the pair's general kernel.
    """

    __slots__ = ("scale", "scale_out", "lo", "hi", "shift", "in_place", "fallback")

    def __init__(self, scale, scale_out, lo, hi, shift, *, in_place, fallback):
        self.scale, self.scale_out, self.lo, self.hi = scale, scale_out, lo, hi
        self.shift, self.in_place, self.fallback = shift, in_place, fallback

    def __call__(self, x, *params):
        if type(x) is not np.ndarray or x.dtype != np.float32 or not x.ndim:
            return self.fallback(x, *params)
        return self.apply(x, self.in_place and x.flags.writeable)

    def apply(self, x: np.ndarray, in_place: bool, refuse_nan: bool = False):
        """The fake quantization of ``x`` (float32, at least one dimension), written into
        ``x`` itself when ``in_place``; None when ``refuse_nan`` and ``x`` holds a NaN (then
        ``x`` may be overwritten with partial results)."""
        q = np.divide(x, self.scale, out=x) if in_place else np.divide(x, self.scale)
        np.rint(q, out=q)
        if self.shift is not None:
            q += self.shift[0]
        if q.size:
            # np.clip's bits (NaN kept, the same zero of equal ones), without its wrapper's
            # checks, the larger part of a small tensor's clip
            np.maximum(self.lo, q, out=q)
            np.minimum(self.hi, q, out=q)
            # NaN shows in a sum of squares (q is within [lo, hi] otherwise: no overflow),
            # BLAS's dot being the cheapest reduction of a contiguous q
            low = np.vdot(q, q) if q.flags.c_contiguous else np.minimum.reduce(q, axis=None)
            if low != low:
                if refuse_nan:
                    return None
                np.fmax(q, self.lo, out=q)
        if self.shift is not None:
            q -= self.shift[1]
        np.multiply(q, self.scale_out, out=q)
        return q
