"""Conv -> LeakyRelu -> Max/Min with one constant value, applied by the Conv in place.

openWakeWord's embedding model (a TF export) follows each Conv with a LeakyRelu and a Max
against a constant (a floor); run as written, each step is one more node and one more array
of the Conv's size. A float Conv with constant weights whose output only a LeakyRelu, a Max or
a Min of it and one constant value reads, becomes one node (at the last step's place) that
applies these steps to its own fresh output in place (``activation.in_place_steps``: the same
ufuncs, so the same values). A chain Conv -> LeakyRelu -> Max -> ... folds step by step.

Not fused: a value read by anything else (a second reader or a graph output), a Max/Min of two
tensors or of a constant with more than one value or another dtype or a larger rank than the
Conv's output (broadcasting would change the shape), a non-float Conv.
"""

import dataclasses
import functools
from collections import Counter
from collections.abc import Callable

import numpy as np

from runtime.onnx._graph import Node
from runtime.onnx.ops import activation, conv, elementwise

_FLOATS = (np.float16, np.float32, np.float64)
# The one switch of this fusion, read when a session is planned (off: the steps run as written;
# tests and benchmarks compare the two).
ENABLED = True


def fuse_conv_activations(nodes: list, known: dict, uses: Callable[[list], Counter]) -> list:
    """``nodes`` with each fusable step after a Conv folded into it (``uses(nodes)``: how many
    times each value is read, graph outputs counted)."""
    if not ENABLED:
        return nodes
    counts = uses(nodes)
    producer = {out: i for i, n in enumerate(nodes) for out in n.outputs if out}
    fused: dict[int, Node] = {}
    gone: set[int] = set()
    chains: dict[int, tuple] = {}  # the steps fused so far into the node at each place
    for i, node in enumerate(nodes):
        found = _step(node, known)
        if found is None:
            continue
        source_name, step = found
        j = producer.get(source_name)
        if j is None or j in gone or counts[source_name] != 1:
            continue
        source = fused.get(j, nodes[j])
        dtype = _conv_dtype(source, known)
        if dtype is None or (step[0] != "LeakyRelu" and step[1].dtype != dtype):
            continue
        if step[0] != "LeakyRelu" and step[2] > len(known[source.inputs[1]].shape):
            continue
        keywords = getattr(source.fn, "keywords", {})
        steps = chains.get(j, ()) + ((step[0], step[1]),)
        chains[i] = steps
        planned = activation.plan_steps(steps, dtype)
        fn = functools.partial(conv.Conv, **{**keywords, "_steps": planned})
        fused[i] = dataclasses.replace(source, outputs=node.outputs, fn=fn)
        gone.add(j)
    return [fused.get(i, n) for i, n in enumerate(nodes) if i not in gone]


def _step(node: Node, known: dict):
    """(the value ``node`` reads, its step) for a LeakyRelu or a Max/Min of a value and one
    constant value, else None. A step is ("LeakyRelu", alpha) or (op, constant, its rank)."""
    if node.domain != "" or len(node.outputs) != 1 or node.graph_attrs:
        return None
    fn = getattr(node.fn, "func", node.fn)
    if node.op_type == "LeakyRelu" and fn is activation.LeakyRelu and len(node.inputs) == 1:
        alpha = node.attrs.get("alpha", 0.01)
        return node.inputs[0], ("LeakyRelu", float(alpha))
    kernels = {"Max": elementwise.Max, "Min": elementwise.Min}
    if kernels.get(node.op_type) is not fn or len(node.inputs) != 2:
        return None
    for data, other in (node.inputs, node.inputs[::-1]):
        c = known.get(other)
        if data and data not in known and c is not None and c.size == 1:
            return data, (node.op_type, c, c.ndim)
    return None


def _conv_dtype(node: Node, known: dict):
    """The output dtype of a float Conv (possibly already fused) with constant weights (the
    dtype every input must have), else None."""
    if node.op_type != "Conv" or node.domain != "" or node.graph_attrs:
        return None
    if getattr(node.fn, "func", node.fn) is not conv.Conv or len(node.outputs) != 1:
        return None
    w = known.get(node.inputs[1]) if len(node.inputs) >= 2 else None
    if w is None or w.dtype not in _FLOATS or w.ndim < 3:
        return None
    return w.dtype
