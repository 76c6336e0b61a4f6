"""Gemm -> Sigmoid, run as one node: the Sigmoid applied to the Gemm's fresh result.

A wake-word or classifier head ends with a one-unit Gemm and a Sigmoid (openWakeWord's heads:
a [1, 1] score); run as written, the Sigmoid is one more pass of the run's loop and, on one
value, nine ufunc calls on 0-d arrays. A float32/float64 Gemm with constant B (so its output's
dtype is known to be one Sigmoid takes) whose output only a Sigmoid reads becomes one node at
the Sigmoid's place. Its one value is computed with numpy scalars by the same stable formula
as the Sigmoid kernel (1 / (1 + e) for x >= 0, e / (1 + e) below, e = exp(-|x|), in the
output's dtype); a larger output goes through the Sigmoid kernel itself.

Not fused: a Gemm output read by anything else (a second reader or a graph output), a Gemm
that already applies a fused Relu, a Gemm of other dtypes or of a B computed at run time.
"""

import dataclasses
import functools
from collections import Counter
from collections.abc import Callable

import numpy as np

from runtime.onnx._fuse_pairs import fuse_pairs
from runtime.onnx._graph import Node
from runtime.onnx.ops import activation, elementwise

_FLOATS = (np.float32, np.float64)


def fuse_gemm_sigmoids(nodes: list, known: dict, uses: Callable[[list], Counter]) -> list:
    """``nodes`` with each fusable Gemm -> Sigmoid pair as one node (``uses(nodes)``: how many
    times each value is read, graph outputs counted)."""
    if not any(n.op_type == "Sigmoid" for n in nodes):
        return nodes

    def gemm_ok(gemm: Node) -> bool:
        if gemm.fn is not elementwise.Gemm or gemm.domain != "" or len(gemm.outputs) != 1:
            return False
        b = known.get(gemm.inputs[1]) if len(gemm.inputs) > 1 else None
        return type(b) is np.ndarray and b.dtype in _FLOATS

    return fuse_pairs(
        nodes,
        uses(nodes),
        lambda n: n.op_type == "Sigmoid" and n.domain == "" and len(n.inputs) == 1,
        gemm_ok,
        lambda gemm, sigmoid: dataclasses.replace(
            gemm,
            outputs=sigmoid.outputs,
            fn=functools.partial(_gemm_sigmoid, _gemm=gemm.fn),
        ),
    )


def _gemm_sigmoid(*args, _gemm, **attrs):
    y = _gemm(*args, **attrs)
    if y.size != 1 or y.dtype not in _FLOATS:
        return activation.Sigmoid(y)
    # One value (y is the Gemm's fresh array): the kernel's formula on numpy scalars.
    flat = y.reshape(-1)
    x = flat[0]
    e = np.exp(-abs(x))
    d = 1 + e
    flat[0] = 1 / d if x >= 0 else e / d
    return y
