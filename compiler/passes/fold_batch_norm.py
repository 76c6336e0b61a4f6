"""Folds BATCH_NORM into the preceding (or else the following) CONV_2D, DEPTHWISE_CONV_2D or
FULLY_CONNECTED (and into a preceding TRANSPOSE_CONV), or turns it into a multiply-add where it
cannot be folded.

Math, per output channel ``c`` (the last axis)::

    y = gamma * (x - mean) / sigma + beta,      sigma = sqrt(variance + epsilon)
      = s * x + t,                              s = gamma / sigma,  t = beta - mean * s

When ``x = W * in + b`` (``W[c]`` the filter of output channel ``c``)::

    W'[c] = W[c] * s[c]
    b'[c] = (b[c] - mean[c]) * s[c] + beta[c]  = b[c] * s[c] + t[c]

Output channel ``c`` is axis 0 of a CONV_2D or TRANSPOSE_CONV filter (OHWI) and of
FULLY_CONNECTED weights ([units, in]), and axis 3 of a DEPTHWISE_CONV_2D filter
([1, kh, kw, in * mult]).

Pattern: BATCH_NORM over the last axis whose input comes from one of those ops with constant
float weights, no fused activation, and no other reader.

Forward fold, when the BATCH_NORM's only reader is one of those ops (input channel ``i``; for
DEPTHWISE_CONV_2D output ``o = i * mult + m`` reads input ``i``)::

    W'[o, ..., i] = W[o, ..., i] * s[i]
    b'[o]         = b[o] + sum over taps and i of W[o, ..., i] * t[i]

This holds for FULLY_CONNECTED and for VALID convolutions only: with SAME padding the border
taps read padded zeros, which in the original model were zeros after the normalization, not
``t``; a TRANSPOSE_CONV output sums a number of taps that varies with its position, so it is
never a forward target.

Otherwise the rewrite is ``MUL(x, s)`` then ``ADD(., t)`` with constant ``s`` and ``t``. New
constants are made (weights of a shared layer are never edited in place).
"""

from __future__ import annotations

import numpy as np

from compiler.ir import Graph, Op
from compiler.passes.pass_manager import Pass, PassResult

__all__ = ["FoldBatchNormPass"]

_CHANNEL_AXIS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "TRANSPOSE_CONV": 0, "FULLY_CONNECTED": 0}


def _scale_shift(bn: Op) -> tuple[np.ndarray, np.ndarray]:
    gamma, beta, mean, variance = (v.data.astype(np.float64) for v in bn.inputs[1:5])
    s = gamma / np.sqrt(variance + bn.attrs["epsilon"])
    return s, beta - mean * s


def _foldable(graph: Graph, bn: Op, producer: Op | None, readers: list[Op]) -> bool:
    if producer is None or producer.type not in _CHANNEL_AXIS:
        return False
    x = bn.inputs[0]
    weights = producer.inputs[1]
    bias = producer.inputs[2] if len(producer.inputs) > 2 else None
    return (
        producer.attrs.get("activation", "NONE") == "NONE"
        and len(readers) == 1
        and not graph.is_output(x)
        and weights.is_const
        and weights.dtype == "float32"
        and (bias is None or (bias.is_const and bias.dtype == "float32"))
        and weights.shape[_CHANNEL_AXIS[producer.type]] == bn.inputs[1].shape[0]
    )


def _fold(graph: Graph, bn: Op, producer: Op) -> None:
    s, t = _scale_shift(bn)
    axis = _CHANNEL_AXIS[producer.type]
    weights = producer.inputs[1]
    shape = [1] * weights.rank
    shape[axis] = -1
    new_w = (weights.data.astype(np.float64) * s.reshape(shape)).astype(np.float32)
    bias = producer.inputs[2] if len(producer.inputs) > 2 else None
    b = bias.data.astype(np.float64) if bias is not None else 0.0
    new_b = (b * s + t).astype(np.float32)
    producer.inputs = [
        producer.inputs[0],
        graph.const(f"{weights.name}/bn_folded", new_w),
        graph.const(f"{producer.name}/bias_bn_folded", new_b),
    ]
    producer.outputs = [bn.outputs[0]]
    graph.ops.remove(bn)


def _forward_target(graph: Graph, bn: Op) -> Op | None:
    y = bn.outputs[0]
    readers = graph.consumers().get(id(y), [])
    if len(readers) != 1 or graph.is_output(y):
        return None
    op = readers[0]
    if op.type not in _CHANNEL_AXIS or op.type == "TRANSPOSE_CONV":
        return None
    if op.inputs[0] is not y or op.inputs[1] is y:
        return None
    weights = op.inputs[1]
    bias = op.inputs[2] if len(op.inputs) > 2 else None
    ok = (
        weights.is_const
        and weights.dtype == "float32"
        and (bias is None or (bias.is_const and bias.dtype == "float32"))
        and (op.type == "FULLY_CONNECTED" or op.attrs["padding"] == "VALID")
        and (op.type != "FULLY_CONNECTED" or y.rank == 2 or op.attrs["keep_num_dims"])
    )
    return op if ok else None


def _fold_forward(graph: Graph, bn: Op, op: Op) -> None:
    s, t = _scale_shift(bn)
    w = op.inputs[1].data.astype(np.float64)
    if op.type == "DEPTHWISE_CONV_2D":
        mult = op.attrs["depth_multiplier"]
        s_out, t_out = np.repeat(s, mult), np.repeat(t, mult)  # output o reads input o // mult
        new_w = w * s_out
        shift = (w * t_out).sum(axis=(0, 1, 2))
    else:  # input channel is the last axis of OHWI filters and of [units, in] weights
        new_w = w * s
        shift = (w * t).reshape(w.shape[0], -1).sum(axis=1)
    bias = op.inputs[2] if len(op.inputs) > 2 else None
    b = bias.data.astype(np.float64) if bias is not None else 0.0
    op.inputs = [
        bn.inputs[0],
        graph.const(f"{op.inputs[1].name}/bn_folded", new_w.astype(np.float32)),
        graph.const(f"{op.name}/bias_bn_folded", (b + shift).astype(np.float32)),
    ]
    graph.ops.remove(bn)


def _to_multiply_add(graph: Graph, bn: Op) -> None:
    s, t = _scale_shift(bn)
    x, y = bn.inputs[0], bn.outputs[0]
    index = graph.ops.index(bn)
    graph.ops.remove(bn)
    scale = graph.const(f"{bn.name}/scale", s.astype(np.float32))
    shift = graph.const(f"{bn.name}/shift", t.astype(np.float32))
    scaled = graph.node("MUL", [x, scale], x.shape, f"{bn.name}/mul", index=index)
    graph.add_op("ADD", [scaled, shift], [y], name=f"{bn.name}/add", index=index + 1)


class FoldBatchNormPass(Pass):
    """Removes every BATCH_NORM: folded into its producer or its reader, or as MUL + ADD."""

    def call(self, graph: Graph) -> PassResult:
        modified = False
        for bn in [op for op in graph.ops if op.type == "BATCH_NORM"]:
            producer = graph.producers().get(id(bn.inputs[0]))
            readers = graph.consumers().get(id(bn.inputs[0]), [])
            if _foldable(graph, bn, producer, readers):
                _fold(graph, bn, producer)
            elif (target := _forward_target(graph, bn)) is not None:
                _fold_forward(graph, bn, target)
            else:
                _to_multiply_add(graph, bn)
            modified = True
        return PassResult(graph, modified)
