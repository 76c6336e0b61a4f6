"""A layer normalization written as primitives, run as one step.

Exporters without ``LayerNormalization`` (PyTorch before opset 17, Keras's tf2onnx) write it
as nine nodes, over one axis set ``a`` with keepdims:

    m = ReduceMean(x, a);  d = Sub(x, m);  p = Pow(d, 2) (or Mul(d, d));
    v = ReduceMean(p, a);  s = Sqrt(Add(v, eps));  n = Div(d, s);
    [y = Add(Mul(n, gamma), beta)]     (either operand order; gamma, beta optional)
    [Relu(y)]                          (when nothing else reads y)

with ``eps``, ``gamma``, ``beta`` and the exponent constant. The fused step computes the same
float operations in the same order (each ReduceMean a pairwise sum then one division by the
count, as the ReduceMean kernel does; ``d * d`` as Pow by 2 does), in place on ``d``: the same
bits, a fraction of the per-node cost. It takes that path only for a float32/float64 ``x``
whose constants have its dtype and broadcast into it without growing it; any other input runs
the nine nodes as written (through the evaluator: same checks, errors and budget).
"""

import dataclasses
import functools
import math

import numpy as np

from runtime.onnx._evaluator import run_graph
from runtime.onnx._fuse_pairs import fused_node
from runtime.onnx._graph import Graph, Node
from runtime.onnx.ops import elementwise


def fuse_layer_norms(nodes: list, known: dict, uses) -> list:
    """``nodes`` with each layer-norm chain replaced by one node at its last node's place."""
    producer = {out: i for i, n in enumerate(nodes) for out in n.outputs if out}
    consumers: dict[str, list[int]] = {}
    for i, n in enumerate(nodes):
        for name in n.inputs:
            if name:
                consumers.setdefault(name, []).append(i)
    fused: dict[int, Node] = {}
    gone: set[int] = set()
    for i in range(len(nodes)):
        chain = _match(i, nodes, producer, consumers, known, uses)
        if chain is None or gone & set(chain.indices):
            continue
        fused[chain.indices[-1]] = _fused_node(nodes, chain, known)
        gone.update(chain.indices[:-1])
    return [fused.get(i, n) for i, n in enumerate(nodes) if i not in gone]


@dataclasses.dataclass
class _Chain:
    indices: list  # the nodes, in graph order, the last one's output being the result
    x: str
    axes: tuple
    two: str
    eps: str
    gamma: str | None
    beta: str | None
    relu: bool = False  # a Relu, the only reader of the result, is part of the chain


def _op(node: Node, op_type: str, n_inputs: int) -> bool:
    return (
        node.op_type == op_type
        and node.domain == ""
        and len(node.outputs) == 1
        and len([i for i in node.inputs if i]) == n_inputs
        and not node.graph_attrs
    )


def _reduce_axes(node: Node, known: dict):
    """The axes of a keepdims ReduceMean (attribute or constant input), or None."""
    if node.op_type != "ReduceMean" or node.domain != "" or len(node.outputs) != 1:
        return None
    attrs = node.attrs
    if not attrs.get("keepdims", 1) or set(attrs) - {"axes", "keepdims", "noop_with_empty_axes"}:
        return None
    inputs = node.inputs
    if len(inputs) == 2 and inputs[1]:
        axes = known.get(inputs[1])
        if axes is None or axes.dtype.kind != "i" or axes.ndim != 1:
            return None
        axes = [int(a) for a in axes]
    elif len(inputs) == 1:
        axes = attrs.get("axes")
    else:
        return None
    if not axes:
        return None  # all axes, or none at all with noop_with_empty_axes: not the pattern
    return tuple(axes)


def _const_operand(node: Node, name: str, known: dict) -> str | None:
    """The constant other input of a two-input commutative ``node`` one of whose inputs is
    ``name``, or None."""
    a, b = node.inputs
    other = b if a == name else a if b == name else None
    return other if other in known and other != name else None


def _only_user(name: str, consumers: dict, uses, nodes: list, op_types) -> int | None:
    users = consumers.get(name, [])
    if uses[name] != 1 or len(users) != 1:
        return None
    j = users[0]
    return j if nodes[j].op_type in op_types else None


def _match(i, nodes, producer, consumers, known, uses) -> _Chain | None:
    mean = nodes[i]
    axes = _reduce_axes(mean, known)
    if axes is None:
        return None
    x, m = mean.inputs[0], mean.outputs[0]
    j = _only_user(m, consumers, uses, nodes, ("Sub",))
    if j is None or not _op(nodes[j], "Sub", 2) or nodes[j].inputs != (x, m):
        return None
    sub = nodes[j]
    d = sub.outputs[0]
    d_users = sorted(set(consumers.get(d, [])))
    if uses[d] != len(consumers.get(d, [])) or len(d_users) != 2:
        return None  # (read by exactly two nodes, and by nothing else)
    square = nodes[d_users[0]]
    if _op(square, "Pow", 2) and square.inputs[0] == d and square.inputs[1] in known:
        two = square.inputs[1]
        exponent = known[two]
        if exponent.size != 1 or exponent.dtype.kind not in "fiu" or exponent.item() != 2:
            return None
    elif _op(square, "Mul", 2) and square.inputs == (d, d):
        two = None
    else:
        return None
    p = square.outputs[0]
    k = _only_user(p, consumers, uses, nodes, ("ReduceMean",))
    if k is None or _reduce_axes(nodes[k], known) != axes:
        return None
    v = nodes[k].outputs[0]
    add_index = _only_user(v, consumers, uses, nodes, ("Add",))
    if add_index is None or not _op(nodes[add_index], "Add", 2):
        return None
    eps = _const_operand(nodes[add_index], v, known)
    e = nodes[add_index].outputs[0]
    sqrt_index = _only_user(e, consumers, uses, nodes, ("Sqrt",))
    if eps is None or sqrt_index is None or not _op(nodes[sqrt_index], "Sqrt", 1):
        return None
    s = nodes[sqrt_index].outputs[0]
    div_index = _only_user(s, consumers, uses, nodes, ("Div",))
    if div_index is None or not _op(nodes[div_index], "Div", 2) or d_users[1] != div_index:
        return None
    if nodes[div_index].inputs != (d, s):
        return None
    indices = [i, j, d_users[0], k, add_index, sqrt_index, div_index]
    chain = _Chain(indices, x, axes, two, eps, None, None)
    out = nodes[div_index].outputs[0]
    # then a constant scale and, after it, a constant shift, when they are there
    for op_type, field in (("Mul", "gamma"), ("Add", "beta")):
        index = _only_user(out, consumers, uses, nodes, (op_type,))
        if index is None or not _op(nodes[index], op_type, 2):
            break
        value = _const_operand(nodes[index], out, known)
        if value is None:
            break
        setattr(chain, field, value)
        chain.indices.append(index)
        out = nodes[index].outputs[0]
    relu = _only_user(out, consumers, uses, nodes, ("Relu",))
    if relu is not None and _op(nodes[relu], "Relu", 1):
        chain.relu = True
        chain.indices.append(relu)
    if chain.indices != sorted(chain.indices):
        return None  # (toposorted nodes: the chain's order; anything else is left alone)
    return chain


def _fused_node(nodes: list, chain: _Chain, known: dict) -> Node:
    members = [nodes[i] for i in chain.indices]
    last = members[-1]
    constants = [c for c in (chain.two, chain.eps, chain.gamma, chain.beta) if c]
    inputs = tuple(name for name in (chain.x, chain.eps, chain.gamma, chain.beta) if name)
    # The nodes as written, for inputs the fused step does not take.
    originals = Graph(
        f"{last.name} (layer norm as written)",
        [],
        [],
        {name: known[name] for name in constants},
        members,
    )
    fn = functools.partial(
        _layer_norm,
        _axes=chain.axes,
        _originals=originals,
        _x=chain.x,
        _out=last.outputs[0],
        _memo=[None],
        _relu=chain.relu,
    )
    op_type = "LayerNorm(" + ",".join(n.op_type for n in members) + ")"
    return fused_node(last, members, op_type, inputs, fn)


def _layer_norm(
    x, eps, gamma=None, beta=None, *, _axes, _originals, _x, _out, _memo=None, _relu=False
):
    # ``_check``'s result depends on x's shape, dtype and layout and on the constants alone:
    # the last combination that passed it (holding the very constant arrays, so none of them
    # can be another array at a reused address) skips it.
    if _memo is not None and type(x) is np.ndarray:
        seen = _memo[0]
        if (
            seen is not None
            and eps is seen.eps
            and gamma is seen.gamma
            and beta is seen.beta
            and x.shape == seen.shape
            and x.dtype is seen.dtype
            and x.flags.c_contiguous
        ):
            return seen.compute(x, True)
    checked = _check(x, eps, gamma, beta, _axes)
    if checked is None:
        return run_graph(_originals, {_x: x})[_out]  # (its Relu, if any, included)
    prepared = _Prepared(x, *checked, eps, gamma, beta, _relu)
    contiguous = x.flags.c_contiguous
    if _memo is not None and contiguous:
        _memo[0] = prepared
    return prepared.compute(x, contiguous)


def _check(x, eps, gamma, beta, axes):
    """(the normalized axes, the count of one group) where the fused step applies, else None."""
    if type(x) is not np.ndarray or x.dtype not in (np.float32, np.float64) or not x.size:
        return None
    rank = x.ndim
    if any(not -rank <= a < rank for a in axes):
        return None  # (the ReduceMean as written says why)
    axes = tuple({a % rank for a in axes})
    shape = x.shape
    for c in (eps, gamma, beta):
        if c is None:
            continue
        if c.dtype != x.dtype or not (
            c.shape == shape
            or (c.size == 1 and c.ndim <= rank)
            or (c.ndim < rank and c.shape == shape[rank - c.ndim :])
        ):
            return None
    if eps.size != 1 or eps.ndim > rank:
        return None
    return axes, math.prod(shape[a] for a in axes)


_ZERO = {np.dtype(t): np.zeros((), t) for t in (np.float32, np.float64)}


class _Prepared:
    """The fused step for inputs of one shape and dtype (and these constants), with what it
    derives from them made once: the scale and shift as arrays of x's shape (a broadcast
    operand costs more than the arithmetic on a few hundred values), eps as a float."""

    def __init__(self, x, axes, n, eps, gamma, beta, relu):
        self.shape, self.dtype, self.eps, self.gamma, self.beta = x.shape, x.dtype, eps, gamma, beta
        self.axes, self.n, self.relu = axes, n, relu
        self.one_group = n == x.size
        self.scale = _as_shape(gamma, x.shape)
        self.shift = _as_shape(beta, x.shape)
        self.eps_value = float(eps.reshape(-1)[0])
        self.kind = x.dtype.type
        # 1/n per element: the mean as one dot product (BLAS) instead of a reduction's setup
        self.inv_n = np.full(n, 1 / n, dtype=x.dtype) if self.one_group else None

    def compute(self, x, contiguous: bool, centered: bool = False):
        """The step on ``x`` (of the planned shape and dtype; ``contiguous``: C-contiguous),
        as a fresh array. ``centered``: x is a fresh array of this run whose groups' means are
        0 already (a product of centered weights), normalized in place."""
        if self.one_group and contiguous:
            # All of x one group (a [1, N] row: a small head's hidden layer): its mean and
            # variance are scalars, taken as dot products; d is this run's fresh array.
            flat = x.reshape(-1)
            d = x if centered else x - flat.dot(self.inv_n)
            flat = d.reshape(-1)
            v = float(flat.dot(flat)) / self.n + self.eps_value
            d /= self.kind(math.sqrt(v)) if v >= 0 else self.kind(np.nan)  # (NaN in, out)
        else:
            # (0-d arrays and fresh results: with arrays of a few hundred elements, numpy
            # scalars and ``out=`` cost more than the arithmetic)
            axes = self.axes
            count = np.array(self.n, dtype=x.dtype)
            d = x if centered else x - np.add.reduce(x, axes, None, None, True) / count
            d /= np.sqrt(np.add.reduce(d * d, axes, None, None, True) / count + self.eps)
        if self.scale is not None:
            d *= self.scale
        if self.shift is not None:
            d += self.shift
        if self.relu:
            if d.size < elementwise._FILL_FROM:
                return np.maximum(d, _ZERO[d.dtype], out=d)
            return elementwise.relu_in_place(d)
        return d


def chain_step(fn, constants: tuple, centered: bool = False):
    """The fused layer norm node function ``fn`` as a step of another planned node, with its
    constant inputs bound: ``step(y)`` for a fresh, C-contiguous ``y`` (a product's result).
    What the step derives from y's shape and dtype is made once per shape (a few: the batch
    sizes the session sees), held by the step. ``centered``: y's groups have mean 0 already
    (the layer norm of a centered y is the same; its mean is not taken again)."""
    keywords = fn.keywords
    axes, relu = keywords["_axes"], keywords.get("_relu", False)
    eps, gamma, beta = (*constants, None, None)[:3]
    prepared: dict = {}

    def step(y):
        p = prepared.get(y.shape)
        if p is None or p.dtype is not y.dtype:
            checked = _check(y, eps, gamma, beta, axes)
            if checked is None:
                return fn(y, *constants)
            p = _Prepared(y, *checked, eps, gamma, beta, relu)
            if len(prepared) < _PREPARED_SHAPES:
                prepared[y.shape] = p
        return p.compute(y, True, centered)

    return step


_PREPARED_SHAPES = 8


def _as_shape(c, shape):
    """``c`` (which broadcasts into ``shape`` without growing it) as an array of ``shape``:
    a view when it has as many elements, else ``c``."""
    if c is None or c.size != math.prod(shape):
        return c
    return c.reshape(shape)
