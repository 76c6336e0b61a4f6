"""Removes ops that compute nothing at inference: DROPOUT (and the noise layers lowered to it)
and IDENTITY.

Pattern: ``y = DROPOUT(x)`` or ``y = IDENTITY(x)``. Rewrite: readers of ``y`` read ``x``. When
``y`` is a graph output, the producer of ``x`` writes ``y`` instead, so the output keeps its
name; when ``x`` is a graph input (the model copies an input to an output) the op stays.
"""

from __future__ import annotations

from compiler.ir import Graph
from compiler.passes.pass_manager import Pass, PassResult

__all__ = ["RemoveIdentitiesPass"]

_IDENTITIES = ("DROPOUT", "IDENTITY")


class RemoveIdentitiesPass(Pass):
    """Drops DROPOUT and IDENTITY ops."""

    def call(self, graph: Graph) -> PassResult:
        modified = False
        for op in [op for op in graph.ops if op.type in _IDENTITIES]:
            modified |= graph.bypass(op)
        return PassResult(graph, modified)
