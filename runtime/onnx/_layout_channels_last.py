"""1x1 Convs whose one reader is a depthwise Conv write their output channels-last.

A MobileNet block expands channels with a 1x1 Conv, then filters each channel with a depthwise
Conv. The depthwise path (``ops/_conv_depthwise``) reads its input channels-last; the 1x1
Conv's products give NCHW memory (out = W @ x per sample), so every depthwise Conv began with a
transposing copy of its input, numpy's slowest kind (a strided gather per pixel). The same
product the other way round, out^T = x^T @ W^T, is channels-last memory at the same cost: the
Conv returns it as the NCHW view of it (``conv.Conv``'s ``_channels_last``), and its fused
steps (activation, hard-swish, scalar steps) run on it in place as on any layout.

Pattern: a float Conv of constant weights (M, C, 1, 1), one group, no pads, unit strides, its
steps perhaps fused, whose output only a 2-D depthwise Conv (weights (M, 1, kh, kw), group M,
kh*kw > 1) reads. Nothing else changes: the values are the products and sums of the NCHW
path in another order of the same BLAS call's terms (float rounding only).
"""

import dataclasses
import functools
from collections import Counter
from collections.abc import Callable

import numpy as np

from runtime.onnx._graph import Node
from runtime.onnx.ops import conv

# The one switch of this layout choice, read when a session is planned.
ENABLED = True


def channels_last_before_depthwise(
    nodes: list, known: dict, uses: Callable[[list], Counter]
) -> list:
    """``nodes`` with each 1x1 Conv read only by a depthwise Conv set to write channels-last
    (``uses(nodes)``: how many times each value is read, graph outputs counted)."""
    if not ENABLED:
        return nodes
    counts = uses(nodes)
    readers: dict = {}
    for node in nodes:
        for name in node.inputs:
            readers.setdefault(name, []).append(node)
    planned = []
    for node in nodes:
        if _pointwise(node, known):
            out = node.outputs[0]
            users = readers.get(out, [])
            if counts[out] == 1 and len(users) == 1 and _depthwise_of(users[0], out, known):
                fn = functools.partial(node.fn, _channels_last=True)
                node = dataclasses.replace(node, fn=fn)
        planned.append(node)
    return planned


def _conv(node: Node, known: dict):
    """The constant float weights of a float Conv node (its steps perhaps fused), else None."""
    if node.op_type != "Conv" or node.domain != "" or node.graph_attrs or len(node.outputs) != 1:
        return None
    if getattr(node.fn, "func", node.fn) is not conv.Conv or not 2 <= len(node.inputs) <= 3:
        return None
    w = known.get(node.inputs[1])
    if w is None or w.dtype not in (np.float32, np.float64) or w.ndim != 4:
        return None
    if len(node.inputs) == 3 and node.inputs[2] and node.inputs[2] not in known:
        return None
    return w


def _pointwise(node: Node, known: dict) -> bool:
    w = _conv(node, known)
    if w is None or w.shape[2:] != (1, 1):
        return False
    if "_channels_last" in getattr(node.fn, "keywords", {}):
        return False
    attrs = node.attrs
    return (
        attrs.get("group", 1) == 1
        and not any(attrs.get("pads") or ())
        and all(s == 1 for s in attrs.get("strides") or ())
        and attrs.get("auto_pad", "NOTSET") in ("NOTSET", "VALID")
        and tuple(attrs.get("kernel_shape") or (1, 1)) == (1, 1)
    )


def _depthwise_of(node: Node, source: str, known: dict) -> bool:
    w = _conv(node, known)
    if w is None or node.inputs[0] != source:
        return False
    m = w.shape[0]
    return w.shape[1] == 1 and node.attrs.get("group", 1) == m > 1 and w.shape[2] * w.shape[3] > 1
