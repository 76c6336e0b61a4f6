"""Run a compiled graph: a dict of values by name and a loop over the sorted nodes.

In the style of ``onnx.reference.ReferenceEvaluator.run``. Subgraphs (Loop, If, Scan bodies)
are run by the same loop, with the enclosing scope's values visible to them. Every node run and
every value it produces is charged to the run's budget (``runtime._budget``): a node costs one
of ``max_nodes``, and its outputs are held against ``max_tensor_bytes`` / ``max_memory_bytes``
until the graph that computed them returns.
"""

from collections import ChainMap

import numpy as np

from runtime import _budget
from runtime.errors import (
    BudgetExceededError,
    InvalidModelError,
    KernelError,
    UnsupportedOpError,
)
from runtime.onnx._graph import Graph
from runtime.onnx._typecheck import check_inputs

# Ops that read sequence values (Python lists); every other op is given tensors only.
_TAKES_SEQUENCES = frozenset(
    {"SequenceAt", "SequenceInsert", "SequenceErase", "SequenceLength", "ConcatFromSequence"}
    # values of any type: optionals hold sequences, Identity and Loop pass them through
    | {"Identity", "Optional", "OptionalHasElement", "OptionalGetElement", "Loop", "SequenceMap"}
)


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
    held = _Held(_budget.active())
    try:
        return _run_nodes(graph, feeds, outer, keep, held)
    finally:
        # The caller takes what it needs from the scope; the run holds the rest no longer.
        held.budget.release(held.nbytes)


class _Held:
    """Bytes of the values one graph computed, returned to the budget when the graph ends."""

    def __init__(self, budget):
        self.budget = budget
        self.nbytes = 0

    def add(self, value, args, where: str) -> None:
        if isinstance(value, list):  # a sequence: its new tensors count, not the ones it shares
            for item in value:
                self.add(item, _flat(args), where)
            return
        if not isinstance(value, np.ndarray):
            return
        if value.base is None:
            # It owns its memory: it is counted already only if it is one of the inputs.
            for a in args:
                if a is value:
                    return
        else:
            root = _root(value)
            for a in args:
                if a is root or (
                    isinstance(a, np.ndarray) and a.base is not None and _root(a) is root
                ):
                    return  # a view of an input (Identity, Reshape, Slice): counted already
        self.budget.hold(value.nbytes, where)
        self.nbytes += value.nbytes


_ABSENT = object()

# Dtype combinations remembered per node (string arrays have one dtype per length).
_MAX_CHECKED = 16


def _flat(args) -> list:
    """``args`` with every sequence argument replaced by its tensors."""
    return [x for a in args for x in (a if isinstance(a, list) else [a])]


def _run_nodes(graph: Graph, feeds: dict, outer, keep: dict | None, held: _Held):
    budget = held.budget
    local = dict(graph.initializers)
    local.update(feeds)
    values = ChainMap(local, outer) if outer is not None else local
    get = local.get  # the graph's own values first (a ChainMap lookup is a Python call)
    limits = budget.limits
    max_nodes, max_held, max_tensor = (
        limits.max_nodes,
        limits.max_memory_bytes,
        limits.max_tensor_bytes,
    )
    for node in graph.nodes:
        # (the budget's counter updated here: a method call is a good part of a small node's
        # cost; the call that would exceed the limit raises, naming the node)
        if budget.nodes >= max_nodes:
            budget.visit(node)
        budget.nodes += 1
        args = []
        for name in node.inputs:
            if not name:
                args.append(None)
                continue
            value = get(name, _ABSENT)
            if value is _ABSENT:
                try:
                    value = values[name]
                except KeyError:
                    known = sorted(values)[:30]
                    raise InvalidModelError(
                        f"{node.describe()}: value {name!r} is missing; known values: {known}"
                    ) from None
            args.append(value)
        while args and args[-1] is None:
            args.pop()  # trailing omitted optional inputs: the op's defaults apply
        # The checks of the inputs' kinds (sequence or tensor) and of their dtypes against the
        # schema depend on these alone: run once per combination seen at this node.
        key = tuple([a.dtype if isinstance(a, np.ndarray) else type(a) for a in args])
        checked = node.checked
        if key not in checked:
            if list in map(type, args) and node.op_type not in _TAKES_SEQUENCES:
                raise InvalidModelError(
                    f"{node.describe()} receives a sequence where it takes tensors "
                    f"(inputs {_shapes(node.inputs, args)}); only the Sequence ops read sequences"
                )
            check_inputs(node.describe, node.formal, args)
            if len(checked) < _MAX_CHECKED:
                checked.add(key)
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
        except MemoryError as e:
            raise BudgetExceededError(
                f"{node.describe()} on inputs {_shapes(node.inputs, args)}: out of memory "
                f"({type(e).__name__}: {e}); the machine has less memory than the run's limits "
                "allow (lower max_memory_bytes / max_tensor_bytes)"
            ) from e
        except (ValueError, ZeroDivisionError, OverflowError, RecursionError) as e:
            # numpy's complaints about the values a node receives (shapes that do not
            # broadcast, a reshape that does not fit) and nesting deeper than Python allows:
            # what the model asks for cannot be computed.
            raise InvalidModelError(
                f"{node.describe()} failed on inputs {_shapes(node.inputs, args)}: "
                f"{type(e).__name__}: {e}"
            ) from e
        except (TypeError, IndexError, KeyError, AttributeError, NotImplementedError) as e:
            # Kernels check what they index and look up; one of these is this runtime's own
            # mistake, and is not reported as the model's fault.
            raise KernelError(
                f"{node.describe()} raised {type(e).__name__} on inputs "
                f"{_shapes(node.inputs, args)}: {e}. This is a bug in the runtime's "
                f"{node.op_type} kernel, not a problem with the model; please report it"
            ) from e
        if not isinstance(result, (tuple, list)):
            result = (result,)
        missing = len(result) < len(node.outputs) and [
            o for i, o in enumerate(node.outputs) if o and i >= len(result)
        ]
        if missing:
            raise UnsupportedOpError(
                f"{node.describe()}: output {missing[0]!r} (one of {len(node.outputs)} declared) "
                f"is not computed by this runtime; the op gives {len(result)}"
            )
        for out, value in zip(node.outputs, result, strict=False):
            if out:
                if type(value) is np.ndarray and value.base is None and _fresh(value, args):
                    # A fresh array (the common case), charged here; what would exceed a
                    # limit goes through ``add``, which raises naming the node and output.
                    nbytes = value.nbytes
                    now = budget.held_bytes + nbytes
                    if now <= max_held and nbytes <= max_tensor:
                        budget.held_bytes = now
                        held.nbytes += nbytes
                        local[out] = value
                        continue
                held.add(value, args, lambda n=node, o=out: f"{n.describe()} output {o!r}")
                local[out] = value
        if keep is not None:
            for out, value in zip(node.outputs, result, strict=False):
                if out:
                    keep[out] = value
    return values


def _fresh(value, args) -> bool:
    """Whether ``value`` is none of ``args`` (by identity: ``in`` would compare arrays)."""
    for a in args:
        if a is value:
            return False
    return True


def _root(array):
    """The array that owns ``array``'s memory (views chain to it through ``.base``)."""
    while isinstance(array, np.ndarray) and isinstance(array.base, np.ndarray):
        array = array.base
    return array


def _shapes(names, args) -> str:
    parts = []
    for name, a in zip(names, args, strict=False):
        if isinstance(a, np.ndarray):
            parts.append(f"{name}: {a.dtype}{list(a.shape)}")
        else:
            parts.append(f"{name}: {type(a).__name__}")
    return "{" + ", ".join(parts) + "}"
