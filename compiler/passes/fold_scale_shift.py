"""Folds constant per-channel scales and shifts (MUL / ADD by constants: Rescaling,
Normalization, LayerScale, the gamma / beta of a decomposed LayerNormalization, BatchNorm's
multiply-add) into the convolution or Dense next to them, where that is exact.

Chains: consecutive MUL / ADD ops, each with one constant operand, no fused activation and
one reader, compose into one affine map ``y = S * x + T``::

    MUL(c): S <- S * c, T <- T * c          ADD(c): T <- T + c

and are rewritten as at most one MUL and one ADD (none for S = 1 / T = 0).

Forward fold, into the op that reads ``y`` (``W`` its weights, input channel ``i`` the last
axis of ``x``, ``S`` and ``T`` per channel or scalar)::

    W * (S * x + T) + b = W' * x + b',   W'[..., i] = W[..., i] * S[i],
                                          b'[o] = b[o] + sum over taps, i of W[o, ..., i] * T[i]

(DEPTHWISE_CONV_2D: output ``o = i * mult + m`` reads input ``i``.) It holds for
FULLY_CONNECTED and VALID convolutions; with SAME padding only when ``T = 0``, since the
border taps read padded zeros, which the original model padded after the shift.

Backward fold, into the CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED that produces ``x``
(output channel ``o`` the last axis, no fused activation, no other reader)::

    S * (W * in + b) + T = W' * in + b',  W'[o] = W[o] * S[o],  b'[o] = b[o] * S[o] + T[o]

New constants are made; weights of a shared layer are never edited in place.
"""

from __future__ import annotations

import numpy as np

from compiler.ir import Graph, Op, Value
from compiler.passes.pass_manager import Pass, PassResult

__all__ = ["FoldScaleShiftPass"]

_LINEAR = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0}  # output-channel axis


def _affine_operand(op: Op) -> tuple[Value, Value] | None:
    """``(x, constant)`` of a MUL / ADD by a float constant that keeps ``x``'s shape."""
    if op.type not in ("MUL", "ADD") or op.attrs.get("activation", "NONE") != "NONE":
        return None
    a, b = op.inputs
    x, c = (a, b) if b.is_const else (b, a)
    if x.is_const or not c.is_const or c.dtype != "float32" or x.dtype != "float32":
        return None
    if x.quant is not None or op.outputs[0].shape != x.shape or c.rank > x.rank:
        return None
    return x, c


def _sole_reader(graph: Graph, value: Value, consumers) -> Op | None:
    readers = consumers.get(id(value), [])
    if len(readers) != 1 or graph.is_output(value):
        return None
    return readers[0]


def _chains(graph: Graph) -> list[list[Op]]:
    consumers = graph.consumers()
    producers = graph.producers()
    chains = []
    for op in graph.ops:
        if _affine_operand(op) is None:
            continue
        x = _affine_operand(op)[0]
        before = producers.get(id(x))
        if (
            before is not None
            and _affine_operand(before)
            and _sole_reader(graph, x, consumers) is op
        ):
            continue  # not the head of its chain
        chain = [op]
        while True:
            reader = _sole_reader(graph, chain[-1].outputs[0], consumers)
            if reader is None or _affine_operand(reader) is None:
                break
            if _affine_operand(reader)[0] is not chain[-1].outputs[0]:
                break
            chain.append(reader)
        chains.append(chain)
    return chains


def _compose(chain: list[Op]) -> tuple[np.ndarray, np.ndarray]:
    scale, shift = np.ones(()), np.zeros(())
    for op in chain:
        c = _affine_operand(op)[1].data.astype(np.float64)
        if op.type == "MUL":
            scale, shift = scale * c, shift * c
        else:
            shift = shift + c
    return scale, shift


def _per_channel(array: np.ndarray, channels: int) -> np.ndarray | None:
    """``array`` as a vector over the last axis, if it is constant along every other one."""
    if array.size == 1:
        return np.full(channels, float(array.reshape(-1)[0]))
    if array.shape and array.shape[-1] == channels and array.size == channels:
        return array.reshape(-1)
    return None


def _bias(op: Op) -> np.ndarray:
    bias = op.inputs[2] if len(op.inputs) > 2 else None
    channels = op.inputs[1].shape[_LINEAR[op.type]]
    return bias.data.astype(np.float64) if bias is not None else np.zeros(channels)


def _linear_ok(op: Op) -> bool:
    weights = op.inputs[1]
    bias = op.inputs[2] if len(op.inputs) > 2 else None
    return (
        weights.is_const
        and weights.dtype == "float32"
        and (bias is None or (bias.is_const and bias.dtype == "float32"))
    )


def _fold_backward(graph: Graph, chain, scale, shift, consumers, producers) -> bool:
    x = _affine_operand(chain[0])[0]
    producer = producers.get(id(x))
    if producer is None or producer.type not in _LINEAR or not _linear_ok(producer):
        return False
    if producer.attrs.get("activation") != "NONE" or _sole_reader(graph, x, consumers) is None:
        return False
    axis = _LINEAR[producer.type]
    channels = producer.inputs[1].shape[axis]
    s, t = _per_channel(scale, channels), _per_channel(shift, channels)
    if s is None or t is None or x.shape[-1] != channels:
        return False
    w = producer.inputs[1]
    shape = [1] * w.rank
    shape[axis] = -1
    new_w = (w.data.astype(np.float64) * s.reshape(shape)).astype(np.float32)
    new_b = (_bias(producer) * s + t).astype(np.float32)
    producer.inputs = [
        producer.inputs[0],
        graph.const(f"{w.name}/scaled", new_w),
        graph.const(f"{producer.name}/bias_shifted", new_b),
    ]
    producer.outputs = [chain[-1].outputs[0]]
    for op in chain:
        graph.ops.remove(op)
    return True


def _fold_forward(graph: Graph, chain, scale, shift, consumers) -> bool:
    x = _affine_operand(chain[0])[0]
    y = chain[-1].outputs[0]
    op = _sole_reader(graph, y, consumers)
    if op is None or op.type not in _LINEAR or not _linear_ok(op):
        return False
    if op.inputs[0] is not y or op.inputs[1] is y:
        return False
    if op.type == "FULLY_CONNECTED" and y.rank != 2 and not op.attrs["keep_num_dims"]:
        return False
    channels = y.shape[-1]
    s, t = _per_channel(scale, channels), _per_channel(shift, channels)
    if s is None or t is None:
        return False
    if op.type != "FULLY_CONNECTED" and op.attrs["padding"] != "VALID" and np.any(t != 0):
        return False
    w = op.inputs[1].data.astype(np.float64)
    if op.type == "DEPTHWISE_CONV_2D":
        mult = op.attrs["depth_multiplier"]
        s_out, t_out = np.repeat(s, mult), np.repeat(t, mult)
        new_w = w * s_out
        shift_b = (w * t_out).sum(axis=(0, 1, 2))
    else:  # the input channel is the last axis of OHWI filters and of [units, in] weights
        new_w = w * s
        shift_b = (w * t).reshape(w.shape[0], -1).sum(axis=1)
    op.inputs = [
        x,
        graph.const(f"{op.inputs[1].name}/scaled", new_w.astype(np.float32)),
        graph.const(f"{op.name}/bias_shifted", (_bias(op) + shift_b).astype(np.float32)),
    ]
    for o in chain:
        graph.ops.remove(o)
    return True


def _merge(graph: Graph, chain, scale, shift) -> bool:
    """Rewrites a chain longer than its composed form as at most one MUL and one ADD."""
    x = _affine_operand(chain[0])[0]
    out = chain[-1].outputs[0]
    has_scale, has_shift = bool(np.any(scale != 1)), bool(np.any(shift != 0))
    needed = max(1, int(has_scale) + int(has_shift))
    if len(chain) <= needed:
        return False
    at = graph.ops.index(chain[0])
    for op in chain:
        graph.ops.remove(op)
    name = chain[-1].name
    if not has_shift:
        s = graph.const(f"{name}/scale", scale.astype(np.float32))
        graph.add_op("MUL", [x, s], [out], name=name, index=at)
        return True
    source = x
    if has_scale:
        s = graph.const(f"{name}/scale", scale.astype(np.float32))
        source = graph.node("MUL", [x, s], x.shape, f"{name}/scale", index=at)
        at += 1
    t = graph.const(f"{name}/shift", shift.astype(np.float32))
    graph.add_op("ADD", [source, t], [out], name=name, index=at)
    return True


class FoldScaleShiftPass(Pass):
    """Composes constant MUL / ADD chains and folds them into adjacent linear ops."""

    def call(self, graph: Graph) -> PassResult:
        modified = False
        for chain in _chains(graph):
            if any(op not in graph.ops for op in chain):
                continue
            scale, shift = _compose(chain)
            consumers, producers = graph.consumers(), graph.producers()
            if (
                _fold_backward(graph, chain, scale, shift, consumers, producers)
                or _fold_forward(graph, chain, scale, shift, consumers)
                or _merge(graph, chain, scale, shift)
            ):
                modified = True
        return PassResult(graph, modified)
