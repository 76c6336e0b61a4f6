"""ConvTranspose -> Add of a per-channel constant: the constant folded into the bias.

Paddle's exporter (PaddleOCR's text detectors) writes a ConvTranspose's bias as a separate
Add of a (M, 1, 1) constant; run as written it is one more node and one more pass over the
largest arrays of the network (the upsampled maps).

Pattern: a float ``ConvTranspose`` of constant weights and no bias or a constant one, whose
output only an ``Add`` reads, with that output first and, second, a constant of the weights'
dtype holding one value per output channel (shape (M, 1, ..., 1) or (1, M, 1, ..., 1), so
the sum keeps the output's shape). Rewrite: the ConvTranspose with bias b' = b + c
(y + b + c summed once: within one rounding of the two adds).
"""

import dataclasses
from collections import Counter
from collections.abc import Callable

import numpy as np

from runtime.onnx._fuse_pairs import fuse_pairs
from runtime.onnx._graph import Node
from runtime.onnx.ops import conv_transpose, elementwise


def fold_conv_transpose_bias(
    nodes: list, known: dict, uses: Callable[[list], Counter], hold: Callable
) -> list:
    """``nodes`` with each per-channel constant Add after a ConvTranspose folded into its bias
    (``uses(nodes)``: how many times each value is read; ``hold(nbytes, what)``: charges the
    new bias to the loading budget, False when it would exceed it)."""
    return fuse_pairs(
        nodes,
        uses(nodes),
        lambda node: _added(node, known) is not None,
        lambda node: _weights(node, known) is not None,
        lambda producer, node: _merged(producer, node, known, hold),
    )


def _added(node: Node, known: dict):
    """The constant of a plain Add of a computed value (first) and a constant, else None."""
    if (
        node.op_type != "Add"
        or node.domain != ""
        or node.graph_attrs
        or node.fn is not elementwise.Add
    ):
        return None
    if len(node.inputs) != 2 or len(node.outputs) != 1 or node.inputs[0] in known:
        return None
    c = known.get(node.inputs[1])
    return c if type(c) is np.ndarray and c.dtype.kind == "f" else None


def _weights(node: Node, known: dict):
    """The constant weights of a float ConvTranspose whose bias is absent or constant."""
    if (
        node.op_type != "ConvTranspose"
        or node.domain != ""
        or node.fn is not conv_transpose.ConvTranspose
    ):
        return None
    if len(node.inputs) < 2 or len(node.outputs) != 1:
        return None
    w = known.get(node.inputs[1])
    if type(w) is not np.ndarray or w.dtype not in (np.float16, np.float32, np.float64):
        return None
    if (
        len(node.inputs) > 2
        and node.inputs[2]
        and type(known.get(node.inputs[2])) is not np.ndarray
    ):
        return None
    return w


def _merged(producer: Node, node: Node, known: dict, hold) -> Node | None:
    w, c = known[producer.inputs[1]], _added(node, known)
    m = w.shape[1] * producer.attrs.get("group", 1)
    rank = w.ndim
    if c.dtype != w.dtype or c.ndim > rank or c.size != m:
        return None  # (another type fails as written; a larger rank grows the output)
    full = (1,) * (rank - c.ndim) + c.shape
    if full[1] != m or full[0] != 1 or any(d != 1 for d in full[2:]):
        return None  # (not one value per output channel)
    b = known.get(producer.inputs[2]) if len(producer.inputs) > 2 and producer.inputs[2] else None
    if b is not None and (b.shape != (m,) or b.dtype != w.dtype):
        return None  # (a bad bias fails as written)
    bias = c.reshape(m) if b is None else b + c.reshape(m)
    name = f"{node.outputs[0]}/convtranspose_bias"
    if name in known or not hold(bias.nbytes, name):
        return None
    known[name] = bias
    inputs = (producer.inputs[0], producer.inputs[1], name)
    return dataclasses.replace(producer, inputs=inputs, outputs=node.outputs)
