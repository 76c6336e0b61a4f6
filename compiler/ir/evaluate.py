"""A small reference evaluator of IR graphs, the oracle of the pass tests and constant folding.

It runs the ops in order on numpy arrays (float kernels in ``_kernels``; QUANTIZE and
DEQUANTIZE by the affine formula of the values' ``QuantParams``) and checks every result
against the shape its value declares, so a lowering or pass that gets a shape wrong fails here.
"""

from __future__ import annotations

import numpy as np

from compiler.ir._kernels import KERNELS
from compiler.ir.errors import IRError
from compiler.ir.graph import Graph, Op, Value
from compiler.ir.ops import OPS

__all__ = ["evaluate", "run_op"]


def _quant_shape(q, rank):
    if not q.per_channel:
        return q.scale[0], q.zero_point[0]
    shape = [1] * rank
    shape[q.quantized_dimension] = -1
    return q.scale.reshape(shape), q.zero_point.reshape(shape)


def _quantize(op: Op, x):
    out = op.outputs[0]
    scale, zp = _quant_shape(out.quant, x.ndim)
    info = np.iinfo(out.dtype)
    # TFLite rounds half away from zero (TfLiteRound); numpy's round is half to even.
    v = x.astype(np.float64) / scale
    q = np.sign(v) * np.floor(np.abs(v) + 0.5) + zp
    return np.clip(q, info.min, info.max)


def _dequantize(op: Op, x):
    scale, zp = _quant_shape(op.inputs[0].quant, x.ndim)
    return (x.astype(np.float64) - zp) * scale


def run_op(op: Op, arrays: list) -> list[np.ndarray]:
    """Runs one op on numpy inputs (``None`` for absent optional inputs)."""
    if op.type == "QUANTIZE":
        result = _quantize(op, arrays[0])
    elif op.type == "DEQUANTIZE":
        result = _dequantize(op, arrays[0])
    else:
        kernel = KERNELS.get(op.type)
        if kernel is None:
            raise IRError(f"the IR evaluator has no kernel for op {op.type} ({op.name})")
        spec = OPS[op.type]
        if not spec.variadic:  # absent trailing optional inputs
            arrays = list(arrays) + [None] * (len(spec.inputs) - len(arrays))
        result = kernel(*arrays, **op.attrs)
    out = op.outputs[0]
    return [np.asarray(result).astype(out.dtype)]


def _check_shape(value: Value, array: np.ndarray) -> None:
    ok = len(value.shape) == array.ndim and all(
        d is None or d == a for d, a in zip(value.shape, array.shape)
    )
    if not ok:
        raise IRError(
            f"value {value.name!r} declares shape {value.shape} but evaluates to {array.shape}"
        )


def evaluate(graph: Graph, feeds, keep_all: bool = False):
    """Runs ``graph`` on ``feeds``.

    Args:
        graph: the graph.
        feeds: a list of arrays in input order, or a dict by input name.
        keep_all: also return every intermediate value.

    Returns:
        The list of output arrays, or with ``keep_all`` a dict ``name -> array`` of all values.
    """
    if isinstance(feeds, dict):
        missing = [v.name for v in graph.inputs if v.name not in feeds]
        if missing:
            raise IRError(f"missing feeds {missing}; inputs are {[v.name for v in graph.inputs]}")
        feeds = [feeds[v.name] for v in graph.inputs]
    if len(feeds) != len(graph.inputs):
        raise IRError(f"graph {graph.name!r} takes {len(graph.inputs)} inputs, got {len(feeds)}")
    env: dict[int, np.ndarray] = {}
    names: dict[str, np.ndarray] = {}
    for value, array in zip(graph.inputs, feeds):
        array = np.asarray(array, dtype=value.dtype)
        _check_shape(value, array)
        env[id(value)] = array

    def read(v):
        if v is None:
            return None
        if v.is_const:
            return v.data
        if id(v) not in env:
            raise IRError(f"value {v.name!r} is read before it is computed")
        return env[id(v)]

    for op in graph.ops:
        results = run_op(op, [read(v) for v in op.inputs])
        for value, array in zip(op.outputs, results):
            _check_shape(value, array)
            env[id(value)] = array
            names[value.name] = array
    outputs = [read(v) for v in graph.outputs]
    if keep_all:
        names.update({v.name: read(v) for v in graph.inputs + graph.outputs})
        return names
    return outputs
