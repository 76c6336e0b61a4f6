"""Conv -> Mul / Add / Sub / Div by one constant value, applied by the Conv in place.

PP-LCNet networks (PaddleOCR's PP-OCRv4 det and rec) follow each Conv and its activation with
a learnable affine block, y = x * a + b with a and b one value each; after the activation it
cannot fold into the Conv's weights (``_fuse_affine`` folds those before one). Run as written,
each is one more node and one more array of the Conv's size.

Pattern: a float Conv of constant weights (its activation perhaps fused: a Relu, LeakyRelu /
Max / Min steps, a hard-swish) whose output only a Mul, Add, Sub or Div reads, with the Conv's
output first and a constant of one value, of the weights' dtype and of rank at most theirs,
second (``_fuse_affine.constants_second`` put a Mul's or Add's constant there). Rewrite: the
Conv applies ufunc(y, c) to its own fresh output in place (``conv.Conv``'s ``_after``): the
same ufunc on the same values as the node's kernel, so the same bits. A chain folds step by
step (the producer -> consumer scan merges a merged node again).
"""

import dataclasses
import functools
from collections import Counter
from collections.abc import Callable

import numpy as np

from runtime.onnx._fuse_pairs import fuse_pairs
from runtime.onnx._graph import Node
from runtime.onnx.ops import conv, elementwise

_UFUNCS = {
    "Mul": (elementwise.Mul, np.multiply),
    "Add": (elementwise.Add, np.add),
    "Sub": (elementwise.Sub, np.subtract),
    "Div": (elementwise.Div, np.divide),
}
# The one switch of this fusion, read when a session is planned (off: the nodes run as
# written; tests and benchmarks compare the two).
ENABLED = True


def fuse_conv_scalars(nodes: list, known: dict, uses: Callable[[list], Counter]) -> list:
    """``nodes`` with each one-value constant arithmetic step after a Conv applied by it
    (``uses(nodes)``: how many times each value is read, graph outputs counted)."""
    if not ENABLED:
        return nodes
    return fuse_pairs(
        nodes,
        uses(nodes),
        lambda node: _constant(node, known) is not None,
        lambda node: _weights_dtype(node, known) is not None,
        lambda producer, node: _merged(producer, node, known),
    )


def _constant(node: Node, known: dict):
    """The 0-d constant of a plain Mul/Add/Sub/Div of a computed value and one constant
    value (second), else None."""
    kernels = _UFUNCS.get(node.op_type)
    if kernels is None or node.domain != "" or node.graph_attrs or len(node.outputs) != 1:
        return None
    if node.fn is not kernels[0] or len(node.inputs) != 2 or node.inputs[0] in known:
        return None
    c = known.get(node.inputs[1])
    if type(c) is not np.ndarray or c.dtype.kind != "f" or c.size != 1:
        return None
    return c


def _weights_dtype(node: Node, known: dict):
    """The weights' dtype (the output's) of a float Conv of constant weights, else None."""
    if node.op_type != "Conv" or node.domain != "" or node.graph_attrs or len(node.outputs) != 1:
        return None
    if getattr(node.fn, "func", node.fn) is not conv.Conv or len(node.inputs) < 2:
        return None
    w = known.get(node.inputs[1])
    if w is None or w.dtype not in (np.float16, np.float32, np.float64) or w.ndim < 3:
        return None
    return w.dtype


def _merged(producer: Node, node: Node, known: dict) -> Node | None:
    c = _constant(node, known)
    w = known[producer.inputs[1]]
    if c.dtype != w.dtype or c.ndim > w.ndim:
        return None  # (another type fails as written; a larger rank grows the output)
    keywords = getattr(producer.fn, "keywords", {})
    step = functools.partial(_apply, ufunc=_UFUNCS[node.op_type][1], c=c.reshape(()))
    fn = functools.partial(
        conv.Conv, **{**keywords, "_after": keywords.get("_after", ()) + (step,)}
    )
    return dataclasses.replace(producer, outputs=node.outputs, fn=fn)


def _apply(y, *, ufunc, c):
    """ufunc(y, c) written into ``y``, the Conv's fresh output."""
    return ufunc(y, c, out=y)
