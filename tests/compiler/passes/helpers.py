"""Shared check of a pass: run it on a copy, compare outputs before and after with the IR
reference evaluator."""

from __future__ import annotations

import numpy as np

from compiler.ir import Graph, evaluate


def feeds_for(graph: Graph, batch: int = 3, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        rng.standard_normal([batch if d is None else d for d in v.shape]).astype(np.float32)
        for v in graph.inputs
    ]


def run_pass(p, graph: Graph, expect_modified: bool, tol: float = 1e-5) -> Graph:
    """Runs pass ``p`` on a copy of ``graph``; checks ``modified`` and unchanged outputs (names
    included). Returns the rewritten graph."""
    feeds = feeds_for(graph)
    before = evaluate(graph, feeds)
    result = p(graph.copy())
    assert result.modified is expect_modified
    after = evaluate(result.graph, feeds)
    assert [v.name for v in result.graph.outputs] == [v.name for v in graph.outputs]
    for b, a in zip(before, after):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    return result.graph


def types(graph: Graph) -> list[str]:
    return [op.type for op in graph.ops]
