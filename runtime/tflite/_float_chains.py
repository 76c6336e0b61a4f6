"""Float32 layer norms written as nine operators, run as one step of the executor.

Converters write a layer normalization over the last axis (openWakeWord's heads) as
``m = MEAN(x); d = SUB(x, m); v = MEAN(MUL(d, d)); r = RSQRT(ADD(v, eps));
y = ADD(MUL(MUL(d, r), gamma), beta)``. On one row of a few dozen values each operator's
numpy calls and the executor's bookkeeping cost more than the arithmetic; as one step, the
mean and the variance are each one dot product on the row and the scaling is done in place on
``d``, a fresh array: fewer calls, the same operations in the same order, except the two sums
(a dot product's summation order, within float32 rounding of the reference's sequential sum).
Each operator clamps its result to [-FLT_MAX, FLT_MAX] (LiteRT's activation range for NONE):
the step applies the last ADD's clamp and, where gamma could overflow, the MUL's; a variance
that is not finite (NaN, inf or an overflow in the row, where the other clamps matter) sends
the row through the operators one by one.

The pattern is matched by structure alone: the nine operators consecutive in the plan, both
MEANs over the last axis with ``keep_dims``, ``eps`` a one-element constant, ``gamma`` and
``beta`` constants of the row's length (or fewer dimensions that broadcast to it), every
tensor float32, no fused activation except on the last ADD (none, RELU or RELU6), and each
intermediate read only by the pattern's own readers (``d`` by the square and the scaling) and
no graph input, output or variable.

What the step keeps of the one-by-one run (as ``_fc_chains``): the operators are charged to
``max_nodes`` (the executor takes chained plans only when the whole run is charged at once);
the step runs its operators one by one, each with its own kernel, whenever the input is not
the declared one-row shape and float32, or the intermediates would not fit the run's memory
limits, so that the operator that goes over is named (the chain's input stays held to the end
of the step); with ``preserve_all_tensors`` the executor runs operators one by one.
"""

from __future__ import annotations

import math

import numpy as np

from runtime import _budget
from runtime.tflite._fc_chains import run_step
from runtime.tflite.kernels._common import FLT_MAX, activation_range_float, clip_ufunc
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType

LENGTH = 9  # operators in the pattern
LOWEST, HIGHEST = np.float32(-FLT_MAX), np.float32(FLT_MAX)
_ACTIVATIONS = (0, 1, 3)  # the last ADD's fused activation: none, RELU, RELU6
# the operator of each step, in the order converters write them
_OPS = (Op.MEAN, Op.SUB, Op.MUL, Op.MEAN, Op.ADD, Op.RSQRT, Op.MUL, Op.MUL, Op.ADD)


class Pattern:
    """The tensors of one matched layer norm: input, constants, and the step layout."""

    __slots__ = ("x", "eps", "gamma", "beta", "activation", "shape")

    def __init__(self, x, eps, gamma, beta, activation, shape):
        self.x = x
        self.eps = eps
        self.gamma = gamma
        self.beta = beta
        self.activation = activation
        self.shape = shape


def find_chains(ops, tensors, constants, keep, variables) -> list[tuple[int, Pattern]]:
    """(first step index, pattern) of each layer norm among the steps' operators ``ops``."""
    readers: dict[int, int] = {}
    for op in ops:
        for t in op.inputs:
            if t >= 0:
                readers[t] = readers.get(t, 0) + 1
    found = []
    k = 0
    while k + LENGTH <= len(ops):
        pattern = _match(ops[k : k + LENGTH], tensors, constants, keep, variables, readers)
        if pattern is None:
            k += 1
        else:
            found.append((k, pattern))
            k += LENGTH
    return found


def _match(ops, tensors, constants, keep, variables, readers) -> Pattern | None:
    if any(op.op != code for op, code in zip(ops, _OPS)):
        return None
    if any(len(op.outputs) != 1 for op in ops) or len(ops[5].inputs) != 1:
        return None
    if any(len(op.inputs) != 2 for i, op in enumerate(ops) if i != 5):
        return None
    mean, sub, square, mean2, add_eps, rsqrt, scale, mul_gamma, add_beta = ops
    x = mean.inputs[0]
    m, d, sq, v, ve, r, n, g, y = (op.outputs[0] for op in ops)
    if x < 0 or x in constants:
        return None
    shape = tuple(tensors[x].shape)
    if not shape or math.prod(shape) != shape[-1] or shape[-1] < 1:
        return None  # (one row: every leading dimension 1)
    row = shape[-1]
    reduced = (*shape[:-1], 1)
    wiring = (
        tuple(sub.inputs) == (x, m)
        and tuple(square.inputs) == (d, d)
        and mean2.inputs[0] == sq
        and tuple(rsqrt.inputs) == (ve,)
        and tuple(scale.inputs) == (d, r)
        and add_eps.inputs[0] == v
        and mul_gamma.inputs[0] == n
        and add_beta.inputs[0] == g
    )
    if not wiring:
        return None
    eps, gamma, beta = add_eps.inputs[1], mul_gamma.inputs[1], add_beta.inputs[1]
    if not all(t in constants for t in (eps, gamma, beta, mean.inputs[1], mean2.inputs[1])):
        return None
    if not all(_last_axis(constants[op.inputs[1]], len(shape)) for op in (mean, mean2)):
        return None
    if not all((op.options or {}).get("keep_dims") is True for op in (mean, mean2)):
        return None
    if any((op.options or {}).get("fused_activation_function", 0) != 0 for op in ops[1:8]):
        return None
    activation = (add_beta.options or {}).get("fused_activation_function", 0)
    if activation not in _ACTIVATIONS:
        return None
    values = [constants[t] for t in (eps, gamma, beta)]
    if any(a.dtype != np.float32 for a in values) or values[0].size != 1:
        return None
    if values[0].ndim > len(shape) or not all(_row_like(a, row, len(shape)) for a in values[1:]):
        return None
    every = [x, *(op.outputs[0] for op in ops)]
    if any(tensors[t].type != TensorType.FLOAT32 for t in every):
        return None
    expected = [reduced, shape, shape, reduced, reduced, reduced, shape, shape, shape]
    if any(tuple(tensors[op.outputs[0]].shape) != s for op, s in zip(ops, expected)):
        return None
    inner = (m, d, sq, v, ve, r, n, g)
    counts = {m: 1, d: 3, sq: 1, v: 1, ve: 1, r: 1, n: 1, g: 1}  # d: the square's two, scale's
    if any(readers.get(t) != counts[t] or t in keep or t in variables for t in inner):
        return None
    if y in variables:
        return None
    return Pattern(x, values[0].reshape(()), values[1], values[2], activation, shape)


def _last_axis(axis: np.ndarray, rank: int) -> bool:
    """Whether a MEAN's axis constant names the last axis alone."""
    if axis.dtype not in (np.int32, np.int64) or axis.size != 1:
        return False
    a = int(axis.reshape(-1)[0])
    return a in (-1, rank - 1)


def _row_like(a: np.ndarray, row: int, rank: int) -> bool:
    """A per-element constant of the row: ``row`` values, at most ``rank`` dimensions."""
    return a.ndim <= rank and a.size == row and (a.ndim == 0 or a.shape[-1] == row)


def chain_kernel(pattern, kernels, ops, constants, wheres, wants, relabel):
    """The eval of a layer norm: it takes the MEAN's input and gives the last ADD's output.

    ``kernels``: the nine steps' evals; ``wheres``: each step's output label for budget
    errors; ``wants``: each output's declared numpy dtype; ``relabel(op, error, args)``: the
    executor's labelling of a kernel failure."""
    shape = pattern.shape
    row = shape[-1]
    count = np.float32(row)
    eps, gamma, beta = pattern.eps, pattern.gamma, pattern.beta
    ones = np.ones(row, np.float32)
    one = np.float32(1)
    lo, hi = (np.float32(v) for v in activation_range_float(pattern.activation))
    # |d / sqrt(mean(d * d) + eps)| <= sqrt(row) for eps >= 0: times gamma below FLT_MAX, the
    # MUL by gamma cannot overflow and its clamp is skipped
    bound = math.sqrt(row) * float(np.abs(gamma).max(initial=0))
    gamma_may_overflow = not (float(eps) >= 0 and bound < 0.5 * FLT_MAX)
    x_id = pattern.x
    produced = {op.outputs[0]: k for k, op in enumerate(ops)}
    # each step's inputs: ("x",), ("made", step) or ("constant", value)
    sources = [
        [
            ("x", None)
            if t == x_id
            else ("made", produced[t])
            if t in produced
            else ("constant", constants.get(t))
            for t in op.inputs
        ]
        for op in ops
    ]
    last_read = {}
    for k, srcs in enumerate(sources):
        for kind, j in srcs:
            if kind == "made":
                last_read[j] = k
    # bytes each step's output has in the one-row run, and the most held at once beyond the
    # run's own holding (the input stays held to the end, as its release follows the step)
    sizes = [math.prod(s) * 4 for s in _declared(shape)]
    peak = held = 0
    for k, n in enumerate(sizes):
        held += n
        peak = max(peak, held)
        held -= sum(sizes[j] for j, last in last_read.items() if last == k)
    biggest = max(sizes)
    steps = list(zip(kernels, sources, ops, wheres, wants))

    def run_chain(x):
        budget = _budget.active()
        limits = budget.limits
        if (
            x.shape != shape
            or x.dtype != np.float32
            or budget.held_bytes + peak > limits.max_memory_bytes
            or biggest > limits.max_tensor_bytes
        ):
            return one_by_one(x, budget)
        flat = x.reshape(row)
        d = x - flat.dot(ones) / count
        flat = d.reshape(row)
        variance = flat.dot(flat) / count + eps
        if not math.isfinite(variance):
            # NaN, inf or an overflow in x (a NaN or inf mean makes the variance so too): the
            # operators' own clamps to +-FLT_MAX then matter, so they run one by one
            return one_by_one(x, budget)
        # A finite variance: every d * d, d and the variance are finite, and the SUB, MUL,
        # MEAN and ADD clamps to +-FLT_MAX before the scaling change nothing.
        d *= one / np.sqrt(variance)
        d *= gamma
        if gamma_may_overflow:
            clip_ufunc(d, LOWEST, HIGHEST, out=d)  # (the MUL's clamp)
        d += beta
        clip_ufunc(d, lo, hi, out=d)  # the last ADD's clamp (NONE too: +-FLT_MAX)
        return [d]

    def one_by_one(x, budget):
        """The steps in turn, each output held until its last reader in the chain is done
        (another input shape, or a run near its memory limit: the operator that goes over is
        named)."""
        held = budget.held_bytes
        made = []
        for k, (kernel, srcs, op, where, want) in enumerate(steps):
            args = tuple(x if kind == "x" else made[j] if kind == "made" else j for kind, j in srcs)
            v = run_step(kernel, args, op, where, want, held, budget, relabel)
            held += v.nbytes
            made.append(v)
            for j, last in last_read.items():
                if last == k:
                    held -= made[j].nbytes
        return [made[-1]]

    return run_chain


def _declared(shape):
    """The nine outputs' shapes for an input of ``shape``."""
    reduced = (*shape[:-1], 1)
    return [reduced, shape, shape, reduced, reduced, reduced, shape, shape, shape]
