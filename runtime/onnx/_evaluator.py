"""Run a compiled graph: a dict of values by name and a loop over the sorted nodes.

In the style of ``onnx.reference.ReferenceEvaluator.run``. Subgraphs (Loop, If, Scan bodies)
are run by the same loop, with the enclosing scope's values visible to them.
"""

from collections import ChainMap

import numpy as np

from runtime.errors import InvalidModelError, UnsupportedOpError
from runtime.onnx._graph import Graph


class BoundGraph:
    """A subgraph together with the enclosing scope it reads; call it with its inputs."""

    def __init__(self, graph: Graph, scope):
        self.graph = graph
        self.scope = scope

    @property
    def input_names(self) -> list[str]:
        return [v.name for v in self.graph.inputs]

    def __call__(self, *inputs) -> list[np.ndarray]:
        graph = self.graph
        if len(inputs) != len(graph.inputs):
            raise InvalidModelError(
                f"subgraph {graph.name!r} takes {len(graph.inputs)} inputs; received {len(inputs)}"
            )
        feeds = {v.name: x for v, x in zip(graph.inputs, inputs, strict=True)}
        values = run_graph(graph, feeds, outer=self.scope)
        return [values[v.name] for v in graph.outputs]


def run_graph(graph: Graph, feeds: dict, outer=None, keep: dict | None = None):
    """Run ``graph`` on ``feeds`` and return the scope holding every value computed.

    Args:
        graph: the compiled graph.
        feeds: values of the graph inputs (already checked by the caller).
        outer: the enclosing scope of a subgraph.
        keep: if given, every value computed is also stored into it (intermediates).
    """
    local = dict(graph.initializers)
    local.update(feeds)
    values = ChainMap(local, outer) if outer is not None else local
    for node in graph.nodes:
        args = []
        for name in node.inputs:
            if not name:
                args.append(None)
                continue
            try:
                args.append(values[name])
            except KeyError:
                known = sorted(values)[:30]
                raise InvalidModelError(
                    f"{node.describe()}: value {name!r} is missing; known values: {known}"
                ) from None
        while args and args[-1] is None:
            args.pop()  # trailing omitted optional inputs: the op's defaults apply
        attrs = node.attrs
        if node.graph_attrs:
            attrs = dict(attrs)
            for key in node.graph_attrs:
                g = attrs[key]
                attrs[key] = (
                    [BoundGraph(x, values) for x in g]
                    if isinstance(g, list)
                    else BoundGraph(g, values)
                )
        try:
            result = node.fn(*args, **attrs)
        except InvalidModelError as e:
            # Same type (UnsupportedOpError stays one), with the node that raised it named.
            raise type(e)(f"{node.describe()}: {e}") from e
        except (
            ValueError,
            TypeError,
            IndexError,
            KeyError,
            ZeroDivisionError,
            OverflowError,
            MemoryError,
            RecursionError,
            AttributeError,
            NotImplementedError,
        ) as e:
            raise InvalidModelError(
                f"{node.describe()} failed on inputs {_shapes(node.inputs, args)}: "
                f"{type(e).__name__}: {e}"
            ) from e
        if not isinstance(result, (tuple, list)):
            result = (result,)
        missing = [o for i, o in enumerate(node.outputs) if o and i >= len(result)]
        if missing:
            raise UnsupportedOpError(
                f"{node.describe()}: output {missing[0]!r} (one of {len(node.outputs)} declared) "
                f"is not computed by this runtime; the op gives {len(result)}"
            )
        for out, value in zip(node.outputs, result, strict=False):
            if out:
                local[out] = value
        if keep is not None:
            for out, value in zip(node.outputs, result, strict=False):
                if out:
                    keep[out] = value
    return values


def _shapes(names, args) -> str:
    parts = []
    for name, a in zip(names, args, strict=False):
        if isinstance(a, np.ndarray):
            parts.append(f"{name}: {a.dtype}{list(a.shape)}")
        else:
            parts.append(f"{name}: {type(a).__name__}")
    return "{" + ", ".join(parts) + "}"
