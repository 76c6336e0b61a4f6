"""A fake quantization of values already on its grid is the identity: pass them through.

QDQ files quantize every tensor, also after ops that only move or select values: in
``FQ(x) -> MaxPool -> FQ'`` or ``FQ(x) -> Flatten -> FQ'`` with FQ' of the same scale s and
zero point z as FQ, every value reaching FQ' is some (q - z) * s (float32) with q an integer
of the quantized type. FQ' computes rint(v / s): v / s is within 2^-22 * |q - z| < 0.5 of the
integer q - z, so it rounds back to it exactly; the clamp to the type's range keeps it; and
(q - z) * s is v again. So FQ' is dropped (its node passes its input through).

The ops in between are those whose outputs are elements of their input: Identity, Flatten,
Reshape, Transpose, Squeeze, Unsqueeze, and a MaxPool without padding or ceil mode (each
window lies within the input, so its maximum is one of the input's values). The pass-through
checks at run time that the value is float32, as the fused QDQ node's own fast path does; any
other value runs the fake quantization.

Given the graph, a pass-through is removed altogether (its readers read its input) when the
value is float32 by construction (the first fake quantization's DequantizeLinear has no
output_dtype, and the ops in between keep the dtype) and its output is neither a graph output
nor read inside a subgraph: a node of the run's loop fewer.
"""

import dataclasses
import functools

import numpy as np

from runtime.onnx._graph import Graph, Node, _node_free

_FQ = "QuantizeLinear+DequantizeLinear"
_MOVES = frozenset({"Identity", "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze"})


def drop_requantize_on_grid(nodes: list, known: dict, graph: Graph | None = None) -> list:
    """``nodes`` with each fake quantization of values already on its grid passing through,
    or, given ``graph``, removed where that is safe (see the module's docstring)."""
    producer = {out: n for n in nodes for out in n.outputs if out}
    kept = set() if graph is None else {v.name for v in graph.outputs}
    kept.update(name for n in nodes for name in _node_free(n))
    planned = []
    renamed: dict[str, str] = {}
    for node in nodes:
        params = _grid(node, known)
        if params is not None:
            source = _on_grid(node.inputs[0], params, producer, known)
            if source is not None:
                if graph is not None and _float32(source) and node.outputs[0] not in kept:
                    renamed[node.outputs[0]] = node.inputs[0]
                    continue
                fn = functools.partial(_pass_through, _fake_quantize=node.fn)
                node = dataclasses.replace(node, fn=fn)
        planned.append(node)
    if not renamed:
        return planned
    return [_reading(node, renamed) for node in planned]


def _reading(node: Node, renamed: dict) -> Node:
    """``node`` reading, for each removed pass-through's output, what it passed through."""
    inputs = []
    for name in node.inputs:
        while name in renamed:  # (a chain of pass-throughs)
            name = renamed[name]
        inputs.append(name)
    if tuple(inputs) == tuple(node.inputs):
        return node
    return dataclasses.replace(node, inputs=tuple(inputs))


def _float32(node: Node) -> bool:
    """Whether the fused fake quantization ``node`` always gives float32 (its scale's type,
    checked by ``_grid``): its DequantizeLinear has no output_dtype."""
    keywords = getattr(node.fn, "keywords", None) or {}
    dq = keywords.get("_dq")
    return dq is not None and not dq[1].get("output_dtype")


def _grid(node: Node, known: dict):
    """(scale, zero point) of a per-tensor fake quantization whose two halves agree, or None."""
    if node.op_type != _FQ or len(node.inputs) != 5 or len(node.outputs) != 1:
        return None
    values = [known.get(name) for name in node.inputs[1:]]
    if any(v is None or v.size != 1 for v in values):
        return None
    s_q, z_q, s_dq, z_dq = values
    if s_q.dtype != np.float32 or s_dq.dtype != np.float32 or z_q.dtype != z_dq.dtype:
        return None
    if z_q.dtype not in (np.int8, np.uint8):
        return None
    if s_q.reshape(()) != s_dq.reshape(()) or z_q.reshape(()) != z_dq.reshape(()):
        return None
    return float(s_q.reshape(())), int(z_q.reshape(())), z_q.dtype


def _on_grid(name: str, params, producer: dict, known: dict):
    """The fake quantization with ``params`` whose values make value ``name``, or None."""
    for _ in range(16):  # (a short chain of data movement; deeper ones are left alone)
        node = producer.get(name)
        if node is None or node.domain != "":
            return None
        if node.op_type == _FQ:
            return node if _grid(node, known) == params else None
        if node.op_type not in _MOVES and not _selecting_max_pool(node):
            return None
        name = node.inputs[0]
    return None


def _selecting_max_pool(node: Node) -> bool:
    attrs = node.attrs
    return (
        node.op_type == "MaxPool"
        and len(node.outputs) == 1
        and attrs.get("auto_pad", "NOTSET") in ("NOTSET", "VALID")
        and not any(attrs.get("pads") or [])
        and not attrs.get("ceil_mode", 0)
    )


def _pass_through(x, *params, _fake_quantize):
    if type(x) is np.ndarray and x.dtype == np.float32:
        return x
    return _fake_quantize(x, *params)
