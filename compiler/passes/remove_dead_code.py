"""Removes ops none of whose outputs reaches a graph output (constants only they read go too,
since constants live only as op inputs)."""

from __future__ import annotations

from compiler.ir import Graph
from compiler.passes.pass_manager import Pass, PassResult

__all__ = ["RemoveDeadCodePass"]


class RemoveDeadCodePass(Pass):
    """Drops ops whose results nobody needs."""

    def call(self, graph: Graph) -> PassResult:
        live = {id(v) for v in graph.outputs}
        kept = []
        for op in reversed(graph.ops):
            if any(id(v) in live for v in op.outputs):
                kept.append(op)
                live.update(id(v) for v in op.inputs if v is not None)
        modified = len(kept) != len(graph.ops)
        graph.ops = kept[::-1]
        return PassResult(graph, modified)
