"""int8 attention scores with an additive mask (``scores + {0, -1e9}``).

Calibration sees the masked entries at about -1e9, so the masked scores' range would be
[-1e9, max] and one int8 step would be ~4e6: every visible score would round to the same value
(and TFLite's int8 ADD refuses such a rescale). The masked entries need no resolution, only to
stay out of the softmax, so for int8:

* the ADD's output takes the range of the unmasked scores, ``[lo - MARGIN, hi]`` (width W);
* the mask constant becomes ``{0, -2 W}``: its int8 form is exact at 0 (zero point 127) and
  every masked sum lands below the output range, where the int8 ADD saturates it to -128.

The int8 SOFTMAX then sees each masked entry at least ``MARGIN`` below the row's maximum: its
weight ``exp(-MARGIN)`` is far below the output's step of 1/256 for any sequence shorter than
``exp(MARGIN) / 512`` (~17,000 for 16).
"""

import numpy as np

from compiler.ir import Graph

__all__ = ["MASK_BIAS", "MARGIN", "with_mask_ranges"]

MASK_BIAS = -1e9  # what the lowering adds where attention is masked
MARGIN = 16.0


def _is_mask_bias(value) -> bool:
    if value is None or not value.is_const or value.data.size == 0:
        return False
    data = np.asarray(value.data)
    return bool(np.all((data == 0) | (data <= MASK_BIAS)) and np.any(data <= MASK_BIAS))


def with_mask_ranges(graph: Graph, ranges: dict) -> dict:
    """``ranges`` with each masked-scores ADD's output range replaced; the mask constants of
    ``graph`` (a copy being quantized) rewritten to ``{0, -2 W}`` (see module docstring)."""
    out = dict(ranges)
    for op in graph.ops:
        if op.type != "ADD" or not _is_mask_bias(op.inputs[1]) or op.inputs[0].name not in ranges:
            continue
        lo, hi = (float(v) for v in ranges[op.inputs[0].name])
        lo, hi = min(lo, 0.0) - MARGIN, max(hi, 0.0)
        out[op.outputs[0].name] = (lo, hi)
        mask = op.inputs[1]
        bias = np.where(mask.data <= MASK_BIAS, -2.0 * (hi - lo), 0.0).astype(np.float32)
        op.inputs[1] = graph.const(mask.name, bias)
    return out
