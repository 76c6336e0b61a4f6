"""Merges chains of RESHAPE and drops RESHAPEs that change nothing.

Row-major reshapes compose: ``RESHAPE(RESHAPE(x, a), b) == RESHAPE(x, b)``, so when the inner
result has no other reader (and is not a graph output) the outer op reads ``x`` directly and the
inner one dies. A RESHAPE whose output shape equals its input shape (the batch, if unknown, in
the first position of both) is an identity and is bypassed. The 1-D layers' lowering leaves
such pairs between consecutive layers.
"""

from __future__ import annotations

from compiler.ir import Graph
from compiler.passes.pass_manager import Pass, PassResult

__all__ = ["FoldReshapesPass"]


def _same_shape(a: tuple, b: tuple) -> bool:
    if len(a) != len(b) or None in a[1:] or None in b[1:]:
        return False
    return all(x == y for x, y in zip(a, b))


class FoldReshapesPass(Pass):
    """Composes consecutive reshapes and removes identity reshapes."""

    def call(self, graph: Graph) -> PassResult:
        modified = False
        for op in [op for op in graph.ops if op.type == "RESHAPE"]:
            if op not in graph.ops:
                continue
            x = op.inputs[0]
            producer = graph.producers().get(id(x))
            if (
                producer is not None
                and producer.type == "RESHAPE"
                and len(graph.consumers().get(id(x), [])) == 1
                and not graph.is_output(x)
            ):
                op.inputs[0] = producer.inputs[0]
                graph.ops.remove(producer)
                modified = True
            if _same_shape(op.inputs[0].shape, op.outputs[0].shape) and graph.bypass(op):
                modified = True
        return PassResult(graph, modified)
