"""Runs the main subgraph in slices of the batch when that cannot change any result.

A batch of 256 images pushed through a CNN one operator at a time streams every activation
through main memory; slices of a few images keep them in cache, and two slices can run at once
(numpy releases the GIL). This is only done when every operator provably treats batch rows
independently: the analysis below follows which tensors carry the batch on axis 0 and accepts an
operator only if it maps batch rows to batch rows. Anything it is unsure of (recurrent state,
WHILE, gathers or slices along axis 0, reshapes to a constant batch, ...) disables slicing.
"""

from __future__ import annotations

import numpy as np

from runtime import _budget, _parallel
from runtime.tflite.model import SubGraph
from runtime.tflite.schema import BuiltinOperator as Op

# Operators whose outputs carry the batch when their (first) batch input does, unconditionally.
_ROWWISE = {
    Op.CONV_2D,
    Op.DEPTHWISE_CONV_2D,
    Op.AVERAGE_POOL_2D,
    Op.MAX_POOL_2D,
    Op.LOGISTIC,
    Op.TANH,
    Op.RELU,
    Op.RELU6,
    Op.RELU_N1_TO_1,
    Op.ELU,
    Op.GELU,
    Op.HARD_SWISH,
    Op.LEAKY_RELU,
    Op.QUANTIZE,
    Op.DEQUANTIZE,
    Op.CAST,
    Op.RESIZE_NEAREST_NEIGHBOR,  # the rule below requires its size input to be constant
    Op.RESIZE_BILINEAR,
}
_BINARY = {
    Op.ADD,
    Op.SUB,
    Op.MUL,
    Op.DIV,
    Op.MAXIMUM,
    Op.MINIMUM,
    Op.LESS,
    Op.LESS_EQUAL,
    Op.GREATER,
    Op.GREATER_EQUAL,
    Op.EQUAL,
    Op.NOT_EQUAL,
    Op.LOGICAL_AND,
    Op.LOGICAL_OR,
}
# Operators on small shape vectors (SHAPE's output and what is computed from it) are re-run
# per slice, which is exactly what the slice needs.
_METADATA = {
    Op.STRIDED_SLICE,
    Op.PACK,
    Op.CONCATENATION,
    Op.ADD,
    Op.SUB,
    Op.MUL,
    Op.CAST,
    Op.RESHAPE,
    Op.SQUEEZE,
    Op.EXPAND_DIMS,
    Op.GATHER,
    Op.FILL,
    Op.SLICE,
}


def batch_sliceable(sg: SubGraph, constants: dict) -> bool:
    """True when every operator of ``sg`` keeps batch rows independent."""
    return batch_carriers(sg, constants) is not None


def batch_carriers(sg: SubGraph, constants: dict) -> set | None:
    """The tensors that carry the batch on axis 0, or None when ``sg`` may mix batch rows."""
    if not sg.inputs or any(t.is_variable for t in sg.tensors):
        return None
    carries = {t: True for t in sg.inputs}  # tensor -> carries the batch on axis 0
    for op in sg.operators:
        ins = [t for t in op.inputs if t >= 0]
        batch_ins = [t for t in ins if carries.get(t)]
        if not batch_ins:
            if op.op not in _METADATA and any(t not in constants for t in ins):
                return None
            for t in op.outputs:
                carries[t] = False
            continue
        if not _row_preserving(op, sg, constants, carries):
            return None
        for t in op.outputs:
            carries[t] = op.op != Op.SHAPE
    if not all(carries.get(t) for t in sg.outputs):
        return None
    return {t for t, flag in carries.items() if flag}


def _rank(sg, t):
    return len(sg.tensors[t].shape)


def _row_preserving(op, sg, constants, carries) -> bool:
    first = op.inputs[0]
    code = op.op
    if code in _ROWWISE:
        return carries.get(first, False) and all(
            t < 0 or carries.get(t) or t in constants for t in op.inputs[1:]
        )
    if code in _BINARY:
        a, b = op.inputs[:2]
        for t, other in ((a, b), (b, a)):
            if not carries.get(t):
                # A non-batch operand may only broadcast: lower rank, or a leading 1.
                if t not in constants:
                    return False
                if _rank(sg, t) >= _rank(sg, other) and sg.tensors[t].shape[:1] != (1,):
                    return False
        return True
    if code == Op.SOFTMAX:
        return carries.get(first, False) and _rank(sg, first) >= 2
    if code == Op.FULLY_CONNECTED:
        return carries.get(first, False) and (
            _rank(sg, first) == 2 or op.options.get("keep_num_dims")
        )
    if code in (Op.MEAN, Op.SUM):
        axes = constants.get(op.inputs[1])
        rank = _rank(sg, first)
        return axes is not None and rank > 0 and all(int(a) % rank != 0 for a in axes.ravel())
    if code == Op.CONCATENATION:
        rank = _rank(sg, first)
        return (
            rank > 1 and op.options["axis"] % rank != 0 and all(carries.get(t) for t in op.inputs)
        )
    if code in (Op.PAD, Op.PADV2):
        pads = constants.get(op.inputs[1])
        return pads is not None and pads.ndim == 2 and not np.any(pads[0])
    if code == Op.RESHAPE:
        if len(op.inputs) > 1 and op.inputs[1] >= 0:
            shape = constants.get(op.inputs[1])
            if shape is None:
                return carries.get(op.inputs[1]) is False  # computed per slice from SHAPE
        else:
            shape = op.options.get("new_shape")
            shape = None if shape is None else np.asarray(shape)
        return shape is not None and shape.size > 0 and int(np.ravel(shape)[0]) == -1
    if code == Op.SHAPE:
        return True  # its output is per-slice metadata (marked below as not carrying)
    return False


def run_sliced(executor, feeds: dict, rows: int, threads: int) -> dict:
    """Run ``executor`` on slices of ``rows`` batch rows and concatenate the outputs."""
    sg = executor.subgraph
    batch = next(iter(feeds.values())).shape[0]
    starts = list(range(0, batch, rows))
    results: list = [None] * len(starts)

    limits = _budget.active().limits

    def work(k):
        s = starts[k]
        sliced = {t: v[s : s + rows] for t, v in feeds.items()}
        # Each slice has its own budget: slicing is the caller's batch, not the file's doing
        # (sliced graphs hold no control flow), so it must not use up the file's allowance.
        with _budget.running(_budget.Budget(limits)):
            values = executor.run(sliced, keep_all=False)
        results[k] = [values[t] for t in sg.outputs]

    _parallel.run_tasks(work, range(len(starts)), threads)
    return {t: np.concatenate([r[i] for r in results]) for i, t in enumerate(sg.outputs)}
