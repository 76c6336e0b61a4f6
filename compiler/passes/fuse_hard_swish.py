"""Fuses ``x * hard_sigmoid(x)`` written with ADD / RELU6 / MUL into one HARD_SWISH.

Keras 3's hard sigmoid is ``relu6(x + 3) / 6``; a model that spells hard swish out (Keras 2's
MobileNetV3 did, user code does) lowers to

    a = ADD(x, 3)  (activation RELU6, or a separate RELU6 op)
    g = MUL(a, 1/6)
    y = MUL(x, g)          or    y = MUL(MUL(x, a), 1/6)

or ``y = MUL(x, HARD_SIGMOID(x))`` where the hard sigmoid is still one op (ONNX graphs).

Pattern: those ops with constant scalars 3 and 1/6 (float32), every intermediate read only
by the next op of the chain and no graph output, the outer MUL without a fused activation.
Rewrite: ``y = HARD_SWISH(x)``; the chain's other ops become dead. The function is the same
(TFLite's HARD_SWISH is ``x * relu6(x + 3) / 6``); float results may differ in the last bit
from the MUL by a rounded 1/6. int8 gains most: one HARD_SWISH kernel instead of four
requantized ops.
"""

from __future__ import annotations

import numpy as np

from compiler.ir import Graph, Op, Value
from compiler.passes.pass_manager import Pass, PassResult

__all__ = ["FuseHardSwishPass"]

_SIXTH = np.float32(1.0 / 6.0)


def _scalar(value: Value | None, expected: np.float32) -> bool:
    return (
        value is not None
        and value.is_const
        and value.data.size == 1
        and np.float32(value.data.reshape(-1)[0]) == expected
    )


class FuseHardSwishPass(Pass):
    """Rewrites spelled-out hard swish chains (see module docstring) as HARD_SWISH."""

    def call(self, graph: Graph) -> PassResult:
        modified = False
        for mul in [op for op in graph.ops if op.type == "MUL"]:
            if mul not in graph.ops or mul.attrs.get("activation", "NONE") != "NONE":
                continue
            x = self._match(graph, mul)
            if x is None:
                continue
            index = graph.ops.index(mul)
            graph.ops.remove(mul)
            graph.add_op("HARD_SWISH", [x], [mul.outputs[0]], name=mul.name, index=index)
            modified = True
        if modified:
            _drop_dead(graph)
        return PassResult(graph, modified)

    def _match(self, graph: Graph, mul: Op) -> Value | None:
        producers, consumers = graph.producers(), graph.consumers()

        def private(value: Value, reader: Op) -> Op | None:
            """The producer of ``value`` when ``reader`` is its only reader."""
            if graph.is_output(value) or consumers.get(id(value), []) != [reader]:
                return None
            return producers.get(id(value))

        def relu6_of_x_plus_3(value: Value, reader: Op) -> Value | None:
            op = private(value, reader)
            if op is not None and op.type == "RELU6":
                inner = private(op.inputs[0], op)
                if inner is None or inner.attrs.get("activation", "NONE") != "NONE":
                    return None
                op, fused = inner, False
            else:
                fused = True
            if op is None or op.type != "ADD":
                return None
            if fused and op.attrs.get("activation") != "RELU6":
                return None
            a, b = op.inputs
            if _scalar(b, np.float32(3.0)) and not a.is_const:
                return a
            if _scalar(a, np.float32(3.0)) and not b.is_const:
                return b
            return None

        a, b = mul.inputs
        # y = MUL(x, HARD_SIGMOID(x)): the graph kept for ONNX keeps HARD_SIGMOID whole.
        for x, gate in ((a, b), (b, a)):
            op = private(gate, mul)
            if op is not None and op.type == "HARD_SIGMOID" and op.inputs[0] is x:
                return x
        # y = MUL(x, MUL(relu6(x + 3), 1/6)), either operand order at both MULs.
        for x, gate in ((a, b), (b, a)):
            scale = private(gate, mul)
            if scale is None or scale.type != "MUL" or scale.attrs.get("activation") != "NONE":
                continue
            for h, c in (scale.inputs, scale.inputs[::-1]):
                if _scalar(c, _SIXTH) and relu6_of_x_plus_3(h, scale) is x:
                    return x
        # y = MUL(MUL(x, relu6(x + 3)), 1/6)
        for product, c in ((a, b), (b, a)):
            if not _scalar(c, _SIXTH):
                continue
            inner = private(product, mul)
            if inner is None or inner.type != "MUL" or inner.attrs.get("activation") != "NONE":
                continue
            p, q = inner.inputs
            for x, h in ((p, q), (q, p)):
                if relu6_of_x_plus_3(h, inner) is x:
                    return x
        return None


def _drop_dead(graph: Graph) -> None:
    """Removes ops whose outputs nobody reads (the rest of a fused chain)."""
    changed = True
    while changed:
        changed = False
        readers = graph.consumers()
        for op in list(graph.ops):
            if all(not readers.get(id(v)) and not graph.is_output(v) for v in op.outputs):
                graph.ops.remove(op)
                changed = True
