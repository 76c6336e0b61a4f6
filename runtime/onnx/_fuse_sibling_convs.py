"""Convolutions of one input with the same geometry, run as one.

An inception block's 1x1 branches (and any layer that applies several kernels of one shape to
one tensor) are float32 Convs reading the same value with the same attributes: one Conv with
their weights and biases stacked along the output channels computes them all in one matmul,
over one im2col of the input, and each result is its channel slice (a view). onnxruntime runs
them separately; the values are the same sums, so the result matches it to the usual float
rounding of a matmul of another width.

The merged step checks at run time that its input is what the merge assumed (a float32 array
of the weights' rank and channel count); any other input runs the Convs one by one, as
written (the same kernels: the same checks and errors).
"""

import functools

import numpy as np

from runtime.onnx._fuse_pairs import fused_node
from runtime.onnx._graph import Node
from runtime.onnx.ops import conv

_OP = "Conv(siblings)"


def merge_sibling_convs(nodes: list, known: dict, hold) -> list:
    """``nodes`` with each group of mergeable Convs of one input replaced by one node at the
    first one's place. ``hold(nbytes, what)`` charges the stacked weights (False: over the
    loading budget, the group stays as written)."""
    groups: dict = {}
    for i, node in enumerate(nodes):
        key = _key(node, known)
        if key is not None:
            groups.setdefault(key, []).append(i)
    merged: dict[int, Node] = {}
    gone: set[int] = set()
    for indices in groups.values():
        if len(indices) < 2:
            continue
        members = [nodes[i] for i in indices]
        node = _merged(members, known, hold)
        if node is not None:
            merged[indices[0]] = node
            gone.update(indices[1:])
    return [merged.get(i, n) for i, n in enumerate(nodes) if i not in gone]


def _key(node: Node, known: dict):
    """What two Convs must share to merge, or None for a Conv that cannot merge."""
    if node.op_type != "Conv" or node.domain != "" or node.graph_attrs:
        return None
    fn = node.fn
    keywords = getattr(fn, "keywords", {})
    if getattr(fn, "func", fn) is not conv.Conv or set(keywords) - {"_relu"}:
        return None
    if len(node.outputs) != 1 or not node.outputs[0] or not 2 <= len(node.inputs) <= 3:
        return None
    x, w_name = node.inputs[:2]
    w = known.get(w_name)
    b = known.get(node.inputs[2]) if len(node.inputs) == 3 else None
    if not x or x in known or w is None or w.dtype != np.float32 or w.ndim < 3:
        return None
    if len(node.inputs) == 3 and (b is None or b.dtype != np.float32 or b.shape != w.shape[:1]):
        return None
    if node.attrs.get("group", 1) != 1:
        return None
    attrs = tuple(sorted((k, repr(v)) for k, v in node.attrs.items() if k != "group"))
    return x, w.shape[1:], attrs, bool(keywords.get("_relu"))


def _merged(members: list, known: dict, hold) -> Node | None:
    first = members[0]
    weights = [known[n.inputs[1]] for n in members]
    biases = [
        known[n.inputs[2]] if len(n.inputs) == 3 else np.zeros(w.shape[:1], np.float32)
        for n, w in zip(members, weights, strict=True)
    ]
    w = np.concatenate(weights)
    b = np.concatenate(biases)
    packed = conv.pack_weights(w, 1, np.float32)
    if not hold(w.nbytes + b.nbytes + packed.nbytes, first.describe):
        return None
    for a in (w, b, packed):
        a.flags.writeable = False
    ends = np.cumsum([v.shape[0] for v in weights]).tolist()
    relu = bool(getattr(first.fn, "keywords", {}).get("_relu"))
    fn = functools.partial(
        _sibling_convs,
        _w=w,
        _b=b,
        _packed=packed,
        _ends=tuple(ends),
        _relu=relu,
        _attrs=dict(first.attrs),
        _each=tuple((n.fn, len(n.inputs)) for n in members),
    )
    # The inputs: x, then each member's weights and bias names (the as-written path's).
    inputs = (first.inputs[0],) + tuple(name for n in members for name in n.inputs[1:3])
    return fused_node(first, members, _OP, inputs, fn, [n.outputs[0] for n in members])


def _sibling_convs(x, *constants, _w, _b, _packed, _ends, _relu, _attrs, _each):
    if (
        type(x) is not np.ndarray
        or x.dtype != np.float32
        or x.ndim != _w.ndim
        or x.shape[1] != _w.shape[1]
    ):
        outputs, k = [], 0
        for fn, n_inputs in _each:  # (as written: the same checks and errors)
            args = constants[k : k + n_inputs - 1]
            k += n_inputs - 1
            outputs.append(fn(x, *args, **_attrs))
        return tuple(outputs)
    y = conv.Conv(x, _w, _b, **_attrs, _packed=(_w, _packed), _relu=_relu)
    starts = (0,) + _ends[:-1]
    return tuple(y[:, start:end] for start, end in zip(starts, _ends, strict=True))
