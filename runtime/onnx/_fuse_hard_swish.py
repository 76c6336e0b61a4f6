"""Hard-swish written out as several nodes, run as one step (applied by a Conv in place).

MobileNetV3 networks apply hard-swish, h(x) = x * relu6(x + 3) / 6, after most convolutions;
files from exporters without a HardSwish op (PaddlePaddle's, TF's) write it out:

    A: t = Add(x, 3); c = Clip(t, 0, 6); m = Mul(x, c); y = Div(m, 6)   (or Mul(m, 1/6))
    B: s = HardSigmoid(x, alpha=1/6, beta=1/2); y = Mul(x, s)

Pattern: the chain's last node, its intermediate values each read once (by the next node
only, none a graph output), x read by the chain alone (twice), the constants one value each of
one float dtype, with those values (3, 0, 6, 6 or the float 1/6; alpha within 1e-7 of 1/6).
Rewrite: one node at the last node's place computing the same ufuncs in the same order on the
same values, so the same bits, with one temporary instead of one array per node: t = x + 3,
clip(t, 0, 6) in place, t = x * t, t = t / 6 (form B: the HardSigmoid kernel, then x * s).
When x is the output of a float Conv of constant weights (nothing else reading it), the step
is the Conv's own (``conv.Conv``'s ``_after``), and it writes into the Conv's fresh output.

The ``HardSwish`` op itself (opset 14: PyTorch's exports, this project's compiler) of a Conv's
output that nothing else reads runs as the Conv's last step too: its own kernel, one node
fewer in the run's loop.

A run whose x is not a float array of the constants' dtype runs the nodes as written (the same
kernels, checks and errors).
"""

import dataclasses
import functools
from collections import Counter
from collections.abc import Callable

import numpy as np

from runtime.onnx._fuse_pairs import fused_node
from runtime.onnx._graph import Node
from runtime.onnx.ops import activation, conv, elementwise

_OP = "HardSwish(fused)"
# The one switch of this fusion, read when a session is planned (off: the nodes run as
# written; tests and benchmarks compare the two).
ENABLED = True


def fuse_hard_swish(nodes: list, known: dict, uses: Callable[[list], Counter]) -> list:
    """``nodes`` with each written-out hard-swish run as one step (``uses(nodes)``: how many
    times each value is read, graph outputs counted)."""
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
        x, chain, step, written = found
        dtype = step[-1]
        source = producer.get(x)
        if source is not None and source not in gone and _conv_of(nodes[source], known, dtype):
            if not chain and counts[x] != 1:
                continue  # (a HardSwish op of a Conv output that something else reads)
            conv_node = replaced.get(source, nodes[source])
            keywords = getattr(conv_node.fn, "keywords", {})
            after = keywords.get("_after", ()) + (functools.partial(apply, step=step),)
            fn = functools.partial(conv.Conv, **{**keywords, "_after": after})
            replaced[i] = dataclasses.replace(conv_node, outputs=node.outputs, fn=fn)
            gone.add(source)
        elif not chain:
            continue  # (a HardSwish op not after a Conv: one node already)
        else:
            fn = functools.partial(_hard_swish, _step=step, _written=written)
            replaced[i] = fused_node(node, [nodes[j] for j in chain + [i]], _OP, (x,), fn)
        gone.update(chain)
    return [replaced.get(i, n) for i, n in enumerate(nodes) if i not in gone]


def apply(y, *, step):
    """The hard-swish ``step`` of ``y``, a fresh array nothing else reads, in place: ``y``
    (the HardSwish op: its kernel's new array)."""
    if step[0] == "kernel":
        return step[1](y)
    if step[0] == "clip":
        _, three, lo, hi, last, c, _ = step
        t = np.add(y, three)
        np.clip(t, lo, hi, out=t)
        np.multiply(y, t, out=y)
        return last(y, c, out=y)
    _, alpha, beta, _ = step
    return np.multiply(y, activation.HardSigmoid(y, alpha=alpha, beta=beta), out=y)


def _hard_swish(x, *, _step, _written):
    """The fused node: a new array (x may be read by nothing else, but is not ours). Form B's
    dtype is x's (any float); form A's, its constants'."""
    dtype = _step[-1]
    if (
        type(x) is not np.ndarray
        or not x.ndim
        or x.dtype.kind != "f"
        or (dtype is not None and x.dtype != dtype)
    ):
        return _as_written(x, _written)
    if _step[0] == "clip":
        _, three, lo, hi, last, c, _ = _step
        t = np.add(x, three)
        np.clip(t, lo, hi, out=t)
        np.multiply(x, t, out=t)
        return last(t, c, out=t)
    _, alpha, beta, _ = _step
    s = activation.HardSigmoid(x, alpha=alpha, beta=beta)
    return np.multiply(x, s, out=s)


def _as_written(x, written):
    """The chain's kernels in order, each on the previous result (and x where it read x)."""
    value = x
    for fn, args, attrs in written:
        value = fn(*[x if a is _X else value if a is _PREVIOUS else a for a in args], **attrs)
    return value


_X, _PREVIOUS = object(), object()  # (placeholders in a written chain's arguments)


def _match(last: Node, nodes, producer, counts, known):
    """(x, the chain's other node indices, the step, the chain as written) when ``last`` ends
    a written-out hard-swish or a HardSwish op (no other node), else None."""
    if _is(last, "HardSwish", activation.HardSwish) and len(last.inputs) == 1:
        written = [(activation.HardSwish, (_X,), {})]
        return last.inputs[0], [], ("kernel", activation.HardSwish, None), written
    if _is(last, "Mul", elementwise.Mul) and len(last.inputs) == 2:
        for x, s in (last.inputs, last.inputs[::-1]):
            j = producer.get(s)
            if j is None or counts[s] != 1 or counts[x] != 2 or x in known:
                continue
            hs = nodes[j]
            if _is(hs, "HardSigmoid", activation.HardSigmoid) and hs.inputs == (x,):
                alpha = float(hs.attrs.get("alpha", 0.2))
                beta = float(hs.attrs.get("beta", 0.5))
                if abs(alpha - 1 / 6) < 1e-7 and beta == 0.5:
                    written = [
                        (activation.HardSigmoid, (_X,), dict(hs.attrs)),
                        (elementwise.Mul, (_X, _PREVIOUS), {}),
                    ]
                    return x, [j], ("hardsigmoid", alpha, beta, None), written
        return _clip_chain(last, nodes, producer, counts, known, np.multiply)
    if _is(last, "Div", elementwise.Div):
        return _clip_chain(last, nodes, producer, counts, known, np.divide)
    return None


def _clip_chain(last, nodes, producer, counts, known, ufunc):
    """Form A ending at ``last`` (Div by 6, or Mul by 1/6: ``ufunc``), else None."""
    if len(last.inputs) != 2:
        return None
    m_name, c_name = last.inputs
    c = _one_value(known.get(c_name))
    expect = 6.0 if ufunc is np.divide else None
    if c is None or (expect is not None and float(c) != expect):
        return None
    if ufunc is np.multiply and float(c) != float(np.asarray(1 / 6, c.dtype)):
        return None
    k = producer.get(m_name)
    if k is None or counts[m_name] != 1:
        return None
    mul = nodes[k]
    if not _is(mul, "Mul", elementwise.Mul) or len(mul.inputs) != 2:
        return None
    for x, clipped in (mul.inputs, mul.inputs[::-1]):
        j = producer.get(clipped)
        if j is None or counts[clipped] != 1 or counts[x] != 2 or x in known:
            continue
        bounds = _clip_bounds(nodes[j], known)
        if bounds is None or (float(bounds[0]), float(bounds[1])) != (0.0, 6.0):
            continue
        t_name = nodes[j].inputs[0]
        a = producer.get(t_name)
        if a is None or counts[t_name] != 1:
            continue
        add = nodes[a]
        if not _is(add, "Add", elementwise.Add) or len(add.inputs) != 2 or x not in add.inputs:
            continue
        other = add.inputs[1] if add.inputs[0] == x else add.inputs[0]
        three = _one_value(known.get(other))
        if three is None or float(three) != 3.0:
            continue
        dtype = c.dtype
        if three.dtype != dtype or bounds[0].dtype != dtype or dtype.kind != "f":
            continue
        clip = nodes[j]
        written = [
            (add.fn, (_X, known[other]) if add.inputs[0] == x else (known[other], _X), {}),
            (clip.fn, (_PREVIOUS, *[known[n] for n in clip.inputs[1:]]), dict(clip.attrs)),
            (mul.fn, (_X, _PREVIOUS) if mul.inputs[0] == x else (_PREVIOUS, _X), {}),
            (last.fn, (_PREVIOUS, known[c_name]), {}),
        ]
        step = ("clip", three, bounds[0], bounds[1], ufunc, c, dtype)
        return x, [a, j, k], step, written
    return None


def _clip_bounds(node: Node, known: dict):
    """(lo, hi) as 0-d arrays of one float dtype for a Clip of constant bounds, else None."""
    if node.domain != "" or len(node.outputs) != 1:
        return None
    fn = getattr(node.fn, "func", node.fn)
    if node.op_type != "Clip" or not node.inputs:
        return None
    if fn is activation.Clip and len(node.inputs) == 3 and not node.attrs:
        lo, hi = _one_value(known.get(node.inputs[1])), _one_value(known.get(node.inputs[2]))
        if lo is None or hi is None or lo.dtype != hi.dtype:
            return None
        return lo, hi
    return None  # (Clip-6's attribute bounds: the float32 of a double, left as written)


def _one_value(value):
    """``value`` as a 0-d array when it is a float array of one value, not NaN, of rank <= 1
    (it then broadcasts to any x without changing x's shape), else None."""
    if type(value) is not np.ndarray or value.dtype.kind != "f" or value.size != 1:
        return None
    if value.ndim > 1 or value.reshape(()) != value.reshape(()):
        return None
    return value.reshape(())


def _is(node: Node, op_type: str, kernel) -> bool:
    return (
        node.op_type == op_type
        and node.domain == ""
        and not node.graph_attrs
        and len(node.outputs) == 1
        and getattr(node.fn, "func", node.fn) is kernel
        and not getattr(node.fn, "keywords", None)
    )


def _conv_of(node: Node, known: dict, dtype) -> bool:
    """A float Conv of constant weights of ``dtype`` (its output's), its steps perhaps fused:
    its output is a fresh array of its own."""
    if node.op_type != "Conv" or node.domain != "" or node.graph_attrs or len(node.outputs) != 1:
        return False
    if getattr(node.fn, "func", node.fn) is not conv.Conv or len(node.inputs) < 2:
        return False
    w = known.get(node.inputs[1])
    floats = (np.float16, np.float32, np.float64)
    if w is None or w.ndim < 3 or w.dtype not in floats:
        return False
    return dtype is None or w.dtype == dtype
