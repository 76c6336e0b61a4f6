"""Shape chains collapsed into one planned node, its outputs remembered per input shapes.

A dynamic batch's ``Shape -> Gather -> Cast -> Slice -> Concat -> Cast -> Reshape`` (tf2onnx,
PyTorch exports) computes its small values from the shapes of the tensors it reads and from
constants alone, so the whole chain is a function of those shapes. Run as one node it costs
the run's loop one step instead of one per node; a shape signature not seen before runs the
chain's nodes as written (their own type checks, budget charges and error messages).
"""

import numpy as np

from runtime.onnx._evaluator import run_graph
from runtime.onnx._graph import Graph, Node

# Signatures remembered per chain (one per distinct input shape in use).
_MAX_ENTRIES = 8


def collapse_shape_chains(nodes: list, graph: Graph, known: dict, derived: set) -> list:
    """``nodes`` with each connected chain of shape nodes replaced by one node.

    Args:
        nodes: the planned nodes, in run order.
        graph: the graph they belong to (its outputs are never computed by a collapsed chain).
        known: the constants.
        derived: indices in ``nodes`` of the nodes computing from Shape/Size outputs and
            constants alone (with the Shape/Size nodes themselves).
    """
    graph_outputs = {v.name for v in graph.outputs}
    members = {
        i
        for i in derived
        if nodes[i].op_type not in ("Shape", "Size")
        or not any(o in graph_outputs for o in nodes[i].outputs)
    }
    producer = {o: i for i in members for o in nodes[i].outputs if o}
    # Connected components (a union-find over the values members share).
    parent = {i: i for i in members}

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in members:
        for name in nodes[i].inputs:
            j = producer.get(name)
            if j is not None:
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in sorted(members):
        groups.setdefault(find(i), []).append(i)
    replaced: dict[int, Node] = {}
    gone: set = set()
    for group in groups.values():
        fused = _collapsed(nodes, group, members, producer, graph_outputs, known)
        if fused is not None:
            replaced[group[-1]] = fused
            gone.update(group[:-1])
    return [replaced.get(i, n) for i, n in enumerate(nodes) if i not in gone]


def _collapsed(nodes, group, members, producer, graph_outputs, known) -> Node | None:
    if len(group) < 2:
        return None
    inside = set(group)
    sub = [nodes[i] for i in group]
    if any(n.op_type not in ("Shape", "Size") and not _reads_derived(n, producer) for n in sub):
        return None
    # The tensors whose shapes are read (every other input is a constant or made inside).
    sources = []
    for n in sub:
        if n.op_type in ("Shape", "Size"):
            x = n.inputs[0] if n.inputs else ""
            if not x or x in known or x in producer:
                return None  # (a constant's shape: folded already; nothing to gain)
            if x not in sources:
                sources.append(x)
        elif any(
            name and name not in known and producer.get(name) not in inside for name in n.inputs
        ):
            return None
    last = group[-1]
    exits = []
    for k, n in enumerate(nodes):
        if k in inside:
            continue
        for name in n.inputs:
            j = producer.get(name)
            if j in inside:
                if k < last:
                    return None  # read before the chain's last node runs: not collapsible
                if name not in exits:
                    exits.append(name)
    exits += [o for i in group for o in nodes[i].outputs if o in graph_outputs and o not in exits]
    if not exits:
        return None
    constants = {name: known[name] for n in sub for name in n.inputs if name and name in known}
    chain = Graph(f"shape chain {sub[0].name}", [], [], constants, sub)
    kernel = _ShapeChain(chain, tuple(sources), tuple(exits))
    return Node(
        name=sub[-1].name,
        op_type="+".join(dict.fromkeys(n.op_type for n in sub)),
        domain="",
        inputs=tuple(sources),
        outputs=tuple(exits),
        fn=kernel,
        attrs={},
    )


def _reads_derived(node: Node, producer: dict) -> bool:
    return any(name in producer for name in node.inputs if name)


class _ShapeChain:
    """The collapsed chain's kernel: its outputs (read-only) by its inputs' dtypes and
    shapes, computed by running the chain's nodes on a signature not seen before."""

    __slots__ = ("chain", "sources", "exits", "cache")

    def __init__(self, chain: Graph, sources: tuple, exits: tuple):
        self.chain, self.sources, self.exits = chain, sources, exits
        self.cache: dict = {}

    def __call__(self, *args):
        key = []
        for a in args:
            if type(a) is not np.ndarray:
                return self._run(args)  # (a sequence or an empty optional: the nodes refuse it)
            key.append((a.dtype.str, a.shape))
        key = tuple(key)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        result = self._run(args)
        if len(self.cache) < _MAX_ENTRIES and all(type(v) is np.ndarray for v in result):
            kept = []
            for v in result:
                v = v.copy()  # (a value may be a view of an input of this run)
                v.flags.writeable = False
                kept.append(v)
            self.cache[key] = tuple(kept) if len(kept) > 1 else kept[0]
        return result if len(result) > 1 else result[0]

    def _run(self, args) -> tuple:
        values = run_graph(self.chain, dict(zip(self.sources, args, strict=True)))
        # A numpy scalar (a comparison of 0-d arrays gives one) as the 0-d array it stands
        # for: the same value, and one the cache keeps.
        return tuple(
            np.asarray(v) if isinstance(v, np.generic) else v
            for v in (values[name] for name in self.exits)
        )
