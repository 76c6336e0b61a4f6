"""AveragePool -> 1x1 Conv run as the Conv, then the pool: fewer channels averaged.

An inception block's pool branch averages every input channel, then reduces the channels with
a 1x1 convolution (576 -> 128 in inception_v2). One map is across channels, the other across
positions, both linear: when every window's weights sum to one (no padded cell counted),
Conv(AvgPool(x)) = W avg(x) + b = avg(W x + b) = AvgPool(Conv(x)), and pooled after the
convolution the averages run over its M output channels instead of the C input channels. The
Conv's fused activation (a Relu, LeakyRelu/Max/Min steps) is applied after the pool, where it
was applied to the Conv's output. The values differ from the order as written by float32
rounding (the same sums in another order).

Taken only where it averages fewer channels (M < C): a float32 Conv of constant weights with a
1x1 kernel, unit strides, no pads and one group, whose input is an AveragePool output that only
it reads, of an AveragePool that counts no padded cell (count_include_pad=0, or no pads; the
cells ceil_mode adds are never counted). The fused step checks at run time that its input is
a float32 array of the weights' rank with C channels; any other input runs the two nodes as
written (the same kernels: the same checks and errors).
"""

import functools
from collections import Counter
from collections.abc import Callable

import numpy as np

from runtime.onnx._fuse_pairs import fuse_pairs, fused_node
from runtime.onnx._graph import Node
from runtime.onnx.ops import activation, conv, pool
from runtime.onnx.ops.elementwise import relu_in_place

_OP = "Conv+AveragePool"
# The one switch of this fusion, read when a session is planned (off: the nodes run as
# written; tests and benchmarks compare the two).
ENABLED = True


def pool_after_conv(nodes: list, known: dict, uses: Callable[[list], Counter], hold) -> list:
    """``nodes`` with each AveragePool -> 1x1 Conv pair that averages fewer channels after the
    Conv run as one node at the Conv's place (``uses(nodes)``: how many times each value is
    read, graph outputs counted; ``hold(nbytes, what)``: charges the packed weights, False
    when over the loading budget, the pair then stays as written)."""
    if not ENABLED:
        return nodes
    return fuse_pairs(
        nodes,
        uses(nodes),
        lambda node: _pointwise_conv(node, known),
        _unit_average,
        lambda pool_node, conv_node: _merged(pool_node, conv_node, known, hold),
    )


def _pointwise_conv(node: Node, known: dict) -> bool:
    """A float32 1x1 Conv (unit strides, no pads, one group) of constant weights with fewer
    output than input channels, its activation perhaps fused."""
    if node.op_type != "Conv" or node.domain != "" or node.graph_attrs or len(node.outputs) != 1:
        return False
    fn = node.fn
    if getattr(fn, "func", fn) is not conv.Conv:
        return False
    if set(getattr(fn, "keywords", {})) - {"_relu", "_steps"} or not 2 <= len(node.inputs) <= 3:
        return False
    w = known.get(node.inputs[1])
    b = known.get(node.inputs[2]) if len(node.inputs) == 3 and node.inputs[2] else None
    if w is None or w.dtype != np.float32 or w.ndim < 3 or set(w.shape[2:]) != {1}:
        return False
    if len(node.inputs) == 3 and node.inputs[2] and (b is None or b.shape != w.shape[:1]):
        return False
    attrs = node.attrs
    if attrs.get("group", 1) != 1 or any(attrs.get("pads") or ()):
        return False
    if any(s != 1 for s in attrs.get("strides") or ()) or attrs.get("auto_pad", "NOTSET") not in (
        "NOTSET",
        "VALID",
    ):
        return False
    return w.shape[0] < w.shape[1]


def _unit_average(node: Node) -> bool:
    """An AveragePool whose windows all weigh their cells to a sum of one."""
    if node.op_type != "AveragePool" or node.domain != "" or node.graph_attrs:
        return False
    if node.fn is not pool.AveragePool or len(node.outputs) != 1 or len(node.inputs) != 1:
        return False
    attrs = node.attrs
    if not attrs.get("count_include_pad", 0):
        return True
    return not any(attrs.get("pads") or ()) and attrs.get("auto_pad", "NOTSET") in (
        "NOTSET",
        "VALID",
    )


def _merged(average: Node, pointwise: Node, known: dict, hold) -> Node | None:
    w = known[pointwise.inputs[1]]
    packed = conv.pack_weights(w, 1, np.float32)
    if not hold(packed.nbytes, pointwise.describe):
        return None
    packed.flags.writeable = False
    keywords = getattr(pointwise.fn, "keywords", {})
    fn = functools.partial(
        _conv_then_pool,
        _conv=pointwise.fn,
        _conv_attrs=dict(pointwise.attrs),
        _pool_attrs=dict(average.attrs),
        _packed=(w, packed),
        _relu=bool(keywords.get("_relu")),
        _steps=keywords.get("_steps", ()),
    )
    inputs = (average.inputs[0], *pointwise.inputs[1:])
    return fused_node(pointwise, (average, pointwise), _OP, inputs, fn)


def _conv_then_pool(x, w, b=None, *, _conv, _conv_attrs, _pool_attrs, _packed, _relu, _steps):
    if (
        type(x) is not np.ndarray
        or x.dtype != np.float32
        or x.ndim != w.ndim
        or x.shape[1] != w.shape[1]
        or _packed[0] is not w
    ):  # (as written: the same kernels, checks and errors)
        pooled = pool.AveragePool(x, **_pool_attrs)
        return _conv(pooled, w, b, **_conv_attrs)
    y = conv.Conv(x, w, b, **_conv_attrs, _packed=_packed)
    z = pool.AveragePool(y, **_pool_attrs)  # (a new array: activated in place)
    if _relu:
        z = relu_in_place(z)
    if _steps:
        z = activation.in_place_steps(z, _steps)
    return z
