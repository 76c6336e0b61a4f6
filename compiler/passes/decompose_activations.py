"""Decomposes the activations TFLite has no builtin for into builtins, except where the ONNX
opset being written has a node for them.

Lowering writes HARD_SIGMOID, SOFTPLUS, MISH and SELU as single ops, so that an ONNX-only float
graph can keep them as ``HardSigmoid`` / ``Softplus`` / ``Selu`` (opset 6+) and ``Mish``
(opset 18+). Everywhere else (TFLite, int8, older opsets) this pass rewrites them:

* HARD_SIGMOID (Keras 3): ``relu6(x + 3) * (1/6)``: ADD, RELU6, MUL;
* SOFTPLUS: ``relu(x) + log(1 + exp(-|x|))`` (never overflows): ABS, NEG, EXP, ADD, LOG, RELU,
  ADD;
* MISH: ``x * tanh(softplus(x))``;
* SELU: ``scale * elu(x) + scale * (alpha - 1) * min(elu(x), 0)`` with Keras's alpha and
  scale (ELU's negative side is ``expm1(x)``, so the second term turns it into
  ``alpha * expm1(x)``): ELU, MINIMUM, MUL, MUL, ADD.
"""

from __future__ import annotations

import numpy as np

from compiler.ir import Graph, Op, Value
from compiler.passes.pass_manager import Pass, PassResult

__all__ = ["DecomposeActivationsPass", "ONNX_NATIVE_FROM", "SELU_ALPHA", "SELU_SCALE"]

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805
# The first ONNX opset with a node for each op.
ONNX_NATIVE_FROM = {"HARD_SIGMOID": 6, "SOFTPLUS": 1, "SELU": 6, "MISH": 18}


class _Rewrite:
    """Adds ops in place of ``op`` (same position), the last one writing ``op``'s output."""

    def __init__(self, graph: Graph, op: Op):
        self.graph, self.op = graph, op
        self.index = graph.ops.index(op)
        graph.ops.remove(op)
        self.shape = op.outputs[0].shape

    def node(self, type_: str, inputs, step: str, **attrs) -> Value:
        name = f"{self.op.name}/{step}"
        value = self.graph.node(type_, inputs, self.shape, name, attrs, index=self.index)
        self.index += 1
        return value

    def last(self, type_: str, inputs, **attrs) -> None:
        out = self.op.outputs[0]
        self.graph.add_op(type_, inputs, [out], attrs, name=self.op.name, index=self.index)
        self.index += 1

    def scalar(self, value: float) -> Value:
        return self.graph.const(f"{self.op.name}/const", np.float32(value))


def _hard_sigmoid(r: _Rewrite, x: Value) -> None:
    shifted = r.node("ADD", [x, r.scalar(3.0)], "add3", activation="NONE")
    r.last("MUL", [r.node("RELU6", [shifted], "relu6"), r.scalar(1.0 / 6.0)], activation="NONE")


def _softplus(r: _Rewrite, x: Value, final: bool = True) -> Value | None:
    decay = r.node("NEG", [r.node("ABS", [x], "abs")], "neg_abs")
    one_plus = r.node(
        "ADD", [r.node("EXP", [decay], "exp"), r.scalar(1.0)], "1p", activation="NONE"
    )
    inputs = [r.node("RELU", [x], "relu"), r.node("LOG", [one_plus], "log")]
    if final:
        r.last("ADD", inputs, activation="NONE")
        return None
    return r.node("ADD", inputs, "softplus", activation="NONE")


def _mish(r: _Rewrite, x: Value) -> None:
    gate = r.node("TANH", [_softplus(r, x, final=False)], "tanh")
    r.last("MUL", [x, gate], activation="NONE")


def _selu(r: _Rewrite, x: Value) -> None:
    elu = r.node("ELU", [x], "elu")
    negative = r.node("MINIMUM", [elu, r.scalar(0.0)], "negative_part")
    extra = r.node(
        "MUL", [negative, r.scalar(SELU_SCALE * (SELU_ALPHA - 1.0))], "negative", activation="NONE"
    )
    scaled = r.node("MUL", [elu, r.scalar(SELU_SCALE)], "scaled", activation="NONE")
    r.last("ADD", [scaled, extra], activation="NONE")


_DECOMPOSE = {"HARD_SIGMOID": _hard_sigmoid, "SOFTPLUS": _softplus, "MISH": _mish, "SELU": _selu}


class DecomposeActivationsPass(Pass):
    """Rewrites HARD_SIGMOID, SOFTPLUS, MISH and SELU as builtins (see module docstring).

    Args:
        onnx_opset: for a float graph written only to ONNX at this opset, keep the ops that
            opset has a node for; None (TFLite, int8) decomposes them all.
    """

    def __init__(self, onnx_opset: int | None = None):
        self.onnx_opset = onnx_opset

    def call(self, graph: Graph) -> PassResult:
        modified = False
        for op in [op for op in graph.ops if op.type in _DECOMPOSE]:
            native = ONNX_NATIVE_FROM[op.type]
            if self.onnx_opset is not None and self.onnx_opset >= native:
                continue
            _DECOMPOSE[op.type](_Rewrite(graph, op), op.inputs[0])
            modified = True
        return PassResult(graph, modified)
