"""Rewrites LAYER_NORM and GROUP_NORM as the TFLite builtins TFLiteConverter writes for
Keras's LayerNormalization and GroupNormalization, which all have int8 kernels.

LAYER_NORM, with ``axes`` the normalized axes (statistics keep size 1 on them)::

    mean = MEAN(x, axes)
    var  = MEAN(SQUARED_DIFFERENCE(x, mean), axes)        (biased, as Keras's moments)
    y    = SUB(x, mean) * RSQRT(var + epsilon)
    y    = y * gamma + beta                                (when present)

``gamma`` / ``beta`` (shaped like ``x`` on ``axes``) are reshaped to broadcast against ``x``.

GROUP_NORM, ``C`` channels (last axis) in ``G`` groups: ``x`` is reshaped to
``(N, S, G, C / G)`` (``S`` the product of the other axes, so that every op stays 4-D, the
most TFLite's broadcasting kernels take), normalized as above over axes ``(1, 3)``, reshaped
back, then ``* gamma + beta`` per channel.

The FoldScaleShiftPass later folds the final MUL / ADD into a following convolution or Dense.
ONNX has LayerNormalization from opset 17 and GroupNormalization (per-channel scale) from 21:
with ``onnx_opset`` the ops that opset expresses are left for the ONNX writer.
"""

from __future__ import annotations

import math

import numpy as np

from compiler.ir import Graph, Op
from compiler.ir.ops import OPS
from compiler.passes.pass_manager import Pass, PassResult

__all__ = ["DecomposeNormalizationPass", "onnx_layer_norm_axis"]


def onnx_layer_norm_axis(op: Op) -> int | None:
    """The ONNX ``axis`` of a LAYER_NORM whose axes run to the last one, else None."""
    rank = op.inputs[0].rank
    axes = sorted(a % rank for a in op.attrs["axes"])
    if axes != list(range(axes[0], rank)):
        return None
    return axes[0]


def _kept_by_onnx(op: Op, opset: int | None) -> bool:
    if opset is None:
        return False
    if op.type == "LAYER_NORM":
        return opset >= 17 and onnx_layer_norm_axis(op) is not None
    return opset >= 21


class _Builder:
    """Appends float32 ops named ``<name>/<tag>`` to a list, to splice in place of one op."""

    def __init__(self, graph: Graph, name: str):
        self.graph, self.name, self.ops = graph, name, []

    def node(self, type_, inputs, shape, tag, out=None, **attrs):
        value = out if out is not None else self.graph.value(f"{self.name}/{tag}", shape)
        name = self.name if out is not None else value.name
        self.ops.append(Op(type_, inputs, [value], {**OPS[type_].attrs, **attrs}, name))
        return value

    def const(self, tag, array):
        return self.graph.const(f"{self.name}/{tag}", array)


def _normalize(b: _Builder, x, axes, stat_shape, epsilon):
    """``(x - mean) * rsqrt(var + epsilon)`` over ``axes``."""
    axes_const = b.const("axes", np.array(axes, np.int32))
    mean = b.node("MEAN", [x, axes_const], stat_shape, "mean", keep_dims=True)
    sq = b.node("SQUARED_DIFFERENCE", [x, mean], x.shape, "squared_difference")
    var = b.node("MEAN", [sq, axes_const], stat_shape, "variance", keep_dims=True)
    var_eps = b.node("ADD", [var, b.const("epsilon", np.float32(epsilon))], stat_shape, "add")
    inv = b.node("RSQRT", [var_eps], stat_shape, "rsqrt")
    centered = b.node("SUB", [x, mean], x.shape, "centered")
    return centered, inv


def _affine(b: _Builder, y, gamma, beta, broadcast, out, first_tag="normalized", inv=None):
    """``y [* inv] [* gamma] [+ beta]``, the last op writing ``out``."""
    steps = [] if inv is None else [("MUL", inv, first_tag)]
    if gamma is not None:
        steps.append(("MUL", _shaped(b.graph, gamma, broadcast), "scale"))
    if beta is not None:
        steps.append(("ADD", _shaped(b.graph, beta, broadcast), "shift"))
    if not steps:  # a bare reshape back is the output
        return y
    for i, (type_, operand, tag) in enumerate(steps):
        last = i == len(steps) - 1
        y = b.node(type_, [y, operand], out.shape, tag, out=out if last else None)
    return y


def _shaped(graph: Graph, value, shape):
    """A constant reshaped to ``shape`` (leading 1s dropped), or the value itself."""
    if not value.is_const:
        return value
    while len(shape) > 1 and shape[0] == 1:
        shape = shape[1:]
    if value.data.shape == tuple(shape):
        return value
    return graph.const(value.name, value.data.reshape(shape))


def _parameters(op: Op):
    gamma = op.inputs[1] if len(op.inputs) > 1 else None
    beta = op.inputs[2] if len(op.inputs) > 2 else None
    return gamma, beta


def _layer_norm(b: _Builder, op: Op) -> None:
    x, out = op.inputs[0], op.outputs[0]
    gamma, beta = _parameters(op)
    axes = tuple(sorted(a % x.rank for a in op.attrs["axes"]))
    stat = tuple(1 if a in axes else d for a, d in enumerate(x.shape))
    broadcast = tuple(x.shape[a] if a in axes else 1 for a in range(x.rank))[1:]
    centered, inv = _normalize(b, x, axes, stat, op.attrs["epsilon"])
    _affine(b, centered, gamma, beta, broadcast, out, inv=inv)


def _group_norm(b: _Builder, op: Op) -> None:
    x, out = op.inputs[0], op.outputs[0]
    gamma, beta = _parameters(op)
    groups, channels = op.attrs["groups"], x.shape[-1]
    grouped = (x.shape[0], math.prod(x.shape[1:-1]), groups, channels // groups)
    shape_in = b.const("grouped_shape", np.array([-1, *grouped[1:]], np.int32))
    g = b.node("RESHAPE", [x, shape_in], grouped, "grouped")
    centered, inv = _normalize(b, g, (1, 3), (grouped[0], 1, groups, 1), op.attrs["epsilon"])
    normed = b.node("MUL", [centered, inv], grouped, "normalized")
    shape_out = b.const("shape", np.array([-1, *x.shape[1:]], np.int32))
    plain = gamma is None and beta is None
    y = b.node("RESHAPE", [normed, shape_out], x.shape, "ungrouped", out=out if plain else None)
    if not plain:
        _affine(b, y, gamma, beta, (channels,), out)


class DecomposeNormalizationPass(Pass):
    """Replaces each LAYER_NORM / GROUP_NORM by the builtins of the module docstring.

    Args:
        onnx_opset: for a graph only written to ONNX at this opset, leave the ops it has a
            node for (LayerNormalization from 17 over trailing axes, GroupNormalization
            from 21); None (default) decomposes all of them.
    """

    def __init__(self, onnx_opset: int | None = None):
        self.onnx_opset = onnx_opset

    def call(self, graph: Graph) -> PassResult:
        modified = False
        for op in [o for o in graph.ops if o.type in ("LAYER_NORM", "GROUP_NORM")]:
            if _kept_by_onnx(op, self.onnx_opset):
                continue
            b = _Builder(graph, op.name)
            (_layer_norm if op.type == "LAYER_NORM" else _group_norm)(b, op)
            at = graph.ops.index(op)
            graph.ops[at : at + 1] = b.ops
            modified = True
        return PassResult(graph, modified)
