"""Chains of channel Concats that grow one tensor, written into one buffer.

A densely connected block (densenet121) concatenates each layer's new channels onto
everything before: c1 = Concat(x, y1), c2 = Concat(c1, y2), ..., so run as written each
Concat copies all the channels before it again, and makes a new array a little larger than
the last one (fresh pages each time: a fault per 4 KiB). With one sample, the first k
channels of an NCHW array are a contiguous prefix of it: each Concat of a chain writes only
its new inputs into one buffer sized for the whole chain, and returns the prefix view that
ends after them; the next one finds its first input to be that view and continues.

A chain link is a Concat along axis 1 whose first input is the output of the Concat before
it in the chain; that output is read by no other chain Concat as its first input (one
continuation per buffer: a second would write the same channels) and is no graph output.
The values are the same as written: the prefix a Concat returns holds exactly its inputs'
channels, and the channels after it, which later links write, are not part of it. Nothing
writes into a Concat's output in place (the in-place plans take only Conv, Gemm and
arithmetic outputs).

At run time a link continues the buffer only when its first input is a prefix view of a
buffer of the chain's size (one sample, one dtype, the same other dims); otherwise (another
batch size, the first link) it makes that buffer and copies its first input in, or runs the
Concat as written when the inputs are not a channel concatenation of arrays of one dtype.
"""

import dataclasses
import functools
import math

import numpy as np

from runtime import _budget
from runtime.onnx._graph import Node
from runtime.onnx.ops import shape
from runtime.onnx.ops._common import check_size

_OP = "Concat(chain)"
# The one switch of this fusion, read when a session is planned (off: each Concat copies all
# its inputs; tests and benchmarks compare the two).
ENABLED = True
# A chain's buffer holds at most this many times the channels of the link that makes it
# (densenet121's blocks need up to 3.6: 256 + 24 x 32 channels from a first link of 288).
_MAX_GROWTH = 4


def chain_concats(nodes: list, known: dict, outputs) -> list:
    """``nodes`` with each Concat of a chain (two links at least) running as a link
    (``outputs``: the names of the graph's outputs, which end a chain)."""
    if not ENABLED:
        return nodes
    candidates = {i for i, n in enumerate(nodes) if _candidate(n, known)}
    made_by = {nodes[i].outputs[0]: i for i in candidates}
    continues: dict[int, list[int]] = {}  # link -> the candidates continuing it
    for i in candidates:
        j = made_by.get(nodes[i].inputs[0])
        if j is not None and nodes[j].outputs[0] not in outputs:
            continues.setdefault(j, []).append(i)
    after = {j: nexts[0] for j, nexts in continues.items() if len(nexts) == 1}
    before = {i: j for j, i in after.items()}
    replaced: dict[int, Node] = {}
    for head in sorted(set(after) - set(before)):
        chain = [head]
        while chain[-1] in after:
            chain.append(after[chain[-1]])
        for position, i in enumerate(chain):
            replaced[i] = _link(nodes[i], len(chain) - position, position > 0)
    return [replaced.get(i, n) for i, n in enumerate(nodes)]


def _candidate(node: Node, known: dict) -> bool:
    """A Concat along axis 1 of two or more computed values."""
    if node.op_type != "Concat" or node.domain != "" or node.graph_attrs:
        return False
    if node.fn is not shape.Concat or node.attrs.get("axis") != 1 or len(node.outputs) != 1:
        return False
    return len(node.inputs) >= 2 and all(name and name not in known for name in node.inputs)


def _link(node: Node, remaining: int, continues: bool) -> Node:
    fn = functools.partial(_concat_link, _remaining=remaining, _continues=continues)
    return dataclasses.replace(node, op_type=_OP, fn=fn)


def _concat_link(*inputs, axis, _remaining, _continues):
    """Concat along axis 1 into the chain's buffer (see the module docstring). ``_remaining``:
    the links from this one to the chain's end; ``_continues``: whether this link's first
    input is the previous link's output (never for the first link: its first input may be a
    prefix of another chain's buffer, which that chain continues)."""
    first = inputs[0]
    if not _joinable(inputs):
        return shape.Concat(*inputs, axis=axis)
    start = first.shape[1]
    end = start + sum(x.shape[1] for x in inputs[1:])
    buffer = _buffer_of(first) if _continues else None
    if buffer is None or buffer.shape[1] < end:
        buffer = _new_buffer(first, start + (end - start) * _remaining, end)
    at = start
    for x in inputs[1:]:
        buffer[:, at : at + x.shape[1]] = x
        at += x.shape[1]
    return buffer[:, :end]


def _new_buffer(first, wanted: int, end: int) -> np.ndarray:
    """A buffer for the rest of the chain with ``first`` copied in: ``wanted`` channels (this
    link's growth for every link left: densenet's links all add the same), at most
    ``_MAX_GROWTH`` times the ``end`` this link needs (a chain whose first links grow most
    would hold memory it never fills; a link that outgrows its buffer starts anew), and only
    ``end`` when the larger one is over the run's limits (the Concat as written fits)."""
    rest = first.shape[2:]
    capacity = min(wanted, _MAX_GROWTH * end)
    if not _budget.fits(capacity * math.prod(rest) * first.dtype.itemsize):
        capacity = end
    check_size((1, capacity, *rest), "Concat", first.dtype.itemsize)
    buffer = np.empty((1, capacity, *rest), first.dtype)
    buffer[:, : first.shape[1]] = first
    return buffer


def _joinable(inputs) -> bool:
    """One sample of arrays of one dtype and rank >= 3 that differ only in their channels."""
    first = inputs[0]
    if type(first) is not np.ndarray or first.ndim < 3 or first.shape[0] != 1:
        return False
    rest = first.shape[2:]
    return all(
        type(x) is np.ndarray
        and x.dtype == first.dtype
        and x.ndim == first.ndim
        and x.shape[0] == 1
        and x.shape[2:] == rest
        for x in inputs[1:]
    )


def _buffer_of(view: np.ndarray):
    """The C-contiguous buffer ``view`` is the channel prefix of, or None."""
    base = view.base
    if (
        type(base) is not np.ndarray
        or base.base is not None  # (a buffer of ours owns its memory)
        or not base.flags.c_contiguous
        or not base.flags.writeable
        or base.dtype != view.dtype
        or base.ndim != view.ndim
        or base.shape[0] != 1
        or base.shape[2:] != view.shape[2:]
        or view.ctypes.data != base.ctypes.data
        or view.strides[1:] != base.strides[1:]
    ):
        return None
    return base
