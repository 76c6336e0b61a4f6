"""Chains of int8 FULLY_CONNECTED operators on one row, run as one step of the executor.

In a TFLite Micro-sized dense stack (an autoencoder, an anomaly detector) each layer's output
is read by the next layer alone. Run one by one, each layer turns its int8 output back into
the float GEMM operand of the next (a cast) and goes through the executor's bookkeeping; run
as a chain, a layer's requantization result (the index of its output level, see
``fully_connected._search_requantizer``) reads the next layer's operand straight from a table
of its int8 levels in that layer's GEMM dtype. The levels are integers, exact in float32 and
float64: the same operands, so the same products, the same outputs, bit for bit. 8-bit lookups
after the last layer (its DEQUANTIZE, an int8 LOGISTIC: ``_byte_tables``) are functions of
its output level alone: their tables composed on its levels make one table read by the index.
A float32 -> int8 QUANTIZE before the first layer (the model's float input) finds its output
levels by its own thresholds (``_quantize_search``) and reads the first operand the same way.

What the chain keeps of the one-by-one run: the operators are charged to ``max_nodes`` (the
executor takes a chain only when the whole run is charged at once); each intermediate output
is held against ``max_memory_bytes`` and ``max_tensor_bytes`` from the layer that makes it to
the layer that reads it, with the operator that goes over named, except that the chain's
input stays held to the end of the chain (a few hundred bytes of one row, charged longer);
a failure inside a layer's kernel is labelled with that layer. The chain's intermediates are
not among the run's values, as they were not after their last reader without
``preserve_all_tensors`` (with it, the executor runs operators one by one).
"""

from __future__ import annotations

import numpy as np

from runtime import _budget
from runtime.errors import InvalidModelError, KernelError


class Link:
    """What a one-row int8 FULLY_CONNECTED that requantizes by thresholds exposes to a chain:
    the input row's shape, its GEMM's dtype and operand, and its requantizer."""

    __slots__ = ("row_shape", "gemm", "w_t", "thresholds", "offsets", "levels")

    def __init__(self, row_shape, gemm, w_t, thresholds, offsets, levels):
        self.row_shape = row_shape
        self.gemm = gemm
        self.w_t = w_t
        self.thresholds = thresholds
        self.offsets = offsets
        self.levels = levels

    def index(self, operand: np.ndarray) -> np.ndarray:
        """The output level index of each unit for a (1, depth) operand in ``gemm``: the
        kernel's own steps (``fully_connected._int8``'s search path)."""
        y = np.dot(operand, self.w_t)
        if y.dtype != np.float64:
            y = y.astype(np.float64)
        y += self.offsets
        return self.thresholds.searchsorted(y, "right")


def link_of(kernel) -> Link | None:
    """The chain link an eval exposes, if any (``fully_connected._int8`` sets it)."""
    return getattr(kernel, "chain_link", None)


def search_of(kernel) -> tuple | None:
    """(thresholds, range limit) of a float32 -> int8 QUANTIZE that may search (``quantize``)."""
    return getattr(kernel, "quantize_search", None)


def table_of(kernel) -> np.ndarray | None:
    """The 256-entry table of an 8-bit lookup eval, if it is one (``_byte_tables``)."""
    return getattr(kernel, "byte_table", None)


def find_chains(steps, keep, variables) -> list[tuple[int, int]]:
    """(first, last) step indices of each maximal chain of two or more steps: a QUANTIZE that
    may search, linkable dense layers, then any 8-bit lookups (DEQUANTIZE, int8 LOGISTIC...),
    where each step's one output is read by the next step alone, as its first input, and is
    no graph input or output or variable, and the next step's other inputs are constants.

    ``steps``: (op, kernel, constant input ids) per executor step, in order."""
    readers: dict[int, int] = {}
    for op, _, _ in steps:
        for t in op.inputs:
            if t >= 0:
                readers[t] = readers.get(t, 0) + 1
    chains = []
    k = 0
    while k < len(steps):
        j = k
        while (
            j + 1 < len(steps)
            and (link_of(steps[k][1]) is not None or search_of(steps[k][1]) is not None)
            and _joins(steps[j], steps[j + 1], readers, keep, variables)
        ):
            j += 1
        if j > k:
            chains.append((k, j))
        k = j + 1
    return chains


def _joins(step, nxt, readers, keep, variables) -> bool:
    op, kernel, _ = step
    next_op, next_kernel, constants = nxt
    link, next_link = link_of(kernel), link_of(next_kernel)
    table, next_table = table_of(kernel), table_of(next_kernel)
    if len(op.outputs) != 1:
        return False
    if link is not None and next_link is not None:
        fits = next_link.row_shape == (1, link.offsets.shape[1])  # (one row of its units)
    elif search_of(kernel) is not None:  # a QUANTIZE of the first layer's row
        # (imported here: the kernels import this module for ``Link``)
        from runtime.tflite.kernels.quantize import SEARCH_MAX_ELEMENTS

        fits = next_link is not None and next_link.row_shape[1] <= SEARCH_MAX_ELEMENTS
    else:  # a lookup after a layer or after an 8-bit lookup, reading that output alone
        fits = (
            next_table is not None
            and len(next_op.inputs) == 1
            and (link is not None or (table is not None and table.dtype.itemsize == 1))
        )
    t = op.outputs[0]
    return (
        fits
        and len(next_op.inputs) >= 1
        and next_op.inputs[0] == t
        and readers.get(t) == 1
        and t not in keep
        and t not in variables
        and all(u < 0 or u in constants for u in next_op.inputs[1:])
    )


def chain_kernel(kernels, tails, ops, wheres, wants, relabel):
    """The eval of a chain: it takes the first operator's inputs and gives the last one's
    output.

    ``kernels``: the steps' evals; ``tails``: each later step's inputs after the first (its
    constants); ``wheres``: each step's output label for budget errors; ``wants``: each
    output's declared numpy dtype; ``relabel(op, error, args)``: the executor's labelling of
    a kernel failure."""
    search = search_of(kernels[0])
    links = [link_of(k) for k in kernels if link_of(k) is not None]
    lookups = [table_of(k) for k in kernels[len(links) + (search is not None) :]]
    first = links[0]
    if search is not None:
        thresholds, squares_limit = search
        # QUANTIZE's output for each search result, as the first layer's GEMM operand
        quantized = np.arange(-128, 128, dtype=np.float64).astype(first.gemm)
    # each link's output levels as the next link's GEMM operand
    tables = [links[i].levels.astype(links[i + 1].gemm) for i in range(len(links) - 1)]
    last = links[-1]
    # the chain's output for each of the last link's levels: its levels through the lookups
    # (an int8 value indexes a table by its bit pattern: take's wrap mode)
    final = last.levels
    for lookup in lookups:
        final = lookup.take(final, mode="wrap")
    units = last.offsets.shape[1]
    sizes = [link.offsets.shape[1] for link in links]  # int8 units: bytes of each output
    if search is not None:
        sizes.insert(0, first.row_shape[1])
    sizes += [units * lookup.dtype.itemsize for lookup in lookups]
    # the most held at once beyond the run's own holding: two consecutive outputs
    pair_peak = max(a + b for a, b in zip([0, *sizes], sizes))
    biggest = max(sizes)
    steps = list(zip(kernels, [None, *tails], ops, wheres, wants))

    def run_chain(x, *rest):
        budget = _budget.active()
        limits = budget.limits
        if (
            x.shape != first.row_shape
            or x.dtype != (np.int8 if search is None else np.float32)
            or budget.held_bytes + pair_peak > limits.max_memory_bytes
            or biggest > limits.max_tensor_bytes
        ):
            return one_by_one(x, rest, budget)
        if search is None:
            index = first.index(x.astype(first.gemm))
        else:
            flat = x.reshape(-1)
            if not np.dot(flat, flat) < squares_limit:  # (QUANTIZE's range test; NaN fails)
                return one_by_one(x, rest, budget)
            index = first.index(quantized.take(thresholds.searchsorted(x, "right")))
        for table, link in zip(tables, links[1:]):
            index = link.index(table.take(index))
        return [final.take(index)]

    def one_by_one(x, rest, budget):
        """The steps in turn, each output held until the next step has made its own (another
        input shape, or a run near its memory limit: the operator that goes over is named)."""
        held = budget.held_bytes
        previous = 0
        y = x
        for kernel, tail, op, where, want in steps:
            args = (y, *(rest if tail is None else tail))
            y = run_step(kernel, args, op, where, want, held, budget, relabel)
            held += y.nbytes - previous
            previous = y.nbytes
        return [y]

    return run_chain


def run_step(kernel, args, op, where: str, want, held: int, budget, relabel):
    """One operator of a chain run one by one, checked as the executor checks it: the kernel
    (a failure relabelled by ``relabel``, which raises), one output of the declared dtype
    ``want``, its bytes charged on top of the ``held`` ones (over a limit, the budget raises
    naming the operator's output). Returns that output; the caller keeps the count."""
    try:
        outputs = kernel(*args)
    except Exception as e:
        relabel(op, e, args)  # raises
    if len(outputs) != 1:
        raise KernelError(f"{where}: the kernel gave {len(outputs)} outputs, not 1")
    v = outputs[0]
    if v.dtype != want:
        raise InvalidModelError(f"{where}: got a value of dtype {v.dtype}, declared {want}")
    n = v.nbytes
    limits = budget.limits
    if held + n > limits.max_memory_bytes or n > limits.max_tensor_bytes:
        budget.held_bytes = held
        budget.hold(n, where)  # raises, naming the operator's output
    return v
