"""Squeeze-and-excitation blocks run as one matrix-vector chain.

MobileNetV3 (and EfficientNet, PP-LCNet) scale each channel of x by a gate computed from x's
channel means:

    m = GlobalAveragePool(x); h = Relu(Conv(m, W1, b1)); g = Conv(h, W2, b2);
    s = HardSigmoid(g) (or Sigmoid(g)); y = Mul(x, s)

Both Convs are 1x1 kernels on a 1x1 map: with v = m as (N, C), they are the products
h = max(v @ W1^T + b1, 0) and g = h @ W2^T + b2 (W as (M, C)), two small BLAS calls instead of
two Convs' general machinery; the gate is the same kernel as written, and y = x * s broadcast
over x's spatial axes, written into x when x is the fresh output of a Conv (or of a fused
hard-swish) that only this block reads.

Pattern: the Mul's operands are x and the gate's output; the gate reads the second Conv, that
Conv the first (its Relu perhaps fused, no other step), the first the GlobalAveragePool of x;
every intermediate value read once (no graph output); x may have other readers (PP-OCR's
residual blocks add it to y), and is then never overwritten.
The Convs: float, constant weights (M, C, 1, ..., 1) with constant or no bias, one group, no
pads, the first Conv's C the second's M (so s has x's channels), one dtype.

A run whose x is not a float array of the weights' dtype and rank with C channels runs the
nodes as written (the same kernels, checks and errors). The values differ from the written
order's by float rounding only (the same products and sums, BLAS's order).
"""

import functools
from collections import Counter
from collections.abc import Callable

import numpy as np

from runtime.onnx._fuse_pairs import fused_node
from runtime.onnx._graph import Node
from runtime.onnx.ops import activation, conv, elementwise, pool
from runtime.onnx.ops.elementwise import relu_in_place

_OP = "SqueezeExcite(fused)"
# The one switch of this fusion, read when a session is planned (off: the nodes run as
# written; tests and benchmarks compare the two).
ENABLED = True
_GATES = {"HardSigmoid": activation.HardSigmoid, "Sigmoid": activation.Sigmoid}


def fuse_squeeze_excite(nodes: list, known: dict, uses: Callable[[list], Counter]) -> list:
    """``nodes`` with each squeeze-and-excitation block run as one node at its Mul's place
    (``uses(nodes)``: how many times each value is read, graph outputs counted)."""
    if not ENABLED:
        return nodes
    counts = uses(nodes)
    producer = {out: i for i, n in enumerate(nodes) for out in n.outputs if out}
    replaced: dict[int, Node] = {}
    gone: set[int] = set()
    for i, node in enumerate(nodes):
        found = _match(node, nodes, producer, counts, known)
        if found is None or gone & set(found[1]):
            continue
        x, chain, operands, written = found
        # (x overwritten only when the block's pool and Mul are its one readers)
        fresh = counts[x] == 2 and x in producer and _fresh(nodes[producer[x]])
        fn = functools.partial(_squeeze_excite, _plan=operands, _written=written, _fresh=fresh)
        replaced[i] = fused_node(node, [nodes[j] for j in chain + [i]], _OP, (x,), fn)
        gone.update(chain)
    return [replaced.get(i, n) for i, n in enumerate(nodes) if i not in gone]


def _squeeze_excite(x, *, _plan, _written, _fresh):
    """The block's y; ``_fresh``: x is a new array of its producer's that only the block reads
    (it is then overwritten)."""
    w1, b1, relu, w2, b2, gate, gate_attrs = _plan
    if (
        type(x) is not np.ndarray
        or x.dtype != w1.dtype
        or x.ndim != _written[0]
        or x.shape[1] != w1.shape[1]
    ):
        return _as_written(x, _written)
    n, c = x.shape[:2]
    v = _channel_means(x)
    h = np.matmul(v, w1.T)
    if b1 is not None:
        h += b1
    if relu:
        h = relu_in_place(h)
    g = np.matmul(h, w2.T)
    if b2 is not None:
        g += b2
    s = gate(g, **gate_attrs).reshape((n, c) + (1,) * (x.ndim - 2))
    if _fresh and x.flags.writeable:
        return np.multiply(x, s, out=x)
    return np.multiply(x, s)


def _channel_means(x):
    """x's means over its spatial axes, (N, C): each sum a BLAS product with a vector of ones
    in x's own layout (channels-last memory, as a Conv leaves it, or NCHW), a few times faster
    than numpy's reduction over the strided spatial axes of few channels; else the pool's."""
    n, c = x.shape[:2]
    size = x.size // max(n * c, 1)
    if not size or not n or not c:
        return pool.GlobalAveragePool(x).reshape(n, c)
    ones = np.ones(size, x.dtype)
    last = x.transpose(0, *range(2, x.ndim), 1)
    if last.flags.c_contiguous:
        sums = np.matmul(ones, last.reshape(n, size, c))
    elif x.flags.c_contiguous:
        sums = np.matmul(x.reshape(n, c, size), ones)
    else:
        return pool.GlobalAveragePool(x).reshape(n, c)
    return np.divide(sums, x.dtype.type(size), out=sums)


def _as_written(x, written):
    """The block's kernels in order: pool, Conv, Conv, gate, then the Mul of x and the gate."""
    _, steps, x_first = written
    value = x
    for fn, consts, attrs in steps:
        value = fn(value, *consts, **attrs)
    return elementwise.Mul(x, value) if x_first else elementwise.Mul(value, x)


def _match(mul: Node, nodes, producer, counts, known):
    """(x, chain indices [pool, conv1, conv2, gate], the matrices, the block as written) when
    ``mul`` ends a squeeze-and-excitation block, else None."""
    if not _plain(mul, "Mul", elementwise.Mul) or len(mul.inputs) != 2:
        return None
    for x, s in (mul.inputs, mul.inputs[::-1]):
        if counts[x] < 2 or counts[s] != 1 or x in known or s not in producer:
            continue
        k = producer[s]
        gate = nodes[k]
        kernel = _GATES.get(gate.op_type)
        if kernel is None or not _plain(gate, gate.op_type, kernel) or len(gate.inputs) != 1:
            continue
        second = _producer(gate.inputs[0], nodes, producer, counts)
        first = None if second is None else _producer(second[1].inputs[0], nodes, producer, counts)
        gap = None if first is None else _producer(first[1].inputs[0], nodes, producer, counts)
        if gap is None or not _plain(gap[1], "GlobalAveragePool", pool.GlobalAveragePool):
            continue
        if gap[1].inputs != (x,):
            continue
        one = _pointwise(first[1], known, {"_relu"})
        two = _pointwise(second[1], known, set())
        if one is None or two is None:
            continue
        (w1, b1), (w2, b2) = one, two
        if w1.dtype != w2.dtype or w2.shape[1] != w1.shape[0] or w2.shape[0] != w1.shape[1]:
            continue
        relu = bool(getattr(first[1].fn, "keywords", {}).get("_relu"))
        operands = (
            w1.reshape(w1.shape[:2]),
            b1,
            relu,
            w2.reshape(w2.shape[:2]),
            b2,
            kernel,
            dict(gate.attrs),
        )
        steps = [(gap[1].fn, (), {})]
        for node in (first[1], second[1]):
            steps.append((node.fn, tuple(known[name] for name in node.inputs[1:]), node.attrs))
        steps.append((gate.fn, (), dict(gate.attrs)))
        written = (w1.ndim, steps, mul.inputs[0] == x)
        return x, [gap[0], first[0], second[0], k], operands, written
    return None


def _producer(name, nodes, producer, counts):
    """(index, node) making ``name`` when only one node reads it, else None."""
    j = producer.get(name)
    if j is None or counts[name] != 1:
        return None
    return j, nodes[j]


def _pointwise(node: Node, known: dict, keywords: set):
    """(W, b or None) of a float 1x1 Conv of constant weights and bias, one group, no pads
    (its fused keywords within ``keywords``), else None."""
    if node.op_type != "Conv" or node.domain != "" or node.graph_attrs or len(node.outputs) != 1:
        return None
    fn = node.fn
    if getattr(fn, "func", fn) is not conv.Conv or set(getattr(fn, "keywords", {})) - keywords:
        return None
    if not 2 <= len(node.inputs) <= 3:
        return None
    w = known.get(node.inputs[1])
    has_bias = len(node.inputs) == 3 and bool(node.inputs[2])
    b = known.get(node.inputs[2]) if has_bias else None
    if w is None or w.dtype not in (np.float32, np.float64) or w.ndim < 3:
        return None
    if set(w.shape[2:]) != {1} or (has_bias and (b is None or b.shape != w.shape[:1])):
        return None
    if has_bias and b.dtype != w.dtype:
        return None
    attrs = node.attrs
    if attrs.get("group", 1) != 1 or any(attrs.get("pads") or ()):
        return None
    if attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        return None
    kernel_shape = attrs.get("kernel_shape")
    if kernel_shape is not None and tuple(kernel_shape) != w.shape[2:]:
        return None
    return w, b


def _plain(node: Node, op_type: str, kernel) -> bool:
    return (
        node.op_type == op_type
        and node.domain == ""
        and not node.graph_attrs
        and len(node.outputs) == 1
        and node.fn is kernel
    )


def _fresh(node: Node) -> bool:
    """Whether ``node``'s output is always a new array of its own: a Conv (its steps applied
    in place) or a fused hard-swish."""
    from runtime.onnx import _fuse_hard_swish  # (a sibling fusion's kernel)

    fn = getattr(node.fn, "func", node.fn)
    return (node.op_type == "Conv" and fn is conv.Conv) or fn is _fuse_hard_swish._hard_swish
