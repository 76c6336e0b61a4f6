"""Pass infrastructure: ``Pass.call(graph) -> PassResult(graph, modified)`` and a manager that
runs a list of passes again and again until none of them changes the graph."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from compiler.ir import Graph

__all__ = ["Pass", "PassResult", "PassManager"]

logger = logging.getLogger(__name__)


@dataclass
class PassResult:
    """What a pass returns: the (possibly edited in place) graph and whether it changed."""

    graph: Graph
    modified: bool


class Pass:
    """Base class of a graph pass. Subclasses implement ``call``."""

    def call(self, graph: Graph) -> PassResult:
        raise NotImplementedError

    def __call__(self, graph: Graph) -> PassResult:
        result = self.call(graph)
        result.graph.validate()  # every pass must leave a well-formed graph
        return result

    @property
    def name(self) -> str:
        return type(self).__name__


class PassManager(Pass):
    """Runs ``passes`` in order, repeating the whole list until a round modifies nothing.

    Args:
        passes: the passes.
        max_rounds: a bound on the rounds, so that two passes undoing each other cannot loop
            forever; reaching it raises RuntimeError naming the passes still changing things.
    """

    def __init__(self, passes: list[Pass], max_rounds: int = 20):
        self.passes = list(passes)
        self.max_rounds = max_rounds
        self.applied: list[str] = []

    def call(self, graph: Graph) -> PassResult:
        modified = False
        self.applied = []
        for _ in range(self.max_rounds):
            changed = []
            for p in self.passes:
                result = p(graph)
                graph = result.graph
                if result.modified:
                    changed.append(p.name)
                    logger.debug("%s modified graph %s", p.name, graph.name)
            self.applied += changed
            if not changed:
                return PassResult(graph, modified)
            modified = True
        raise RuntimeError(
            f"passes still modify graph {graph.name!r} after {self.max_rounds} rounds: {changed}"
        )
