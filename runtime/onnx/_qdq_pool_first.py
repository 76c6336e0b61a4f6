"""MaxPool before the fake quantization that feeds it: the quantization then runs on a quarter
of the values (a 2x2 pool).

QDQ files write ``y = FQ(conv(x)) -> MaxPool``. With positive scales s and s', every step of
the fake quantization FQ(v) = (min(max(rint(v / s) + z, lo), hi) - z') * s' (float32) is
non-decreasing in v: a correctly rounded division by s > 0, rint, the clamp, and a product with
s' > 0. A non-decreasing f commutes with the maximum: max(f(a), f(b)) = f(max(a, b)). So over
every pooling window, MaxPool(FQ(v)) = FQ(MaxPool(v)), value for value (up to the sign of a
zero, which no comparison sees).

That holds for windows of real values, so the rewrite is limited to a MaxPool without padding
or ceil mode (each window lies within the input), with one output (no Indices). NaN is the
exception: FQ sends it to lo while a maximum propagates it, so a run whose input holds a NaN
(found by one reduction over it) takes the operations in their written order.

The MaxPool's output is then computed by one node: the pool, then the fake quantization,
in place on the pool's fresh result. A 2-D pool whose windows tile the input (strides equal to
the kernel, no dilation) takes the maximum over a (N, C, OH, KH, OW, KW) view of the input,
one kernel axis at a time: KH - 1 + KW - 1 ``np.maximum`` calls, the first ones over whole rows
(floor mode drops the rows and columns that no window covers). np.maximum propagates NaN, so
a NaN in any window shows in the pooled values, and only then does the run go back to the
written order; other pools use the MaxPool kernel itself, after a check of the whole input.

A Relu fused into the Conv that only this fake quantization reads is dropped when the
quantization's clamp already sends every value <= 0 to its lower bound (a zero point at the
type's minimum, as int8 files write Relu outputs): rint(v / s) + z <= z <= lo for v <= 0, so
FQ(relu(v)) = FQ(v) and MaxPool commutes with relu as with FQ. (The one difference is again the
sign of a zero: FQ(-0.01) may be -0.0 where FQ(0) is 0.0; NaN passes a Relu as it is.)
"""

import dataclasses
import functools
from collections import Counter

import numpy as np

from runtime.onnx._graph import Graph, Node, _node_free
from runtime.onnx._qdq_fake_quantize import FakeQuantize
from runtime.onnx.ops import conv
from runtime.onnx.ops.pool import max_pool_tiles


def pool_before_fake_quantize(nodes: list, graph: Graph) -> list:
    """``nodes`` with each planned fake quantization read only by a MaxPool that qualifies
    merged with it, the pool first."""
    uses = Counter(name for n in nodes for name in n.inputs if name)
    uses.update(name for n in nodes for name in _node_free(n))
    uses.update(v.name for v in graph.outputs)
    producer = {out: i for i, n in enumerate(nodes) for out in n.outputs if out}
    merged: dict[int, Node] = {}
    gone = set()
    for i, pool in enumerate(nodes):
        if not _selecting_max_pool(pool):
            continue
        j = producer.get(pool.inputs[0])
        if j is None or j in gone or uses[pool.inputs[0]] != 1 or not _monotone(nodes[j]):
            continue
        fq = nodes[j]
        k = producer.get(fq.inputs[0])
        if k is not None and k not in merged and uses[fq.inputs[0]] == 1:
            if _clamps_below_zero(fq.fn) and _relu_conv(nodes[k]):
                merged[k] = _without_relu(nodes[k])
        fn = PoolFirst(fq.fn, pool.fn, dict(pool.attrs), _tiles(pool.attrs))
        merged[i] = dataclasses.replace(
            fq,
            name=f"{fq.name} + {pool.name}",
            op_type=f"{fq.op_type}+MaxPool",
            outputs=pool.outputs,
            fn=fn,
            attrs={},
        )
        gone.add(j)
    return [merged.get(i, n) for i, n in enumerate(nodes) if i not in gone]


def _clamps_below_zero(fq: FakeQuantize) -> bool:
    """Whether the fake quantization sends every value <= 0 to its clamp's lower bound:
    rint(v / s) <= 0 then lands at or below the quantized zero, which the bound reaches."""
    zero = np.float32(0) if fq.shift is None else fq.shift[0]
    return bool(fq.lo >= zero)


def _relu_conv(node: Node) -> bool:
    """A Conv with a fused Relu and no other fused steps."""
    keywords = getattr(node.fn, "keywords", {})
    return (
        getattr(node.fn, "func", None) is conv.Conv
        and keywords.get("_relu") is True
        and not keywords.get("_steps")
    )


def _without_relu(node: Node) -> Node:
    """The ``_relu_conv`` node without its Relu."""
    fn = node.fn
    keywords = {k: v for k, v in fn.keywords.items() if k != "_relu"}
    return dataclasses.replace(node, fn=functools.partial(conv.Conv, *fn.args, **keywords))


def _selecting_max_pool(node: Node) -> bool:
    attrs = node.attrs
    return (
        node.op_type == "MaxPool"
        and node.domain == ""
        and len(node.inputs) == 1
        and len(node.outputs) == 1
        and bool(node.outputs[0])
        and not node.graph_attrs
        and attrs.get("auto_pad", "NOTSET") in ("NOTSET", "VALID")
        and not any(attrs.get("pads") or [])
        and not attrs.get("ceil_mode", 0)
    )


def _monotone(node: Node) -> bool:
    """A planned per-tensor fake quantization with positive scales."""
    fn = node.fn
    return (
        node.op_type == "QuantizeLinear+DequantizeLinear"
        and len(node.outputs) == 1
        and isinstance(fn, FakeQuantize)
        and fn.scale > 0
        and fn.scale_out > 0
    )


def _tiles(attrs: dict):
    """(KH, KW) of a 2-D MaxPool whose windows tile its input, or None."""
    kernel = attrs.get("kernel_shape")
    if not isinstance(kernel, (list, tuple)) or len(kernel) != 2:
        return None
    strides = attrs.get("strides") or [1, 1]
    dilations = attrs.get("dilations") or [1, 1]
    if list(strides) != list(kernel) or any(d != 1 for d in dilations):
        return None
    if not all(isinstance(k, int) and k >= 1 for k in kernel):
        return None
    return tuple(kernel)


def _covers(shape: tuple, tiles: tuple) -> bool:
    return shape[2] >= tiles[0] and shape[3] >= tiles[1]


class PoolFirst:
    """MaxPool(FQ(x)) computed as FQ(MaxPool(x)) when x is a float32 tensor without NaN in
    its windows. ``tiles``: the (KH, KW) of a 2-D pool whose windows tile the input."""

    __slots__ = ("fq", "pool", "pool_attrs", "tiles")

    def __init__(self, fq: FakeQuantize, pool, pool_attrs: dict, tiles=None):
        self.fq, self.pool, self.pool_attrs, self.tiles = fq, pool, pool_attrs, tiles

    def __call__(self, x, *params):
        if type(x) is np.ndarray and x.dtype == np.float32 and x.size and x.ndim:
            tiles = self.tiles
            if tiles is not None and x.ndim == 4 and _covers(x.shape, tiles):
                # A NaN in a window is in the pooled values: the quantization finds it.
                if x.flags.c_contiguous and x.shape[3] % tiles[1] == 0:
                    pooled = _max_pool_rows(x, *tiles)
                else:
                    pooled = max_pool_tiles(x, *tiles, height_first=True)
            else:
                low = np.minimum.reduce(x, axis=None)
                pooled = self.pool(x, **self.pool_attrs) if low == low else None
            if type(pooled) is np.ndarray and pooled.dtype == np.float32 and pooled.ndim:
                # The pool's own new array is overwritten; a view of x (or x) is not.
                fresh = pooled is not x and pooled.base is None and pooled.flags.writeable
                y = self.fq.apply(pooled, fresh, refuse_nan=True)
                if y is not None:
                    return y
        return self.pool(self.fq(x, *params), **self.pool_attrs)


def _max_pool_rows(x: np.ndarray, kh: int, kw: int) -> np.ndarray:
    """``max_pool_tiles(x, kh, kw, height_first=True)`` (the same cells in the same order)
    of a C-contiguous ``x`` (N, C, H, W) whose width the windows divide.

    On NCHW memory ``max_pool_tiles``'s second step runs one inner loop per output row, over
    strided values; here the KH rows of a window row are combined first (contiguous runs of W)
    into a C-contiguous array, whose width pairs are then one strided run over all of it."""
    n, c, h, w = x.shape
    oh, ow = h // kh, w // kw
    result = np.empty((n, c, oh, ow), x.dtype)  # (allocated first: see max_pool_tiles)
    rows = x[:, :, : oh * kh].reshape(n * c * oh, kh, w)
    tall = rows[:, 0] if kh == 1 else np.maximum(rows[:, 0], rows[:, 1])
    for i in range(2, kh):
        np.maximum(tall, rows[:, i], out=tall)
    cells = tall.reshape(-1, kw)  # (N*C*OH*OW, KW)
    out = result.reshape(-1)
    if kw == 1:
        np.copyto(out, cells[:, 0])
    else:
        np.maximum(cells[:, 0], cells[:, 1], out=out)
    for i in range(2, kw):
        np.maximum(out, cells[:, i], out=out)
    return result
