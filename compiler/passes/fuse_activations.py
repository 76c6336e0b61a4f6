"""Fuses a standalone RELU, RELU6 or RELU_N1_TO_1 into the op producing its input.

Pattern: ``y = RELU(x)`` where ``x`` comes from an op that can carry a fused activation
(CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, SUB, MUL, MAX_POOL_2D, AVERAGE_POOL_2D),
has none yet, and ``x`` has no other reader and is not a graph output. Rewrite: the producer
gets ``activation = RELU`` and writes ``y``. CONCATENATION is left out: TFLite's kernel
rejects a fused activation on it.
"""

from __future__ import annotations

from compiler.ir import Graph
from compiler.ir.ops import ACTIVATION_OPS
from compiler.passes.pass_manager import Pass, PassResult

__all__ = ["FuseActivationsPass"]

_PRODUCERS = frozenset(
    (
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "FULLY_CONNECTED",
        "ADD",
        "SUB",
        "MUL",
        "MAX_POOL_2D",
        "AVERAGE_POOL_2D",
    )
)


class FuseActivationsPass(Pass):
    """Moves ReLU-family activations into their producers' fused activation."""

    def call(self, graph: Graph) -> PassResult:
        modified = False
        for act in [op for op in graph.ops if op.type in ACTIVATION_OPS]:
            x = act.inputs[0]
            producer = graph.producers().get(id(x))
            readers = graph.consumers().get(id(x), [])
            if (
                producer is None
                or producer.type not in _PRODUCERS
                or producer.attrs.get("activation") != "NONE"
                or len(readers) != 1
                or graph.is_output(x)
            ):
                continue
            producer.attrs["activation"] = ACTIVATION_OPS[act.type]
            producer.outputs = [act.outputs[0]]
            graph.ops.remove(act)
            modified = True
        return PassResult(graph, modified)
