"""Per-channel scales and shifts with constant parameters, merged at load.

Two rules for ``runtime.onnx._plan``'s producer -> consumer scan (``_fuse_pairs``), which
merges a pair only when the consumer is the one reader of the producer's output:

- Conv -> Mul / Add / Sub by a constant that broadcasts per output channel (shape
  (1, M, 1, ...) or shorter, or one value): folded into the Conv's weights and bias, as
  onnxruntime's ConvMulFusion / ConvAddFusion do: W' = W * s, b' = b * s for a Mul; b' = b + c
  for an Add (b - c for a Sub). Exporters that write batch norms as Mul and Add (densenet121,
  inception_v2 of the ``onnx`` wheel's backend models) put one after every Conv.
- A chain of BatchNormalization (inference, constant parameters), Mul / Add / Sub by
  per-channel constants, ending perhaps in a Relu, run as one step y = x * a + b (then
  max(y, 0)), a and b per channel: one new array and two in-place passes where the chain as
  written made five or six passes (the same chains not after a Conv: a BatchNormalization of a
  Concat in densenet). Rounding differs from the chain as written by a few float32 ulps of the
  terms, as with the Conv folding.

A Mul or Add whose first input is the constant (PP-LCNet's learnable affine blocks write
``Mul(scale, x)``) is read with its operands swapped first (``constants_second``): both ops
commute, in value, shape and type, so the node is the same.

Only float32 is merged. The merged step checks at run time that its input is what the merge
assumed (a float32 array with the channels on axis 1 and, when a constant fixes it, the
rank); any other input runs the nodes as written (through the evaluator: same checks, errors).
"""

import dataclasses
import functools

import numpy as np

from runtime.onnx._evaluator import run_graph
from runtime.onnx._fuse_pairs import fused_node
from runtime.onnx._graph import Graph, Node
from runtime.onnx.ops import activation, conv, elementwise, normalization

_ARITH = {"Mul": elementwise.Mul, "Add": elementwise.Add, "Sub": elementwise.Sub}
_BATCH_NORMS = (normalization.BatchNormalization, normalization.BatchNormalization_7)
_SCALE_SHIFT = "ScaleShift"


def _plain(node: Node, op_type: str) -> bool:
    return (
        node.op_type == op_type
        and node.domain == ""
        and len(node.outputs) == 1
        and not node.graph_attrs
        and all(node.inputs)
    )


def _channel_constant(node: Node, known: dict):
    """(channels, rank, ndim, vector) for a Mul/Add/Sub whose second input is a float32
    constant with at most one dim above 1: ``vector`` its values as (channels,), ``rank`` the
    rank of the first input for which that dim is axis 1 (None for one value), ``ndim`` the
    constant's (a larger one would grow the result's rank); else None."""
    if node.op_type not in _ARITH or not _plain(node, node.op_type) or len(node.inputs) != 2:
        return None
    if node.fn is not _ARITH[node.op_type]:
        return None
    c = known.get(node.inputs[1])
    if c is None or node.inputs[0] in known or c.dtype != np.float32 or c.ndim > 8:
        return None
    big = [k for k, d in enumerate(c.shape) if d != 1]
    if not big:
        return 1, None, c.ndim, c.reshape(1)
    if len(big) != 1:
        return None
    return c.shape[big[0]], 1 + c.ndim - big[0], c.ndim, c.reshape(-1)


# Conv -> Mul / Add / Sub.


def constants_second(nodes: list, known: dict) -> list:
    """``nodes`` with each plain Mul / Add of a constant first input and a computed second
    one reading them the other way round (the rules above look for the constant second)."""
    swapped = []
    for node in nodes:
        if (
            node.op_type in ("Mul", "Add")
            and node.fn is _ARITH[node.op_type]
            and _plain(node, node.op_type)
            and len(node.inputs) == 2
            and node.inputs[0] in known
            and node.inputs[1] not in known
        ):
            node = dataclasses.replace(node, inputs=node.inputs[::-1])
        swapped.append(node)
    return swapped


def conv_consumer_ok(node: Node) -> bool:
    return node.op_type in _ARITH and _plain(node, node.op_type) and len(node.inputs) == 2


def conv_producer_ok(node: Node) -> bool:
    return _plain(node, "Conv") and node.fn is conv.Conv and len(node.inputs) >= 2


def fold_into_conv(conv_node: Node, node: Node, known: dict, hold) -> Node | None:
    """The Conv computing ``node(conv_node(x))``, or None when the pair does not qualify.
    ``hold(nbytes, what)`` charges the new constants to the loading budget (False: over it)."""
    found = _channel_constant(node, known)
    w = known.get(conv_node.inputs[1])
    b = known.get(conv_node.inputs[2]) if len(conv_node.inputs) > 2 else None
    if found is None or w is None or w.dtype != np.float32 or w.ndim < 3:
        return None
    if len(conv_node.inputs) > 2 and (b is None or b.dtype != np.float32 or b.ndim != 1):
        return None
    channels, rank, ndim, c = found
    m = w.shape[0]
    if (rank is not None and rank != w.ndim) or ndim > w.ndim or channels not in (1, m):
        return None  # (a constant along another axis, or one that grows the output)
    c = np.broadcast_to(c, (m,))
    if b is None:
        b = np.zeros((m,), np.float32)
    if node.op_type == "Mul":
        w_new = (w * c.reshape((m,) + (1,) * (w.ndim - 1))).astype(np.float32)
        b_new = (b * c).astype(np.float32)
    else:
        w_new = w
        b_new = (b + c if node.op_type == "Add" else b - c).astype(np.float32)
    fresh = [v for v in (w_new, b_new) if v is not w]
    if not hold(sum(v.nbytes for v in fresh), node.describe):
        return None
    return conv_with_constants(conv_node, node, w_new, b_new, known)


def conv_with_constants(conv_node: Node, node: Node, w_new, b_new, known: dict) -> Node:
    """``conv_node`` with weights ``w_new`` and bias ``b_new`` (new values are frozen and
    registered in ``known`` under fresh names; unchanged weights keep theirs), writing the
    outputs of ``node``, the node folded into it."""
    names = []
    for suffix, value in (("W", w_new), ("B", b_new)):
        if suffix == "W" and value is known.get(conv_node.inputs[1]):
            names.append(conv_node.inputs[1])
            continue
        name = f"{node.outputs[0]}/fused_{suffix}"
        while name in known:
            name += "_"
        value.flags.writeable = False
        known[name] = value
        names.append(name)
    return dataclasses.replace(
        conv_node, inputs=(conv_node.inputs[0], *names), outputs=node.outputs
    )


# BatchNormalization / Mul / Add / Sub (-> Relu) chains.


def chain_producer_ok(node: Node) -> bool:
    """A chain starts at a BatchNormalization: it puts the channels on axis 1 (a Mul and an
    Add alone may scale the last axis of a tensor of any rank)."""
    return node.op_type in (_SCALE_SHIFT, "BatchNormalization")


def chain_consumer_ok(node: Node) -> bool:
    return node.op_type in _ARITH or (
        _plain(node, "Relu") and len(node.inputs) == 1 and node.fn is activation.Relu
    )


@dataclasses.dataclass(frozen=True)
class _Step:
    """x * scale + shift per channel (float64 while merging), of ``channels`` channels on
    axis 1 of a rank-``rank`` input (None: any rank from ``min_rank``), then max(., 0) if
    ``relu``."""

    channels: int
    rank: int | None
    min_rank: int
    scale: np.ndarray
    shift: np.ndarray
    relu: bool
    members: tuple  # the nodes as written
    constants: tuple  # their constant inputs' names


def _step(node: Node, known: dict) -> _Step | None:
    """``node`` alone as a step, or None."""
    if node.op_type == _SCALE_SHIFT:
        return node.fn.keywords["_step"]
    if node.op_type == "BatchNormalization":
        if not _plain(node, "BatchNormalization") or node.fn not in _BATCH_NORMS:
            return None
        if node.attrs.get("training_mode", 0) or node.attrs.get("spatial", 1) != 1:
            return None
        params = [known.get(name) for name in node.inputs[1:5]]
        if len(node.inputs) != 5 or any(p is None or p.dtype != np.float32 for p in params):
            return None
        if node.inputs[0] in known or len({p.shape for p in params}) != 1:
            return None
        scale, beta, mean, var = params
        if scale.ndim != 1:
            return None
        epsilon = np.float32(node.attrs.get("epsilon", 1e-5))
        inv = (scale / np.sqrt(var + epsilon)).astype(np.float64)
        return _Step(
            scale.shape[0],
            None,
            2,
            inv,
            beta.astype(np.float64) - mean.astype(np.float64) * inv,
            False,
            (node,),
            tuple(node.inputs[1:5]),
        )
    found = _channel_constant(node, known)
    if found is None:
        return None
    channels, rank, ndim, c = found
    c = c.astype(np.float64)
    one, zero = np.ones_like(c), np.zeros_like(c)
    scale, shift = {"Mul": (c, zero), "Add": (one, c), "Sub": (one, -c)}[node.op_type]
    return _Step(channels, rank, ndim, scale, shift, False, (node,), (node.inputs[1],))


def _then(first: _Step, node: Node, known: dict) -> _Step | None:
    """``first`` followed by ``node`` as one step, or None."""
    if first.relu:
        return None
    members = first.members + (node,)
    if node.op_type == "Relu":
        return dataclasses.replace(first, relu=True, members=members)
    second = _step(node, known)
    if second is None:
        return None
    channels = first.channels if second.channels == 1 else second.channels
    if first.channels not in (1, channels):
        return None
    if None not in (first.rank, second.rank) and first.rank != second.rank:
        return None
    return _Step(
        channels,
        first.rank if second.rank is None else second.rank,
        max(first.min_rank, second.min_rank),
        first.scale * second.scale,
        first.shift * second.scale + second.shift,
        False,
        members,
        first.constants + second.constants,
    )


def merge_chain(producer: Node, consumer: Node, known: dict) -> Node | None:
    """One ScaleShift node doing ``consumer(producer(x))``, or None."""
    first = _step(producer, known)
    step = None if first is None else _then(first, consumer, known)
    if step is None:
        return None
    x = producer.inputs[0]
    originals = Graph(
        f"{consumer.name} (as written)",
        [],
        [],
        {name: known[name] for name in step.constants},
        list(step.members),
    )
    fn = functools.partial(
        _scale_shift,
        _step=step,
        _scale=step.scale.astype(np.float32),
        _shift=step.shift.astype(np.float32),
        _originals=originals,
        _x=x,
        _out=consumer.outputs[0],
    )
    return fused_node(consumer, step.members, _SCALE_SHIFT, (x,), fn)


def _scale_shift(x, *, _step, _scale, _shift, _originals, _x, _out):
    step = _step
    if (
        type(x) is not np.ndarray
        or x.dtype != np.float32
        or x.ndim < step.min_rank
        or (step.rank is not None and x.ndim != step.rank)
        or x.shape[1] != step.channels
    ):
        return run_graph(_originals, {_x: x})[_out]
    shape = (1, step.channels) + (1,) * (x.ndim - 2)
    y = np.multiply(x, _scale.reshape(shape))  # (x's memory layout)
    y += _shift.reshape(shape)
    return elementwise.relu_in_place(y) if step.relu else y
