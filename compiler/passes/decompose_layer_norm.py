"""Rewrites LAYER_NORM as the TFLite builtins TFLiteConverter writes for Keras's
LayerNormalization, which all have int8 kernels.

Math, with ``axes`` the normalized axes (statistics kept with size 1 on them)::

    mean = MEAN(x, axes)
    var  = MEAN(SQUARED_DIFFERENCE(x, mean), axes)        (biased, as Keras's moments)
    y    = SUB(x, mean) * RSQRT(var + epsilon)
    y    = y * gamma + beta                                (when present)

``gamma`` / ``beta`` (shaped like ``x`` on ``axes``) are reshaped to broadcast against ``x``;
the FoldScaleShiftPass later folds the final MUL / ADD into a following convolution or Dense.
The ONNX writer keeps LAYER_NORM as LayerNormalization from opset 17 on (see ``keep``).
"""

from __future__ import annotations

import numpy as np

from compiler.ir import Graph, Op
from compiler.passes.pass_manager import Pass, PassResult

__all__ = ["DecomposeLayerNormPass", "onnx_layer_norm_axis"]


def onnx_layer_norm_axis(op: Op) -> int | None:
    """The ONNX ``axis`` of a LAYER_NORM whose axes run to the last one, else None."""
    rank = op.inputs[0].rank
    axes = sorted(a % rank for a in op.attrs["axes"])
    if axes != list(range(axes[0], rank)):
        return None
    return axes[0]


def _decompose(graph: Graph, op: Op) -> None:
    x, out = op.inputs[0], op.outputs[0]
    gamma = op.inputs[1] if len(op.inputs) > 1 else None
    beta = op.inputs[2] if len(op.inputs) > 2 else None
    rank = x.rank
    axes = tuple(sorted(a % rank for a in op.attrs["axes"]))
    stat = tuple(1 if a in axes else d for a, d in enumerate(x.shape))
    broadcast = tuple(x.shape[a] if a in axes else 1 for a in range(rank))[1:]
    name = op.name
    at = graph.ops.index(op)
    graph.ops.remove(op)
    new: list = []

    def node(type_, inputs, shape, tag, **attrs):
        value = graph.value(f"{name}/{tag}", shape)
        new.append(Op(type_, inputs, [value], {**_defaults(type_), **attrs}, value.name))
        return value

    axes_const = graph.const(f"{name}/axes", np.array(axes, np.int32))
    mean = node("MEAN", [x, axes_const], stat, "mean", keep_dims=True)
    sq = node("SQUARED_DIFFERENCE", [x, mean], x.shape, "squared_difference")
    var = node("MEAN", [sq, axes_const], stat, "variance", keep_dims=True)
    eps = graph.const(f"{name}/epsilon", np.float32(op.attrs["epsilon"]))
    var_eps = node("ADD", [var, eps], stat, "add")
    inv = node("RSQRT", [var_eps], stat, "rsqrt")
    centered = node("SUB", [x, mean], x.shape, "centered")
    steps = [("MUL", inv, "normalized")]
    if gamma is not None:
        steps.append(("MUL", _shaped(graph, gamma, broadcast), "scale"))
    if beta is not None:
        steps.append(("ADD", _shaped(graph, beta, broadcast), "shift"))
    y = centered
    for i, (type_, operand, tag) in enumerate(steps):
        if i == len(steps) - 1:
            new.append(Op(type_, [y, operand], [out], _defaults(type_), name))
        else:
            y = node(type_, [y, operand], x.shape, tag)
    graph.ops[at:at] = new


def _defaults(type_: str) -> dict:
    from compiler.ir.ops import OPS

    return dict(OPS[type_].attrs)


def _shaped(graph: Graph, value, shape):
    """A constant reshaped to ``shape`` (leading 1s dropped), or the value itself."""
    if not value.is_const:
        return value
    while len(shape) > 1 and shape[0] == 1:
        shape = shape[1:]
    if value.data.shape == tuple(shape):
        return value
    return graph.const(value.name, value.data.reshape(shape))


class DecomposeLayerNormPass(Pass):
    """Replaces each LAYER_NORM by the builtins of the module docstring.

    Args:
        keep_onnx: leave the LAYER_NORMs that ONNX LayerNormalization expresses (axes running
            to the last axis): for an ONNX file at opset 17 or later.
    """

    def __init__(self, keep_onnx: bool = False):
        self.keep_onnx = keep_onnx

    def call(self, graph: Graph) -> PassResult:
        modified = False
        for op in [o for o in graph.ops if o.type == "LAYER_NORM"]:
            if self.keep_onnx and onnx_layer_norm_axis(op) is not None:
                continue
            _decompose(graph, op)
            modified = True
        return PassResult(graph, modified)
