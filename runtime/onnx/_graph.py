"""Compile a ``GraphProto`` into a checked, topologically sorted graph ready to run.

Everything that can be known before the first run is checked here, so that a bad file fails
at load time with an error naming the node, the op and the value: unknown ops and domains,
unknown attributes, names nothing produces (dangling), names produced twice, cycles.
"""

import functools
import heapq
import inspect
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import AttributeProto

from runtime import _budget
from runtime.errors import InvalidModelError, UnsupportedOpError
from runtime.onnx._reader import DOMAIN_OPSETS, tensor_to_array
from runtime.onnx._typecheck import attribute_types, input_types
from runtime.onnx._types import elem_type_name, is_supported_elem_type
from runtime.onnx.ops import resolve


@dataclass(frozen=True)
class ValueInfo:
    """A graph input or output: name, element type (None if unknown) and dims.

    A dim is an int, a symbolic name (str), or None when unknown; ``shape`` is None when the
    rank itself is unknown. ``container`` holds the wrappers around that tensor type, outermost
    first: () for a tensor, ("sequence",), ("optional",), ("optional", "sequence"), ...
    """

    name: str
    elem_type: int | None
    shape: tuple | None
    container: tuple = ()


@dataclass
class Node:
    """One node, bound to its op implementation."""

    name: str
    op_type: str
    domain: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    fn: object
    attrs: dict
    graph_attrs: tuple[str, ...] = ()
    formal: tuple | None = None  # the schema's input types (runtime.onnx._typecheck)
    # Input dtype combinations already found valid for ``formal`` (filled by the evaluator, so
    # that the type check runs once per combination; not copied by dataclasses.replace).
    checked: set = field(default_factory=set, init=False, repr=False, compare=False)

    def describe(self) -> str:
        domain = f"{self.domain}." if self.domain else ""
        return f"node {self.name!r} ({domain}{self.op_type})"

    def __str__(self) -> str:
        return self.describe()


@dataclass
class Graph:
    """A compiled graph; ``free`` are the outer-scope names a subgraph reads."""

    name: str
    inputs: list[ValueInfo]
    outputs: list[ValueInfo]
    initializers: dict[str, np.ndarray]
    nodes: list[Node]
    free: frozenset = field(default_factory=frozenset)
    # The evaluator's per-node tuples, made at the first run: (the nodes they were made from,
    # the tuples); not copied by dataclasses.replace.
    steps: tuple | None = field(default=None, init=False, repr=False, compare=False)


class Scope:
    """Names visible to a graph: its own, then its enclosing graphs' (a chain, not a union,
    so that compiling many subgraphs costs no copy of the enclosing names each time)."""

    def __init__(self, names=frozenset(), parent: "Scope | None" = None):
        self.names = frozenset(names)
        self.parent = parent

    def __contains__(self, name) -> bool:
        scope = self
        while scope is not None:
            if name in scope.names:
                return True
            scope = scope.parent
        return False


def compile_graph(
    proto: onnx.GraphProto, opsets: dict[str, int], outer: Scope | None = None
) -> Graph:
    """Check and compile ``proto``.

    Args:
        proto: the graph message.
        opsets: the model's {domain: version}.
        outer: names visible from enclosing graphs (None for the main graph).

    Raises:
        InvalidModelError: dangling or duplicated names, cycles, bad attributes or tensors.
        UnsupportedOpError: an op, domain or attribute this runtime does not implement.
    """
    gname = proto.name or "<main>"
    if outer is None:
        _refuse_missing_ops(proto, opsets)
    # Nodes of every (sub)graph count against the loading budget before any is compiled.
    _budget.active().visit(f"graph {gname!r}", len(proto.node))
    initializers: dict[str, np.ndarray] = {}
    for tensor in proto.initializer:
        if tensor.name in initializers:
            raise InvalidModelError(f"graph {gname!r}: initializer {tensor.name!r} appears twice")
        initializers[tensor.name] = tensor_to_array(tensor, f"initializer {tensor.name!r}")
    if len(proto.sparse_initializer):
        raise UnsupportedOpError(f"graph {gname!r}: sparse initializers are not supported")
    inputs = [_value_info(v, gname) for v in proto.input]
    outputs = [_value_info(v, gname) for v in proto.output]

    defined: dict[str, str] = {}  # value name -> what defines it, for error messages
    for v in inputs:
        if v.name in defined:
            raise InvalidModelError(f"graph {gname!r}: input {v.name!r} is declared twice")
        defined[v.name] = "graph input"
    for name in initializers:
        defined.setdefault(name, "initializer")

    # Subgraphs may read any value of this graph, whatever the file order of the nodes.
    scope = Scope(set(defined) | {o for n in proto.node for o in n.output if o}, outer)
    nodes = []
    for index, node_proto in enumerate(proto.node):
        node = _compile_node(node_proto, index, opsets, scope)
        for out in node.outputs:
            if out and out in defined:
                raise InvalidModelError(
                    f"{node.describe()}: output {out!r} is already produced by {defined[out]}"
                )
            if out:
                defined[out] = node.describe()
        nodes.append(node)

    visible = Scope(defined, outer)
    free = set()
    for node in nodes:
        needed = [n for n in node.inputs if n] + sorted(_node_free(node))
        for name in needed:
            if name not in visible:
                known = sorted(defined)[:20]
                raise InvalidModelError(
                    f"{node.describe()}: input {name!r} is not produced by any node, graph input "
                    f"or initializer (dangling); known values include {known}"
                )
            if name not in defined:
                free.add(name)
    for v in outputs:
        if v.name not in visible:
            raise InvalidModelError(f"graph {gname!r}: output {v.name!r} is never produced")
        if v.name not in defined:
            free.add(v.name)
    return Graph(gname, inputs, outputs, initializers, _toposort(nodes, gname), frozenset(free))


def _refuse_missing_ops(proto: onnx.GraphProto, opsets: dict) -> None:
    """One UnsupportedOpError naming every op of the model (subgraphs included) that this
    runtime cannot run, so that a user learns the whole list from one load, not one by one."""
    missing: dict[tuple[str, str], list[str]] = {}
    pending = [proto]
    while pending:  # an explicit stack: the protobuf decoder already bounds the nesting
        graph = pending.pop()
        for index, node in enumerate(graph.node):
            domain = "" if node.domain in ("", "ai.onnx") else node.domain
            if _unsupported_domain(domain, opsets) or (
                resolve(domain, node.op_type, opsets[domain]) is None
            ):
                missing.setdefault((domain, node.op_type), []).append(node.name or f"#{index}")
            for attr in node.attribute:
                pending.extend([attr.g] if attr.HasField("g") else [])
                pending.extend(attr.graphs)
    if not missing:
        return
    parts = []
    for (domain, op_type), names in sorted(missing.items()):
        reason = _unsupported_domain(domain, opsets)
        what = f"{op_type!r} of domain {domain or 'ai.onnx'!r}"
        what += f": {reason}" if reason else f" (opset {opsets[domain]}) is not implemented"
        where = ", ".join(repr(n) for n in names[:5]) + (", ..." if len(names) > 5 else "")
        parts.append(f"{what} (nodes {where})")
    raise UnsupportedOpError(
        f"this runtime cannot run {len(parts)} op(s) of the model: " + "; ".join(parts)
    )


def _unsupported_domain(domain: str, opsets: dict) -> str | None:
    """Why nodes of ``domain`` cannot run, or None when the domain itself is fine."""
    if domain not in opsets:
        return f"domain {domain!r} is not in the model's opset_import"
    if domain and domain not in DOMAIN_OPSETS:
        return f"domain {domain!r} is not supported"
    return None


def _node_free(node: Node) -> set:
    names = set()
    for key in node.graph_attrs:
        value = node.attrs[key]
        for g in value if isinstance(value, list) else [value]:
            names |= g.free
    return names


def _toposort(nodes: list[Node], gname: str) -> list[Node]:
    """Kahn's algorithm, keeping file order among ready nodes; a leftover means a cycle."""
    producer = {out: i for i, node in enumerate(nodes) for out in node.outputs if out}
    waiting_on = []
    users: list[list[int]] = [[] for _ in nodes]
    for i, node in enumerate(nodes):
        deps = {producer[n] for n in list(node.inputs) + list(_node_free(node)) if n in producer}
        waiting_on.append(len(deps))
        for d in deps:
            users[d].append(i)
    ready = [i for i, count in enumerate(waiting_on) if count == 0]
    heapq.heapify(ready)  # lowest file index first: deterministic, and file order if sorted
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for u in users[i]:
            waiting_on[u] -= 1
            if waiting_on[u] == 0:
                heapq.heappush(ready, u)
    if len(order) != len(nodes):
        stuck = [nodes[i].describe() for i, c in enumerate(waiting_on) if c > 0]
        raise InvalidModelError(
            f"graph {gname!r} has a cycle: {len(stuck)} nodes wait on each other, e.g. {stuck[:5]}"
        )
    return [nodes[i] for i in order]


def _value_info(proto: onnx.ValueInfoProto, gname: str) -> ValueInfo:
    if not proto.name:
        raise InvalidModelError(f"graph {gname!r}: an input or output has no name")
    container, vtype = [], proto.type
    which = vtype.WhichOneof("value")
    while which in ("sequence_type", "optional_type") and len(container) < 8:
        container.append(which[: -len("_type")])
        vtype = getattr(vtype, which).elem_type
        which = vtype.WhichOneof("value")
    if which is None:
        return ValueInfo(proto.name, None, None, tuple(container))
    if which != "tensor_type":
        raise UnsupportedOpError(
            f"graph {gname!r}: value {proto.name!r} has type {which}; only tensors, sequences "
            "and optionals are supported"
        )
    ttype = vtype.tensor_type
    if ttype.elem_type and not is_supported_elem_type(ttype.elem_type):
        raise UnsupportedOpError(
            f"graph {gname!r}: value {proto.name!r} has element type "
            f"{elem_type_name(ttype.elem_type)}, which this runtime does not support"
        )
    shape = None
    if ttype.HasField("shape"):
        # A negative dim_value (paddle2onnx writes -1 for a free batch) is a free dimension,
        # as onnxruntime reads it.
        shape = tuple(
            d.dim_value if d.HasField("dim_value") and d.dim_value >= 0 else (d.dim_param or None)
            for d in ttype.shape.dim
        )
    return ValueInfo(proto.name, ttype.elem_type or None, shape, tuple(container))


def _compile_node(proto: onnx.NodeProto, index: int, opsets: dict, visible: Scope) -> Node:
    name = proto.name or f"#{index}"
    domain = "" if proto.domain in ("", "ai.onnx") else proto.domain
    label = f"node {name!r} ({domain + '.' if domain else ''}{proto.op_type})"
    if domain not in opsets:
        raise UnsupportedOpError(f"{label}: domain {domain!r} is not in the model's opset_import")
    if domain and domain not in DOMAIN_OPSETS:
        raise UnsupportedOpError(f"{label}: domain {domain!r} is not supported")
    fn = resolve(domain, proto.op_type, opsets[domain])
    if fn is None:
        raise UnsupportedOpError(
            f"{label}: op {proto.op_type!r} of domain {domain or 'ai.onnx'!r} "
            f"(opset {opsets[domain]}) is not implemented by this runtime"
        )
    params = _parameters(fn)
    attrs, graph_attrs = {}, []
    declared = attribute_types(domain, proto.op_type, opsets[domain])
    if "_n_outputs" in params:  # ops whose result depends on how many outputs the node has
        attrs["_n_outputs"] = len(proto.output)
    for attr in proto.attribute:
        if attr.name in attrs and not attr.name.startswith("_"):
            raise InvalidModelError(f"{label}: attribute {attr.name!r} appears twice")
        p = None if attr.name.startswith("_") else params.get(attr.name)
        if p is None or p.kind != inspect.Parameter.KEYWORD_ONLY:
            allowed = [
                k for k, v in params.items() if v.kind == v.KEYWORD_ONLY and not k.startswith("_")
            ]
            raise UnsupportedOpError(
                f"{label}: attribute {attr.name!r} is not supported; supported: {allowed}"
            )
        expected = (declared or {}).get(attr.name)
        if expected is not None and attr.type != expected:
            # e.g. a graph where MaxPool takes ints: the kernel would fail on it as if buggy
            raise InvalidModelError(
                f"{label}: attribute {attr.name!r} has type {_attr_type_name(attr.type)}; "
                f"the op takes {_attr_type_name(expected)}"
            )
        attrs[attr.name] = _attribute(attr, label, opsets, visible)
        if attr.type in (AttributeProto.GRAPH, AttributeProto.GRAPHS):
            graph_attrs.append(attr.name)
    for key, p in params.items():
        if p.kind == inspect.Parameter.KEYWORD_ONLY and p.default is p.empty and key not in attrs:
            raise InvalidModelError(f"{label}: required attribute {key!r} is missing")
    positional = [p for p in params.values() if p.kind == p.POSITIONAL_OR_KEYWORD]
    varargs = any(p.kind == p.VAR_POSITIONAL for p in params.values())
    if not varargs and len(proto.input) > len(positional):
        raise InvalidModelError(
            f"{label}: has {len(proto.input)} inputs; the op takes at most {len(positional)}"
        )
    required = [p.name for p in positional if p.default is p.empty]
    given = list(proto.input) + [""] * max(0, len(required) - len(proto.input))
    absent = [name for name, value in zip(required, given, strict=False) if not value]
    if absent:
        raise InvalidModelError(
            f"{label}: required input(s) {absent} are missing (the node has inputs "
            f"{list(proto.input)})"
        )
    if not proto.output:
        raise InvalidModelError(f"{label}: has no outputs")
    return Node(
        name,
        proto.op_type,
        domain,
        tuple(proto.input),
        tuple(proto.output),
        fn,
        attrs,
        tuple(graph_attrs),
        input_types(domain, proto.op_type, opsets[domain]),
    )


def _attr_type_name(kind: int) -> str:
    try:
        return AttributeProto.AttributeType.Name(kind)
    except ValueError:  # a hostile file's number that no type has
        return f"<unknown type {kind}>"


@functools.cache
def _parameters(fn):
    return inspect.signature(fn).parameters


def _attribute(attr: AttributeProto, label: str, opsets: dict, visible: Scope):
    what = f"{label}: attribute {attr.name!r}"
    if attr.ref_attr_name:
        raise UnsupportedOpError(f"{what} refers to a function attribute; not supported")
    kind = attr.type
    if kind == AttributeProto.FLOAT:
        return float(attr.f)
    if kind == AttributeProto.INT:
        return int(attr.i)
    if kind == AttributeProto.STRING:
        return _utf8(attr.s, what)
    if kind == AttributeProto.FLOATS:
        return [float(v) for v in attr.floats]
    if kind == AttributeProto.INTS:
        return [int(v) for v in attr.ints]
    if kind == AttributeProto.STRINGS:
        return [_utf8(v, what) for v in attr.strings]
    if kind == AttributeProto.TENSOR:
        return tensor_to_array(attr.t, what)
    if kind == AttributeProto.TENSORS:
        return [tensor_to_array(t, what) for t in attr.tensors]
    if kind == AttributeProto.GRAPH:
        return compile_graph(attr.g, opsets, visible)
    if kind == AttributeProto.GRAPHS:
        return [compile_graph(g, opsets, visible) for g in attr.graphs]
    if kind == AttributeProto.TYPE_PROTO:  # Optional's type: only its presence matters
        return attr.tp
    raise UnsupportedOpError(f"{what} has attribute type {kind}, which is not supported")


def _utf8(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidModelError(f"{what} is not valid UTF-8") from None
