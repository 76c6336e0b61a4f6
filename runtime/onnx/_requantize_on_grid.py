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
"""

import dataclasses
import functools

import numpy as np

from runtime.onnx._graph import Node

_FQ = "QuantizeLinear+DequantizeLinear"
_MOVES = frozenset({"Identity", "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze"})


def drop_requantize_on_grid(nodes: list, known: dict) -> list:
    """``nodes`` with each fake quantization of values already on its grid passing through."""
    producer = {out: n for n in nodes for out in n.outputs if out}
    planned = []
    for node in nodes:
        params = _grid(node, known)
        if params is not None and _on_grid(node.inputs[0], params, producer, known):
            fn = functools.partial(_pass_through, _fake_quantize=node.fn)
            node = dataclasses.replace(node, fn=fn)
        planned.append(node)
    return planned


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


def _on_grid(name: str, params, producer: dict, known: dict) -> bool:
    """Whether value ``name`` is made of values of a fake quantization with ``params``."""
    for _ in range(16):  # (a short chain of data movement; deeper ones are left alone)
        node = producer.get(name)
        if node is None or node.domain != "":
            return False
        if node.op_type == _FQ:
            return _grid(node, known) == params
        if node.op_type not in _MOVES and not _selecting_max_pool(node):
            return False
        name = node.inputs[0]
    return False


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
