"""Evaluates ops whose inputs are all constants, at compile time.

Pattern: an op with only constant inputs whose output is not a graph output. Rewrite: its output
value becomes a constant holding the result (computed by the IR's reference kernels), and the
op goes away.
"""

from __future__ import annotations

from compiler.ir import Graph
from compiler.ir.evaluate import run_op
from compiler.passes.pass_manager import Pass, PassResult

__all__ = ["FoldConstantsPass"]


class FoldConstantsPass(Pass):
    """Replaces constant subexpressions by their values."""

    def call(self, graph: Graph) -> PassResult:
        modified = False
        for op in list(graph.ops):
            present = [v for v in op.inputs if v is not None]
            if not present or not all(v.is_const for v in present) or len(op.outputs) != 1:
                continue
            out = op.outputs[0]
            if graph.is_output(out):
                continue
            (result,) = run_op(op, [None if v is None else v.data for v in op.inputs])
            out.data = result
            out.shape = result.shape
            graph.ops.remove(op)
            modified = True
        return PassResult(graph, modified)
