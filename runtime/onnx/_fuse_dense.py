"""Dense layers of constant weights, planned once and run as one node per chain.

A small head (openWakeWord's wake-word models: Flatten -> Gemm -> [LayerNorm] -> Relu ->
Gemm -> ... -> Sigmoid on one row) spends more time in the run's loop, each Gemm's checks,
transposes and broadcast tests than in its products. A chain of nodes, each the only reader of
the one before it, made of

    [Flatten(axis=1)] -> Gemm (-> ...) -> Gemm         (float32/float64, constant B and C)

where after each Gemm may come its fused Relu (``_plan._fuse_relus``) or Sigmoid
(``_fuse_gemm_sigmoid``), a fused layer norm over the last axis (``_fuse_layer_norm``, with
its Relu; right after a Gemm, the Gemm's weights are centered so that its product is the
normalized difference: see ``_centered``), and, last, a Sigmoid or last-axis Softmax, runs as
one node. Each Gemm is bound at
load to:

- ``W``: B as the [K, N] operand of ``np.dot(A, W)``, its [N, K] rows contiguous for a large
  K and its [K, N] columns for a small one (a copy, charged to the loading budget, where B's
  own layout is the other one);
- ``bias``: beta * C as one [1, N] row (a C of one value, [N], [1, 1] or [1, N]; a C of
  another shape is not planned);

and runs Y = alpha * (A @ W) + bias, then its activations in place on that fresh result: the
Gemm's and the activation kernels' float operations, on the chosen operand (so within float
tolerance, not the same bits: BLAS sums another layout in another order).

The node takes the chain's input and every constant the chain reads. A run takes the planned
path only when each constant is the very array planned (a subgraph's outer value is looked up
at run time), the input is an array of the weights' dtype and of the rank planned with the
first Gemm's K columns, and no Gemm's result is larger than one of its operands (else the Gemm
kernel's size check applies); intermediates are then no larger than what the run holds
already. Any other run goes through the nodes as written (the run's loop: the same checks,
errors and budget).

Not planned: a Gemm with transA, with B or C computed at run time, of other dtypes, a C of
several rows, a value of the chain read by anything else (a second reader, a graph output).
"""

import dataclasses
import functools
import math
import operator
from collections import Counter
from collections.abc import Callable

import numpy as np

from runtime.onnx._evaluator import run_graph
from runtime.onnx._fuse_gemm_sigmoid import _gemm_sigmoid
from runtime.onnx._fuse_layer_norm import _layer_norm, chain_step
from runtime.onnx._fuse_pairs import fused_node
from runtime.onnx._graph import Graph, Node
from runtime.onnx.ops import activation, elementwise, shape

_FLOATS = (np.float32, np.float64)
_SOFTMAX = (activation.Softmax, activation.Softmax_1)
_ZERO = {np.dtype(t): np.zeros((), t) for t in _FLOATS}


def plan_dense(nodes: list, known: dict, uses: Callable[[list], Counter], hold) -> list:
    """``nodes`` with each chain of dense layers as one node, at its last member's place.

    ``known``: the constants visible to the graph; ``uses(nodes)``: how many times each value
    is read (graph outputs counted); ``hold(nbytes, what)``: charges a weight copy to the
    loading budget, False when it does not fit."""
    if not any(n.op_type == "Gemm" for n in nodes):
        return nodes
    counts = uses(nodes)
    readers: dict[str, list[int]] = {}
    for i, n in enumerate(nodes):
        for name in n.inputs:
            if name:
                readers.setdefault(name, []).append(i)

    def sole_reader(i: int) -> int | None:
        """The one later node reading node i's one output as its first input, or None."""
        if len(nodes[i].outputs) != 1:
            return None
        out = nodes[i].outputs[0]
        users = readers.get(out, [])
        if counts[out] != 1 or len(users) != 1 or users[0] <= i:
            return None
        j = users[0]
        return j if nodes[j].inputs[0] == out and out not in nodes[j].inputs[1:] else None

    fused: dict[int, Node] = {}
    gone: set[int] = set()
    for i, node in enumerate(nodes):
        if i in gone or i in fused:
            continue
        members = [i]
        if _is_flatten(node):
            j = sole_reader(i)
            if j is None or _gemm_steps(nodes[j]) is None:
                continue
            members.append(j)
        layer = _dense_layer(nodes[members[-1]], known, hold)
        if layer is None:
            continue
        steps = layer
        dtype = layer[0].w.dtype
        while (j := sole_reader(members[-1])) is not None:
            more = _next_steps(nodes[j], known, hold, dtype, steps)
            if more is None:
                break
            members.append(j)
            steps += more
        fused[members[-1]] = _chain_node([nodes[k] for k in members], steps, known)
        gone.update(members[:-1])
    return [fused.get(i, n) for i, n in enumerate(nodes) if i not in gone]


def _is_flatten(node: Node) -> bool:
    return (
        node.op_type == "Flatten"
        and node.domain == ""
        and node.fn is shape.Flatten
        and node.attrs.get("axis", 1) == 1
        and len(node.inputs) == 1
    )


def _gemm_steps(node: Node) -> tuple | None:
    """The activations a Gemm node already applies (its fn: the Gemm kernel, or it with a
    fused Relu or Sigmoid), or None when ``node`` is not such a Gemm."""
    if node.op_type != "Gemm" or node.domain != "" or len(node.outputs) != 1:
        return None
    fn = node.fn
    if fn is elementwise.Gemm:
        return ()
    if not isinstance(fn, functools.partial) or fn.args:
        return None
    if fn.func is elementwise.Gemm and fn.keywords == {"_relu": True}:
        return (_relu,)
    if fn.func is _gemm_sigmoid and fn.keywords == {"_gemm": elementwise.Gemm}:
        return (_sigmoid,)
    return None


@dataclasses.dataclass(frozen=True)
class _Product:
    """One Gemm's planned product: y = alpha * (a @ w) + bias."""

    w: np.ndarray  # [K, N]
    bias: np.ndarray | None  # [1, N]
    alpha: np.ndarray | None  # 0-d; None for 1

    def __call__(self, a):
        y = a.dot(self.w)  # (the method: np.dot adds a Python dispatch step)
        alpha, bias = self.alpha, self.bias
        if y.size == 1:  # (numpy's in-place loop over one element costs twice a new one)
            if alpha is not None:
                y = y * alpha
            return y if bias is None else y + bias
        if alpha is not None:
            y *= alpha
        if bias is not None:
            y += bias
        return y


def _dense_layer(node: Node, known: dict, hold, follows: np.ndarray | None = None) -> list | None:
    """[the planned product, then the Gemm's fused activations], or None. ``follows``: the
    weights of the product whose result this Gemm reads (its dtype and N are this one's
    dtype and K)."""
    activations = _gemm_steps(node)
    attrs = node.attrs
    if activations is None or set(attrs) - {"alpha", "beta", "transA", "transB"}:
        return None
    names = list(node.inputs)
    while names and not names[-1]:
        names.pop()
    if attrs.get("transA", 0) or len(names) not in (2, 3) or not all(names):
        return None
    b = known.get(names[1])
    c = known.get(names[2]) if len(names) == 3 else None
    if type(b) is not np.ndarray or b.dtype not in _FLOATS or b.ndim != 2 or not b.size:
        return None
    if len(names) == 3 and (type(c) is not np.ndarray or c.dtype != b.dtype):
        return None
    trans_b = attrs.get("transB", 0)
    k, n = b.shape[::-1] if trans_b else b.shape
    if follows is not None and (b.dtype != follows.dtype or k != follows.shape[1]):
        return None
    bias = None
    if c is not None:
        if c.ndim > 2 or (c.ndim == 2 and c.shape[0] != 1) or c.size not in (1, n):
            return None
        beta = attrs.get("beta", 1.0)
        scaled = c if beta == 1.0 else c * np.asarray(beta, dtype=c.dtype)
        bias = np.array(np.broadcast_to(scaled.reshape(-1), (n,))).reshape(1, n)
        bias.flags.writeable = False
    alpha = attrs.get("alpha", 1.0)
    alpha = None if alpha == 1.0 else np.asarray(alpha, dtype=b.dtype)
    w = _operand(b, trans_b, k, hold, node.describe)
    return [_Product(w, bias, alpha), *activations]


# From this many inputs K, the product of one row runs faster with B's [N, K] rows contiguous
# (BLAS's gemv then takes N dot products over contiguous memory); below it, with [K, N]
# contiguous (N columns updated at once): measured with OpenBLAS on AVX2, one thread.
_ROWS_FROM_K = 640


def _operand(b: np.ndarray, trans_b, k: int, hold, what) -> np.ndarray:
    """B as the [K, N] operand of ``np.dot(A, W)``, in the layout chosen for K; a copy is
    made only when the loading budget holds it (else B's own layout, transposed as needed)."""
    rows = k >= _ROWS_FROM_K
    w = b.T if trans_b else b
    if (rows and w.T.flags.c_contiguous) or (not rows and w.flags.c_contiguous):
        return w
    if not hold(b.nbytes, what):
        return w
    w = np.ascontiguousarray(w.T).T if rows else np.ascontiguousarray(w)
    w.flags.writeable = False
    return w


def _next_steps(node: Node, known: dict, hold, dtype, steps: list) -> list | None:
    """The steps of ``node`` as the next member of a chain (``steps`` so far), or None."""
    if steps[-1] in (_sigmoid, _softmax):
        return None  # (a chain ends with its Sigmoid or Softmax)
    last = next(s for s in reversed(steps) if isinstance(s, _Product))
    layer = _dense_layer(node, known, hold, last.w)
    if layer is not None:
        return layer
    if node.op_type.startswith("LayerNorm(") and isinstance(node.fn, functools.partial):
        fn = node.fn
        if fn.func is not _layer_norm or fn.args or fn.keywords["_axes"] not in ((-1,), (1,)):
            return None
        constants = [known.get(name) for name in node.inputs[1:]]
        if any(type(c) is not np.ndarray or c.dtype != dtype for c in constants):
            return None
        centered = _centered(steps[-1], hold, node.describe)
        if centered is not None:
            steps[-1] = centered
        return [chain_step(fn, tuple(constants), centered is not None)]
    final = _final_step(node)
    return None if final is None else [final]


def _centered(step, hold, what) -> _Product | None:
    """The product ``step`` with its columns' mean taken out of W and bias (means summed in
    float64), or None where ``step`` is not a product or the loading budget does not hold
    the copy. A layer norm over the last axis subtracts each row's mean, which is linear in
    the row: mean(alpha * a @ W + bias) = alpha * a @ mean(W) + mean(bias), so the centered
    product gives y - mean(y) without that pass (and without its cancellation).
    """
    if not isinstance(step, _Product) or not hold(step.w.nbytes, what):
        return None
    w = step.w
    mean = np.add.reduce(w, axis=1, dtype=np.float64) / w.shape[1]
    centered = w - mean.astype(w.dtype).reshape(-1, 1)  # (no float64 copy of W)
    if not w.flags.c_contiguous and not centered.T.flags.c_contiguous:  # (rows layout kept)
        centered = np.ascontiguousarray(centered.T).T
    centered.flags.writeable = False
    bias = step.bias
    if bias is not None:
        wide = bias.astype(np.float64)
        bias = (wide - wide.mean()).astype(step.bias.dtype)
        bias.flags.writeable = False
    return _Product(centered, bias, step.alpha)


def _final_step(node: Node):
    """The step of a Sigmoid or last-axis Softmax node, or None."""
    if node.domain != "" or len(node.inputs) != 1 or len(node.outputs) != 1:
        return None
    if node.op_type == "Sigmoid" and node.fn is activation.Sigmoid and not node.attrs:
        return _sigmoid
    if node.op_type == "Softmax" and node.fn in _SOFTMAX and set(node.attrs) <= {"axis"}:
        default = 1 if node.fn is activation.Softmax_1 else -1
        if node.attrs.get("axis", default) in (1, -1):  # (of a 2-D result: its last axis)
            return _softmax
    return None


def _chain_node(members: list, steps: list, known: dict) -> Node:
    inner = {out for m in members for out in m.outputs}
    x = members[0].inputs[0]
    names = []
    for m in members:
        for name in m.inputs:
            if name and name not in inner and name != x and name not in names:
                names.append(name)
    constants = tuple(known[name] for name in names)
    # The nodes as written, for the runs the planned steps do not take.
    originals = Graph(f"{members[-1].name} (dense layers as written)", [], [], {}, members)
    products = [s for s in steps if isinstance(s, _Product)]
    first = products[0].w
    flatten = members[0].op_type == "Flatten"
    # Rows up to which no product is larger than one of its operands (M x N within M x K
    # or K x N), as the Gemm kernel requires before it checks the size.
    rows = min((p.w.shape[0] for p in products if p.w.shape[1] > p.w.shape[0]), default=None)
    fn = functools.partial(
        _dense_chain,
        _plan=_Chain(
            constants,
            np.dtype(first.dtype.type),  # (the canonical object: compared by identity)
            None if flatten else 2,
            first.shape[0],
            rows,
            tuple(steps),
            originals,
            (x, *names),
            members[-1].outputs[0],
        ),
    )
    kinds = [m.op_type.split("(")[0] for m in members]  # (a fused layer norm: "LayerNorm")
    single = kinds in (["Gemm"], ["Gemm", "Sigmoid"], ["Gemm", "Softmax"])
    op_type = "Gemm" if single else "Dense(" + ",".join(kinds) + ")"
    return fused_node(members[-1], members, op_type, (x, *names), fn)


@dataclasses.dataclass(frozen=True)
class _Chain:
    constants: tuple  # the planned arrays, compared by identity at each run
    dtype: np.dtype
    ndim: int | None  # the input's rank; None: any rank >= 2, flattened at axis 1
    k: int  # the first product's inputs
    rows: int | None  # the most rows the planned path takes; None: any
    steps: tuple
    originals: Graph
    names: tuple  # the node's inputs
    out: str


def _dense_chain(x, *constants, _plan: _Chain):
    p = _plan
    if (
        type(x) is np.ndarray
        and x.dtype is p.dtype  # (canonical dtypes are one object; any other: as written)
        and all(map(operator.is_, constants, p.constants))
        and len(constants) == len(p.constants)
    ):
        a = _rows(x, p.ndim)
        if a is not None and a.shape[1] == p.k and (p.rows is None or a.shape[0] <= p.rows):
            for step in p.steps:
                a = step(a)
            return a
    return run_graph(p.originals, dict(zip(p.names, (x, *constants), strict=True)))[p.out]


def _rows(x: np.ndarray, ndim: int | None) -> np.ndarray | None:
    """``x`` as the first product's [M, K] operand (Flatten at axis 1 when ``ndim`` is None),
    or None."""
    if ndim is not None:
        return x if x.ndim == ndim else None
    if x.ndim < 2 or not x.shape[0]:
        return None
    return x.reshape(x.shape[0], x.size // x.shape[0])  # (a view where x is contiguous)


def _relu(y):
    if y.size == 1:
        return np.maximum(y, _ZERO[y.dtype])
    if y.size < elementwise._FILL_FROM:  # (below it, numpy's one-value loop costs least)
        return np.maximum(y, _ZERO[y.dtype], out=y)
    return elementwise.relu_in_place(y)


def _sigmoid(y):
    if y.size != 1:
        return activation.Sigmoid(y)
    # One value (a score): the Sigmoid kernel's stable formula (exp never sees a positive
    # argument) on a Python float, rounded once to y's dtype: within an ulp of the kernel's.
    x = y.item(0)
    e = math.exp(-abs(x))
    y.fill(1 / (1 + e) if x >= 0 else e / (1 + e))
    return y


def _softmax(y):
    # activation.Softmax's steps over the last axis, in place on the fresh result.
    y -= np.maximum.reduce(y, axis=-1, keepdims=True)
    np.exp(y, out=y)
    y /= np.add.reduce(y, axis=-1, keepdims=True)
    return y
