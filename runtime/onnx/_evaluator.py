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
    raise_relabelled,
)
from runtime.onnx._graph import Graph
from runtime.onnx._typecheck import check_inputs
from runtime.onnx.ops import control
from runtime.onnx.ops.shape import Identity as _identity

# Ops that read sequence values (Python lists); every other op is given tensors only.
_TAKES_SEQUENCES = frozenset(
    {"SequenceAt", "SequenceInsert", "SequenceErase", "SequenceLength", "ConcatFromSequence"}
    # values of any type: optionals hold sequences, Identity and Loop pass them through
    | {"Identity", "Optional", "OptionalHasElement", "OptionalGetElement", "Loop", "SequenceMap"}
)

# Ops that make sequences or optionals (or read them: with none made, they fail their checks).
_MAKES_CONTAINERS = ("Sequence", "SplitToSequence", "ConcatFromSequence", "Optional")


class BoundGraph:
    """A subgraph together with the enclosing scope it reads (and the run's budget, when the
    caller has it at hand); call it with its inputs."""

    __slots__ = ("budget", "graph", "scope")

    def __init__(self, graph: Graph, scope, budget=None):
        self.graph = graph
        self.scope = scope
        self.budget = budget

    @property
    def input_names(self) -> list[str]:
        return [v.name for v in self.graph.inputs]

    def __call__(self, *inputs) -> list[np.ndarray]:
        graph = self.graph
        if len(inputs) != len(graph.inputs):
            raise InvalidModelError(
                f"subgraph {graph.name!r} takes {len(graph.inputs)} inputs; received {len(inputs)}"
            )
        input_names, output_names = _cached(graph)[3:5]  # (cached with its steps)
        feeds = dict(zip(input_names, inputs, strict=True)) if inputs else {}
        values = run_graph(graph, feeds, self.scope, None, False, self.budget)
        # Outputs from the subgraph's own values (the outer ones it reads were copied in), a
        # dict lookup; the ChainMap (a Python-level lookup) for any other.
        local = values.maps[0]
        return [local[name] if name in local else values[name] for name in output_names]


def run_graph(
    graph: Graph,
    feeds: dict,
    outer=None,
    keep: dict | None = None,
    typed: bool = False,
    budget=None,
    prove: bool = False,
):
    """Run ``graph`` on ``feeds`` and return the scope holding every value computed.

    Args:
        graph: the compiled graph.
        feeds: values of the graph inputs (already checked by the caller).
        outer: the enclosing scope of a subgraph.
        keep: if given, every value computed is also stored into it (intermediates).
        typed: every node's inputs are known to pass the schema's type checks (an earlier run
            of this graph on feeds of the same dtypes passed them: see ``types_follow_feeds``).
        budget: the run's budget, when the caller has it at hand (else the active one).
        prove: skip the type checks when a run on feeds of the same dtypes passed them, as a
            subgraph's runs do (``_Proofs``): for a caller whose feeds are the graph's declared
            inputs (the session's), not one that feeds a graph of undeclared inputs by name.
    """
    if budget is None:
        budget = _budget.active()
    # Bytes of the values this graph computed, returned to the budget when it ends (the
    # caller takes what it needs from the scope; the run holds the rest no longer).
    held = 0
    try:
        local = {**graph.initializers, **feeds}
        values = ChainMap(local, outer) if outer is not None else local
        if outer is not None:
            # The enclosing values this subgraph reads, looked up once (a ChainMap lookup is a
            # Python call); one that is missing is reported by the node that reads it.
            scopes = outer.maps if type(outer) is ChainMap else (outer,)
            for name in graph.free:
                if name not in local:
                    for scope in scopes:
                        value = scope.get(name, _ABSENT)
                        if value is not _ABSENT:
                            local[name] = value
                            break
        limits = budget.limits
        max_nodes, max_held, max_tensor = (
            limits.max_nodes,
            limits.max_memory_bytes,
            limits.max_tensor_bytes,
        )
        cached = graph.steps
        steps = cached[1] if cached is not None and cached[0] is graph.nodes else _steps(graph)
        # The type checks are skipped when a run on outside values of the same dtypes passed
        # them (``_Proofs``; a main graph's caller may know it already: ``typed``); ``proven``
        # lists that run's subgraph nodes' output kinds, ``seen`` collects this run's when it
        # is the one to prove.
        proven = seen = signature = None
        if not typed and (outer is not None or prove) and graph.steps[2].plain:
            proofs = graph.steps[2]
            signature = proofs.signature(local)
            if signature is not None:
                proven = proofs.runs.get(signature)
                if proven is not None:
                    typed, proven = True, iter(proven)
                else:
                    seen = []
        # Every node of the graph charged at once when they all fit; else one by one, so that the
        # node that would exceed the limit raises, named.
        counted = budget.nodes + len(steps) <= max_nodes
        lookup = local.__getitem__
        if counted:
            budget.nodes += len(steps)
        for node, fn, names, attrs, outputs, single, blank, sub in steps:
            if not counted:
                if budget.nodes >= max_nodes:
                    budget.visit(node)
                budget.nodes += 1
            if blank:
                args = [_value(node, name, values) if name else None for name in names]
            else:
                try:
                    args = list(map(lookup, names))  # (no comprehension frame per node)
                except KeyError:
                    args = [_value(node, name, values) for name in names]
            while args and args[-1] is None:
                args.pop()  # an empty optional value, last: the op's defaults apply
            if not typed:
                # The checks of the inputs' kinds (sequence or tensor) and of their dtypes against
                # the schema depend on these alone: run once per combination seen at this node.
                key = tuple([a.dtype if isinstance(a, np.ndarray) else type(a) for a in args])
                checked = node.checked
                if key not in checked:
                    _check_node(node, args)
                    if len(checked) < _MAX_CHECKED:
                        checked.add(key)
            try:
                if attrs is None:
                    result = fn(*args)
                else:
                    if sub is _IF:
                        result = _run_if(node, args, values, budget)
                    else:
                        if sub:
                            attrs = _bound_graphs(node, values, budget)
                        result = fn(*args, **attrs)
            except Exception as e:
                raise_relabelled(_node_error(node, args, e), e)
            if sub and signature is not None:
                if seen is not None:
                    seen.append(_kinds(result))
                elif _kinds(result) != next(proven):
                    # (a branch of other output types: the nodes after it are checked)
                    typed = False
                    signature = None
            if type(result) is np.ndarray and single:
                # One array for one output (the common case), charged here; one that would exceed
                # a limit, or whose sharing is unclear, goes through ``add`` below (which raises
                # naming the node and output, or walks the views).
                if result.base is None:
                    # (``_single_charge``'s first case, inline: a small model's every node)
                    nbytes = result.nbytes
                    for a in args:
                        if a is result:
                            nbytes = None
                            break
                else:
                    nbytes = _single_charge(result, args)
                if nbytes is not None:
                    now = budget.held_bytes + nbytes
                    if now <= max_held and nbytes <= max_tensor:
                        budget.held_bytes = now
                        held += nbytes
                        local[single] = result
                        if keep is not None:
                            keep[single] = result
                        continue
            if not isinstance(result, (tuple, list)):
                result = (result,)
            if len(result) < len(outputs):
                _check_outputs(node, result)
            for out, value in zip(outputs, result, strict=False):
                if out:
                    if type(value) is np.ndarray and value.base is None and _fresh(value, args):
                        nbytes = value.nbytes
                        now = budget.held_bytes + nbytes
                        if now <= max_held and nbytes <= max_tensor:
                            budget.held_bytes = now
                            held += nbytes
                            local[out] = value
                            continue
                    held += _charge(
                        budget, value, args, lambda n=node, o=out: f"{n.describe()} output {o!r}"
                    )
                    local[out] = value
            if keep is not None:
                for out, value in zip(outputs, result, strict=False):
                    if out:
                        keep[out] = value
        if seen is not None and len(graph.steps[2].runs) < _MAX_PROOFS:
            graph.steps[2].runs[signature] = tuple(seen)
        return values
    finally:
        if held:
            # (``budget.release(held)``, written out: once per graph run)
            left = budget.held_bytes - held
            budget.held_bytes = left if left > 0 else 0


def _charge(budget, value, args, where) -> int:
    """Charge a node's output ``value`` to ``budget`` unless it shares an input's memory
    (counted already); the bytes charged."""
    if isinstance(value, list):  # a sequence: its new tensors count, not the ones it shares
        flat = _flat(args)
        total = 0
        try:
            for item in value:
                total += _charge(budget, item, flat, where)
        except BaseException:
            budget.release(total)  # (what its items before the one refused hold)
            raise
        return total
    if not isinstance(value, np.ndarray):
        return 0
    base = value.base
    if type(base) is np.ndarray and base.base is None:
        # A view of an array that owns its memory (numpy points views there directly):
        # counted already if that array is an input, or one of the inputs is a view of it.
        for a in args:
            if a is base or (type(a) is np.ndarray and a.base is base):
                return 0
    if value.base is None:
        # It owns its memory: it is counted already only if it is one of the inputs.
        for a in args:
            if a is value:
                return 0
    else:
        root = _root(value)
        for a in args:
            if a is root or (isinstance(a, np.ndarray) and a.base is not None and _root(a) is root):
                return 0  # a view of an input (Identity, Reshape, Slice): counted already
    budget.hold(value.nbytes, where)
    return value.nbytes


_ABSENT = object()

# Dtype combinations remembered per node (string arrays have one dtype per length).
_MAX_CHECKED = 16


def _flat(args) -> list:
    """``args`` with every sequence argument replaced by its tensors."""
    return [x for a in args for x in (a if isinstance(a, list) else [a])]


def _cached(graph: Graph) -> tuple:
    """``graph.steps``, made first when it is missing or stale (see ``_steps``)."""
    cached = graph.steps
    if cached is None or cached[0] is not graph.nodes:
        _steps(graph)
        cached = graph.steps
    return cached


def _steps(graph: Graph) -> list:
    """The graph's nodes as tuples ready for the loop, made once per graph and cached on it:
    (node, fn, input names without the trailing omitted ones, attributes or None when there
    are none, output names, the output's name when there is one, whether an input in the
    middle is omitted, whether it has subgraphs)."""
    cached = graph.steps
    if cached is not None and cached[0] is graph.nodes:
        return cached[1]
    steps = []
    for node in graph.nodes:
        names = list(node.inputs)
        while names and not names[-1]:
            names.pop()  # trailing omitted optional inputs: the op's defaults apply
        attrs = node.attrs if (node.attrs or node.graph_attrs) else None
        single = node.outputs[0] if len(node.outputs) == 1 else None
        sub = bool(node.graph_attrs)
        if (
            node.fn is control.If
            and node.domain in ("", "ai.onnx")
            and set(node.graph_attrs) == {"then_branch", "else_branch"}
            and not isinstance(attrs["then_branch"], list)
            and not isinstance(attrs["else_branch"], list)
        ):
            sub = _IF  # (truthy: the loop's proofs treat it as any subgraph node)
        steps.append((node, node.fn, tuple(names), attrs, node.outputs, single, "" in names, sub))
    # (with the proofs of its runs: see _Proofs; and its inputs' and outputs' names)
    inputs = tuple(v.name for v in graph.inputs)
    outputs = tuple(v.name for v in graph.outputs)
    graph.steps = (graph.nodes, steps, _Proofs(graph), inputs, outputs)
    return steps


class _Proofs:
    """The runs of a graph (a subgraph: If branch, Loop or Scan body; or a main graph) that
    passed every node's type checks, by the dtypes of the outside values they read (free
    names, then inputs): a run with the same dtypes skips the checks. ``types_follow_feeds``'s
    argument, with this graph's own subgraph nodes allowed: their outputs' dtypes are not a
    function of their inputs' (an If picks a branch by value), so each is compared with the
    proven run's, and the checks resume at the first that differs."""

    __slots__ = ("names", "plain", "relay", "runs")

    def __init__(self, graph: Graph):
        self.names = tuple(graph.free) + tuple(v.name for v in graph.inputs)
        self.plain = all(not v.container for v in graph.inputs) and not any(
            node.op_type.startswith(_MAKES_CONTAINERS) for node in graph.nodes
        )
        self.runs: dict = {}
        # (an If branch that only passes enclosing values on: see ``_run_if``)
        self.relay = _relay(graph)

    def signature(self, local: dict):
        """The dtypes of the outside values in ``local``, or None when one is not a tensor."""
        key = []
        for name in self.names:
            value = local.get(name)
            if type(value) is not np.ndarray:
                return None
            key.append(value.dtype)
        return tuple(key)


# Proven runs remembered per subgraph (one per combination of outside dtypes in use).
_MAX_PROOFS = 8


def _kinds(result) -> tuple:
    """The dtypes (or types) of a subgraph node's outputs."""
    values = result if isinstance(result, (tuple, list)) else (result,)
    return tuple([v.dtype if isinstance(v, np.ndarray) else type(v) for v in values])


def types_follow_feeds(graph: Graph) -> bool:
    """Whether the dtype of every value of ``graph`` is a function of the feeds' dtypes alone,
    so that a run that passed every node's type checks proves them for any feeds of the same
    dtypes: no subgraphs (an If picks a branch by value), no sequences or optionals (a value
    that is present or not, a list or not, by value). Kernels compute their result types from
    their inputs' types (numpy 2 never casts by value)."""
    return all(not v.container for v in graph.inputs) and not any(
        node.graph_attrs or node.op_type.startswith(_MAKES_CONTAINERS) for node in graph.nodes
    )


def _value(node, name: str, values):
    try:
        return values[name]
    except KeyError:
        known = sorted(values)[:30]
        raise InvalidModelError(
            f"{node.describe()}: value {name!r} is missing; known values: {known}"
        ) from None


def _check_node(node, args) -> None:
    if list in map(type, args) and node.op_type not in _TAKES_SEQUENCES:
        raise InvalidModelError(
            f"{node.describe()} receives a sequence where it takes tensors "
            f"(inputs {_shapes(node.inputs, args)}); only the Sequence ops read sequences"
        )
    check_inputs(node.describe, node.formal, args)


class _IfStep:
    """The marker of an If step (see ``_run_if``)."""

    def __bool__(self) -> bool:
        return True


_IF = _IfStep()


def _run_if(node, args, values, budget) -> list:
    """An If node's outputs: ``control.If``'s result, without binding both branches to the
    scope and calling the kernel with them (a few microseconds each time, and small models run
    many Ifs: silero-vad picks a squeeze or a pass-through by shape at several of them).

    A branch that only passes enclosing values on (its outputs those values, or Identity
    nodes of them: the "else" of an exporter's optional squeeze) gives them directly, after
    the same charge of its nodes and the same type checks of what Identity receives; any
    other branch runs as a ``BoundGraph`` call would run it.
    """
    if not args:
        raise InvalidModelError("If: cond is missing")
    graph = node.attrs["then_branch" if control.if_condition(args[0]) else "else_branch"]
    relay = _cached(graph)[2].relay
    if relay is not None:
        sources, identities, count = relay
        result = []
        # (a subgraph's scope: its own values first, a dict lookup, which holds the enclosing
        # values it reads; a ChainMap lookup is a Python call)
        first = values.maps[0] if type(values) is ChainMap else values
        for name in sources:
            value = first.get(name, _ABSENT)
            if value is _ABSENT and first is not values:
                value = values.get(name, _ABSENT)
            if type(value) is not np.ndarray:
                result = None  # (missing, a sequence or an optional: the general run decides)
                break
            result.append(value)
        if result is not None and budget.nodes + count <= budget.limits.max_nodes:
            budget.nodes += count
            for identity, value in zip(identities, result, strict=True):
                if identity is not None and (value.dtype,) not in identity.checked:
                    _check_node(identity, [value])
                    identity.checked.add((value.dtype,))
            return result
    return BoundGraph(graph, values, budget)()


def _relay(graph: Graph):
    """For a graph of no inputs that only passes enclosing values on: (for each output, the
    enclosing value it is; for each output, the Identity node that passes it, or None; the
    number of nodes), the nodes being those Identities alone; else None."""
    if graph.inputs or graph.initializers:
        return None
    made = {}
    for node in graph.nodes:
        if (
            node.op_type != "Identity"
            or node.domain not in ("", "ai.onnx")
            or len(node.inputs) != 1
            or len(node.outputs) != 1
            or node.fn is not _identity
        ):
            return None
        made[node.outputs[0]] = node
    identities = []
    sources = []
    used = set()
    for v in graph.outputs:
        node = made.get(v.name)
        source = node.inputs[0] if node is not None else v.name
        if source in made or not source:
            return None  # (an Identity of an Identity: the general run)
        sources.append(source)
        identities.append(node)
        if node is not None:
            used.add(node.outputs[0])
    if len(used) != len(made):
        return None  # (an Identity no output reads is still charged and checked: the general run)
    return tuple(sources), tuple(identities), len(made)


def _bound_graphs(node, values, budget=None) -> dict:
    attrs = dict(node.attrs)
    for key in node.graph_attrs:
        g = attrs[key]
        attrs[key] = (
            [BoundGraph(x, values, budget) for x in g]
            if isinstance(g, list)
            else BoundGraph(g, values, budget)
        )
    return attrs


def _check_outputs(node, result) -> None:
    missing = [o for i, o in enumerate(node.outputs) if o and i >= len(result)]
    if missing:
        raise UnsupportedOpError(
            f"{node.describe()}: output {missing[0]!r} (one of {len(node.outputs)} declared) "
            f"is not computed by this runtime; the op gives {len(result)}"
        )


def _node_error(node, args, e: Exception) -> Exception:
    """The error a node's failure is reported as (raised from ``e``)."""
    if isinstance(e, InvalidModelError):
        # Same type (UnsupportedOpError stays one), with the node that raised it named.
        return type(e)(f"{node.describe()}: {e}")
    if isinstance(e, MemoryError):
        return BudgetExceededError(
            f"{node.describe()} on inputs {_shapes(node.inputs, args)}: out of memory "
            f"({type(e).__name__}: {e}); the machine has less memory than the run's limits "
            "allow (lower max_memory_bytes / max_tensor_bytes)"
        )
    if isinstance(e, (ValueError, ZeroDivisionError, OverflowError, RecursionError)):
        # numpy's complaints about the values a node receives (shapes that do not
        # broadcast, a reshape that does not fit) and nesting deeper than Python allows:
        # what the model asks for cannot be computed.
        return InvalidModelError(
            f"{node.describe()} failed on inputs {_shapes(node.inputs, args)}: "
            f"{type(e).__name__}: {e}"
        )
    if isinstance(e, (TypeError, IndexError, KeyError, AttributeError, NotImplementedError)):
        # Kernels check what they index and look up; one of these is this runtime's own
        # mistake, and is not reported as the model's fault.
        return KernelError(
            f"{node.describe()} raised {type(e).__name__} on inputs "
            f"{_shapes(node.inputs, args)}: {e}. This is a bug in the runtime's "
            f"{node.op_type} kernel, not a problem with the model; please report it"
        )
    return e  # (not the model's fault nor a kernel bug: e.g. KernelError, raised as is)


def _fresh(value, args) -> bool:
    """Whether ``value`` is none of ``args`` (by identity: ``in`` would compare arrays)."""
    for a in args:
        if a is value:
            return False
    return True


def _single_charge(result: np.ndarray, args) -> int | None:
    """The bytes a node's one output ``result`` adds to the run: all of them for an array it
    made, 0 for a view of an array an input holds (Reshape, Flatten, Transpose: counted
    already), None when unsure (``add``'s generic walk decides)."""
    base = result.base
    if base is None:
        for a in args:
            if a is result:
                return None
        return result.nbytes
    if type(base) is not np.ndarray or base.base is not None:
        return None
    # A view of an array that owns its memory: of an input's, or of one the kernel made (a
    # Conv's transposed GEMM result).
    for a in args:
        if a is base:
            return 0
        if type(a) is np.ndarray:
            a_base = a.base
            if a_base is base:
                return 0
            if a_base is not None and (type(a_base) is not np.ndarray or a_base.base is not None):
                return None
        elif isinstance(a, np.ndarray):
            return None
    return result.nbytes


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
