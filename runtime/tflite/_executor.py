"""Runs one subgraph: constants decoded once, kernels prepared once, a loop over operators.

Each operator's outputs are checked against the dtypes the file declares, so a kernel bug or a
file that lies about a type is reported at the operator, not three ops later. Each operator run
is charged to the run's budget (``runtime._budget``): one of ``max_nodes``, and its outputs are
held against ``max_tensor_bytes`` / ``max_memory_bytes`` until their last use.

The execution is planned once, when the subgraph is loaded: per operator its kernel, input and
output tensor ids, declared output dtypes, the tensors whose last use it is and its labels, so
that ``run`` does no per-operator lookups beyond the values themselves (on TFLite Micro-sized
models the loop's own cost is of the order of the kernels'). A second plan runs chains of
one-row int8 dense layers (``_fc_chains``) and one-row float32 layer norms
(``_float_chains``) as single steps when nothing asks for their intermediates.

A failure inside a kernel is labelled by what it says: ``ValueError`` / ``OverflowError`` /
``ZeroDivisionError`` from numpy on the values the model asks for are the model's fault
(``InvalidModelError``); ``TypeError``, ``IndexError``, ``KeyError``, ``AttributeError`` and
``NotImplementedError`` are this runtime's own bugs (``KernelError``, a ``RuntimeError`` naming
the operator, chained to the original).
"""

from __future__ import annotations

import math
import operator

import numpy as np

from runtime import _budget
from runtime.errors import (
    BudgetExceededError,
    InvalidModelError,
    KernelError,
    UnsupportedOpError,
    raise_relabelled,
)
from runtime.tflite import _fc_chains, _float_chains, _sparse, _strings, schema
from runtime.tflite.kernels import CUSTOM_REGISTRY, REGISTRY
from runtime.tflite.kernels._common import OpContext
from runtime.tflite.model import Model, Tensor
from runtime.tflite.schema import BuiltinOperator

# The numpy dtype of each tensor type's values while running; a RESOURCE tensor (VAR_HANDLE's
# output) holds its variable's int32 id, as in LiteRT.
_VALUE_DTYPES = {**schema.TENSOR_TYPE_TO_NUMPY, schema.TensorType.RESOURCE: np.dtype(np.int32)}


def constant_value(t: Tensor, where: str) -> np.ndarray:
    """The numpy value of a constant tensor (read-only, shares the file's memory)."""
    dtype = schema.TENSOR_TYPE_TO_NUMPY.get(t.type)
    if dtype is None:
        raise UnsupportedOpError(
            f"{where}: constant tensor {t.name!r} has unsupported type {t.type}"
        )
    if t.type == schema.TensorType.STRING:
        if t.sparse:
            raise UnsupportedOpError(f"{where}: sparse STRING constant {t.name!r}")
        return _strings.decode(t.data, t.shape, f"{where} constant tensor {t.name!r}")
    if t.sparse:
        return _sparse.densify_tensor(t, dtype, where)
    return (
        np.frombuffer(t.data, dtype=dtype.newbyteorder("<"))
        .astype(dtype, copy=False)
        .reshape(t.shape)
    )


# Operators whose kernels run other subgraphs of the model.
_RUNS_SUBGRAPHS = {BuiltinOperator.WHILE, BuiltinOperator.IF, BuiltinOperator.CALL_ONCE}

# Control flow calls other subgraphs; their results are not constants of this one.
_NOT_FOLDABLE = {
    BuiltinOperator.WHILE,
    BuiltinOperator.IF,
    BuiltinOperator.CALL_ONCE,
    BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM,
    BuiltinOperator.BIDIRECTIONAL_SEQUENCE_LSTM,
    BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_RNN,
    # a new draw at each invoke from a constant shape
    BuiltinOperator.RANDOM_UNIFORM,
    BuiltinOperator.RANDOM_STANDARD_NORMAL,
    BuiltinOperator.MULTINOMIAL,
}


def _missing_name(op) -> str | None:
    """The name of ``op`` if this runtime has no kernel for it, else None."""
    if op.op == BuiltinOperator.CUSTOM:
        return None if op.custom_code in CUSTOM_REGISTRY else f"custom op {op.custom_code!r}"
    return None if op.op in REGISTRY else op.name


def check_supported(model: Model) -> None:
    """Refuse a model whose operators this runtime lacks, naming every missing one at once
    (with its number of uses and first place), so a user learns the whole gap in one try."""
    missing: dict[str, list] = {}
    for sg in model.subgraphs:
        for op in sg.operators:
            name = _missing_name(op)
            if name is not None:
                missing.setdefault(name, []).append((sg.index, op.index))
    if not missing:
        return
    parts = []
    for name, places in missing.items():
        sg_index, op_index = places[0]
        uses = f", {len(places)} uses" if len(places) > 1 else ""
        parts.append(f"{name} (first at subgraph {sg_index} operator {op_index}{uses})")
    raise UnsupportedOpError(
        f"{len(missing)} operator(s) of this model are not supported by this runtime: "
        + "; ".join(parts)
    )


class SubgraphCaller:
    """Lets control-flow kernels run other subgraphs of the same model."""

    def __init__(self, model: Model, max_loop_iterations: int, max_tensor_bytes: int):
        check_supported(model)
        self.model = model
        self.max_loop_iterations = max_loop_iterations
        self.max_tensor_bytes = max_tensor_bytes
        self._executors: dict[int, SubgraphExecutor] = {}
        # With preserve_all_tensors: each called subgraph's values from its latest run.
        self.preserve = False
        self.last_values: dict[int, dict] = {}
        # State this interpreter keeps across invokes for the kernels in kernels/variables.py:
        # resource variables and the CALL_ONCE operators that have run.
        self.resources = {}

    def executor(self, index: int) -> SubgraphExecutor:
        if index not in self._executors:
            self._executors[index] = SubgraphExecutor(self.model, index, self)
        return self._executors[index]

    def __call__(self, index: int, values: list, expect_outputs: int) -> list:
        ex = self.executor(index)
        sg = ex.subgraph
        if len(sg.inputs) != len(values) or len(sg.outputs) != expect_outputs:
            raise InvalidModelError(
                f"subgraph {index} takes {len(sg.inputs)} inputs and gives {len(sg.outputs)} "
                f"outputs; called with {len(values)} and expecting {expect_outputs}"
            )
        for t, v in zip(sg.inputs, values):
            ex.check_value(t, v)
        result = ex.run(dict(zip(sg.inputs, values)), keep_all=self.preserve)
        if self.preserve:
            self.last_values[index] = result
        return [result[t] for t in sg.outputs]


def _reset_value(t: Tensor) -> np.ndarray:
    """A variable tensor's value before its first write: ``ResetVariableTensor`` fills an int8
    one with its zero point (the quantized 0.0, e.g. an integer LSTM's output state), any other
    with zero bytes."""
    dtype = schema.TENSOR_TYPE_TO_NUMPY[t.type]
    q = t.quantization
    if t.type == schema.TensorType.INT8 and q is not None and len(q.zero_point):
        # memset of the zero point: its low byte
        return np.full(t.shape, ((int(q.zero_point[0]) + 128) & 0xFF) - 128, np.int8)
    return np.zeros(t.shape, dtype)


class SubgraphExecutor:
    """Prepared kernels of one subgraph and the loop that runs them."""

    def __init__(self, model: Model, index: int, caller: SubgraphCaller):
        self.subgraph = sg = model.subgraphs[index]
        where = f"subgraph {index}"
        self.constants = {
            i: constant_value(t, where)
            for i, t in enumerate(sg.tensors)
            if t.data is not None and not t.is_variable
        }
        # Variable tensors (recurrent state) are updated in place by their operators and keep
        # their values from one invoke to the next, as in TFLite.
        self.initial_variables = {}
        for i, t in enumerate(sg.tensors):
            if t.is_variable:
                if t.type not in schema.TENSOR_TYPE_TO_NUMPY:
                    raise UnsupportedOpError(
                        f"{where}: variable tensor {t.name!r} has unsupported type {t.type}"
                    )
                # Kept twice (initial and current value): charged before either is made.
                nbytes = math.prod(t.shape) * schema.TENSOR_TYPE_TO_NUMPY[t.type].itemsize
                for _ in range(2):
                    _budget.active().hold(nbytes, f"{where}: variable tensor {i} ({t.name!r})")
                self.initial_variables[i] = (
                    constant_value(t, where).copy() if t.data is not None else _reset_value(t)
                )
        self.variables = {i: v.copy() for i, v in self.initial_variables.items()}
        used = set(sg.inputs) | set(sg.outputs)
        for op in sg.operators:
            used.update(t for t in op.inputs + op.outputs if t >= 0)
        for t in sorted(used):
            if sg.tensors[t].type not in _VALUE_DTYPES:
                raise UnsupportedOpError(
                    f"{where} tensor {t} ({sg.tensors[t].name!r}): tensor type "
                    f"{sg.tensors[t].type} is not supported"
                )
        self.max_tensor_bytes = caller.max_tensor_bytes
        # (operator, kernel) pairs that run at invoke; operators whose inputs are all constant
        # (e.g. DEQUANTIZE of float16 weights) run once here and their outputs become
        # constants, as TFLite evaluates them at Prepare.
        self.steps = []
        for op in sg.operators:
            if op.op == BuiltinOperator.CUSTOM:
                prepare = CUSTOM_REGISTRY.get(op.custom_code)
            else:
                prepare = REGISTRY.get(op.op)
            if prepare is None:
                what = op.custom_code if op.op == 32 else op.name
                raise UnsupportedOpError(
                    f"{where} operator {op.index}: {what} is not supported by this runtime"
                )
            ctx = OpContext(op, sg.tensors, self.constants, caller)
            kernel = self._guard(op, prepare, ctx, what="is invalid")
            if self._foldable(op):
                args = [None if t < 0 else self.constants[t] for t in op.inputs]
                outputs = self._guard(op, kernel, *args, what="failed on its constant inputs")
                # A kernel may give a numpy scalar for a 0-d result; constants are frozen arrays.
                outputs = [np.asarray(v) for v in outputs]
                self._store(op, outputs, self.constants)
                for v in outputs:
                    v.flags.writeable = False
                continue
            self.steps.append((op, kernel))
        self.labels = [f"subgraph {index} operator {op.index} ({op.name})" for op, _ in self.steps]
        # Last step reading each tensor, so that intermediates can be released early.
        self.last_use = {}
        for k, (op, _) in enumerate(self.steps):
            for t in op.inputs:
                self.last_use[t] = k
        self.keep = set(sg.outputs) | set(sg.inputs)
        self.plan = [self._plan_step(k, op, kernel) for k, (op, kernel) in enumerate(self.steps)]
        # Tensors other than constants and inputs that a run without keep_all can leave among
        # its values: what it made and did not release, and the variables.
        present = set()
        for _, _, _, _, _, _, outs, _, drop, _, _ in self.plan:
            present.update(outs)
            present.difference_update(drop)
        self.results = tuple(sorted(present | set(self.initial_variables)))
        # Without operators that run subgraphs (whose runs charge nodes too), the run's
        # operators can be charged to max_nodes all at once when they fit (see ``_run``).
        self.nested = any(op.op in _RUNS_SUBGRAPHS for op, _ in self.steps)
        self.base = {**self.constants, -1: None}
        # The plan with chains of one-row int8 dense layers (_fc_chains) and of float layer
        # norms (_float_chains) as single steps, for runs that keep only what outlives its
        # readers and charge all operators at once (with subgraphs, each chain its own).
        self.chained_plan = self._chained_plan()

    def _chained_plan(self) -> list | None:
        steps = [(op, kernel, self.constants) for op, kernel in self.steps]
        chains = _fc_chains.find_chains(steps, self.keep, self.initial_variables)
        norms = _float_chains.find_chains(
            [op for op, _ in self.steps],
            self.subgraph.tensors,
            self.constants,
            self.keep,
            self.initial_variables,
        )
        if not chains and not norms:
            return None
        # (first, last, step) of each replacement; the two kinds never share a step (int8
        # dense layers, float32 arithmetic), checked all the same
        replaced = [(first, last, self._fc_step(first, last)) for first, last in chains]
        taken = {k for first, last in chains for k in range(first, last + 1)}
        for first, pattern in norms:
            last = first + _float_chains.LENGTH - 1
            if not taken.intersection(range(first, last + 1)):
                replaced.append((first, last, self._norm_step(first, last, pattern)))
        plan = list(self.plan)
        for first, last, step in sorted(replaced, key=lambda r: r[0], reverse=True):
            if self.nested:
                step = _charging(step, last - first)
            plan[first : last + 1] = [step]
        return plan

    def _fc_step(self, first: int, last: int) -> tuple:
        """The plan step of an ``_fc_chains`` chain of steps ``first`` to ``last``."""
        ops = [op for op, _ in self.steps[first : last + 1]]
        kernel = _fc_chains.chain_kernel(
            kernels=[kernel for _, kernel in self.steps[first : last + 1]],
            tails=[[self.constants.get(t) for t in op.inputs[1:]] for op in ops[1:]],
            ops=ops,
            wheres=[self.plan[k][10][0] for k in range(first, last + 1)],
            wants=[self.plan[k][5] for k in range(first, last + 1)],
            relabel=self._relabel,
        )
        head, tail = self.plan[first], self.plan[last]
        op, _, fetch, one_input, _, _, _, _, drop, label, _ = head
        _, _, _, _, t, want, outs, wants, _, _, where = tail
        # the first step's inputs and releases, the last step's output
        return (op, kernel, fetch, one_input, t, want, outs, wants, drop, label, where)

    def _norm_step(self, first: int, last: int, pattern) -> tuple:
        """The plan step of an ``_float_chains`` layer norm of steps ``first`` to ``last``."""
        ops = [op for op, _ in self.steps[first : last + 1]]
        kernel = _float_chains.chain_kernel(
            pattern,
            kernels=[kernel for _, kernel in self.steps[first : last + 1]],
            ops=ops,
            constants=self.constants,
            wheres=[self.plan[k][10][0] for k in range(first, last + 1)],
            wants=[self.plan[k][5] for k in range(first, last + 1)],
            relabel=self._relabel,
        )
        head, tail = self.plan[first], self.plan[last]
        op, label = head[0], head[9]
        _, _, _, _, t, want, outs, wants, _, _, where = tail
        # the input alone is fetched; what the steps release that the chain did not make (the
        # input, at its last reader) is released after the chain
        made = {o.outputs[0] for o in ops}
        drop = tuple(
            dict.fromkeys(
                u for k in range(first, last + 1) for u in self.plan[k][8] if u not in made
            )
        )
        fetch = operator.itemgetter(pattern.x)
        return (op, kernel, fetch, True, t, want, outs, wants, drop, label, where)

    def _relabel(self, op, e: Exception, args) -> None:
        """Raise kernel failure ``e`` of ``op`` as ``_run`` does (call inside ``except``)."""
        raise_relabelled(self._failure(op, e, args), e)

    def _plan_step(self, k: int, op, kernel) -> tuple:
        """What ``_run`` needs of step ``k``, worked out once."""
        sg = self.subgraph
        outs = tuple(op.outputs)
        wants = tuple(_VALUE_DTYPES.get(sg.tensors[t].type) for t in outs)
        # An input read twice by the operator is released once.
        drop = tuple(
            t
            for t in dict.fromkeys(op.inputs)
            if t >= 0
            and self.last_use.get(t) == k
            and t not in self.keep
            and t not in self.constants
        )
        where = tuple(f"{self.labels[k]} output {t}" for t in outs)
        # The inputs' values in one C call: itemgetter gives a tuple for two or more keys,
        # the bare value for one (wrapped by ``_run``).
        ins = tuple(op.inputs)
        fetch = operator.itemgetter(*ins) if ins else _no_inputs
        # (one output, most operators: its tensor and dtype at hand; None otherwise)
        t0, want0 = (outs[0], wants[0]) if len(outs) == 1 else (None, None)
        return (
            op,
            kernel,
            fetch,
            len(ins) == 1,
            t0,
            want0,
            outs,
            wants,
            drop,
            self.labels[k],
            where,
        )

    def _foldable(self, op) -> bool:
        return (
            op.op not in _NOT_FOLDABLE
            and any(t >= 0 for t in op.inputs)
            and all(t < 0 or t in self.constants for t in op.inputs)
            and not any(t in self.subgraph.inputs for t in op.outputs)
        )

    def _guard(self, op, fn, *args, what=None):
        """Call a kernel's prepare or eval, its failures labelled by ``_failure``."""
        try:
            return fn(*args)
        except Exception as e:
            raise_relabelled(self._failure(op, e, args, what), e)

    def _failure(self, op, e: Exception, args, what=None) -> Exception:
        """The exception to raise for ``e`` raised by operator ``op``'s kernel (``e`` itself
        when it passes unchanged)."""
        label = f"subgraph {self.subgraph.index} operator {op.index} ({op.name})"
        if isinstance(e, InvalidModelError):
            return e
        if isinstance(e, MemoryError):
            return BudgetExceededError(
                f"{label} ran out of memory ({type(e).__name__}: {e}); the machine has less "
                "memory than the run's limits allow (lower max_memory_bytes / max_tensor_bytes)"
            )
        shapes = [list(a.shape) if isinstance(a, np.ndarray) else None for a in args]
        on = "while preparing" if what == "is invalid" else f"(inputs of shapes {shapes})"
        if isinstance(e, (ValueError, OverflowError, ZeroDivisionError)):
            # numpy's complaints about the values (shapes that do not broadcast, a reshape
            # that does not fit): what the model asks for cannot be computed.
            return InvalidModelError(f"{label} {what or 'failed'} (inputs of shapes {shapes}): {e}")
        if isinstance(e, (TypeError, IndexError, KeyError, AttributeError, NotImplementedError)):
            # Kernels check what they index and look up: one of these is this runtime's own
            # mistake, not the model's fault.
            return KernelError(
                f"{label} raised {type(e).__name__} {on}: {e}. This is a "
                f"bug in the runtime's {op.name} kernel, not a problem with the model; please "
                "report it"
            )
        return e

    def _store(self, op, outputs, values, held=None, args=()) -> None:
        sg = self.subgraph
        if len(outputs) != len(op.outputs):
            raise InvalidModelError(
                f"subgraph {sg.index} operator {op.index} ({op.name}) produced "
                f"{len(outputs)} outputs, declared {len(op.outputs)}"
            )
        for t, v in zip(op.outputs, outputs):
            self.check_value(t, v)
            if v.nbytes > self.max_tensor_bytes:
                # e.g. a loop that doubles a tensor each iteration
                raise InvalidModelError(
                    f"subgraph {sg.index} operator {op.index} ({op.name}): output tensor "
                    f"{t} of shape {list(v.shape)} exceeds {self.max_tensor_bytes} bytes"
                )
            # (small outputs are counted even when they are views: not worth the check)
            if held is not None and (v.nbytes < 4096 or not _aliases(v, args)):
                _budget.active().hold(
                    v.nbytes,
                    lambda t=t: f"subgraph {sg.index} operator {op.index} ({op.name}) output {t}",
                )
                held[t] = held.get(t, 0) + v.nbytes
            values[t] = v

    def check_value(self, t: int, v: np.ndarray) -> None:
        tensor = self.subgraph.tensors[t]
        want = _VALUE_DTYPES.get(tensor.type)
        if want is None or v.dtype != want:
            raise InvalidModelError(
                f"subgraph {self.subgraph.index}: tensor {t} ({tensor.name!r}) got a value of "
                f"dtype {v.dtype}, declared {want}"
            )

    def run(self, feeds: dict, keep_all: bool, budget=None) -> dict:
        """Run every operator; returns tensor index -> value (every tensor when keep_all).
        ``budget``: the run's, when the caller has it at hand (else the active one)."""
        if budget is None:
            budget = _budget.active()
        # What the run holds is released at its end, whatever happened: the budget goes back
        # to what it held before (operators that run subgraphs restore theirs the same way).
        before = budget.held_bytes
        try:
            return self._run(feeds, keep_all, budget)
        finally:
            budget.held_bytes = before

    def _run(self, feeds: dict, keep_all: bool, budget) -> dict:
        values = self.base.copy()  # the constants, and None for an omitted input (-1)
        if self.variables:
            values.update(self.variables)
        values.update(feeds)
        max_bytes = self.max_tensor_bytes
        # The budget's counters are updated here rather than through its methods (a call each
        # is a good part of a small operator's cost); a charge that would exceed a limit goes
        # through the method, which raises with the message naming the operator.
        limits = budget.limits
        max_nodes, max_held = limits.max_nodes, limits.max_memory_bytes
        max_held_tensor = limits.max_tensor_bytes
        # Operators are charged one by one (so that the one over the limit is named) unless
        # they all fit and nothing else charges nodes meanwhile: then at once.
        at_once = not self.nested and budget.nodes + len(self.plan) <= max_nodes
        if at_once:
            budget.nodes += len(self.plan)
        plan = self.plan
        # (with subgraphs the chained plan's steps charge their operators themselves)
        if (at_once or self.nested) and not keep_all and self.chained_plan is not None:
            plan = self.chained_plan
        # Outputs this run charged for (not large views of an input, nor variables or feeds):
        # tensor -> its charge, the value's own size, refunded when its last reader is done.
        charged: dict[int, int] = {}
        release = not keep_all
        for op, kernel, fetch, one_input, t, want, outs, wants, drop, label, where in plan:
            if not at_once:
                budget.nodes += 1
                if budget.nodes > max_nodes:
                    budget.nodes -= 1
                    budget.visit(label)  # raises
            try:
                args = (fetch(values),) if one_input else fetch(values)
            except KeyError as e:
                raise self._missing_input(op, e.args[0]) from None
            try:
                outputs = kernel(*args)
            except Exception as e:
                raise_relabelled(self._failure(op, e, args), e)
            if t is not None and len(outputs) == 1:
                # One output (most operators): the loop below, written out for it.
                v = outputs[0]
                if v.dtype != want:
                    self.check_value(t, v)  # raises, naming the tensor and both dtypes
                nbytes = v.nbytes
                if nbytes > max_bytes:
                    self._store(op, outputs, values)  # raises, naming the tensor and size
                if nbytes < 4096 or not _aliases(v, args):
                    now = budget.held_bytes + nbytes
                    if now > max_held or nbytes > max_held_tensor:
                        budget.hold(nbytes, where[0])  # raises
                    budget.held_bytes = now
                    charged[t] = nbytes
                else:
                    charged.pop(t, None)
                values[t] = v
            else:
                if len(outputs) != len(outs):
                    self._store(op, outputs, values)  # raises, naming the counts
                for t, v, want, w in zip(outs, outputs, wants, where):
                    if v.dtype != want:
                        self.check_value(t, v)  # raises, naming the tensor and both dtypes
                    nbytes = v.nbytes
                    if nbytes > max_bytes:
                        self._store(op, outputs, values)  # raises, naming the tensor and size
                    # (small outputs are counted even when they are views: not worth the check)
                    if nbytes < 4096 or not _aliases(v, args):
                        now = budget.held_bytes + nbytes
                        if now > max_held or nbytes > max_held_tensor:
                            budget.hold(nbytes, w)  # raises
                        budget.held_bytes = now
                        charged[t] = nbytes
                    else:
                        charged.pop(t, None)
                    values[t] = v
            if drop and release:
                for t in drop:
                    del values[t]
                    nbytes = charged.pop(t, None)
                    if nbytes is not None:
                        budget.held_bytes -= nbytes  # (its charge: never below zero)
        del values[-1]
        return values

    def _missing_input(self, op, t: int) -> InvalidModelError:
        sg = self.subgraph
        return InvalidModelError(
            f"subgraph {sg.index} operator {op.index} ({op.name}): input tensor {t} "
            f"({sg.tensors[t].name!r}) has no value (not set, or not produced)"
        )


def _charging(step: tuple, extra: int) -> tuple:
    """Chain ``step`` for runs that charge operators one by one (models with subgraphs):
    the loop charges the chain's first operator, its kernel the ``extra`` others."""
    kernel, label = step[1], step[9]

    def charged(*args):
        _budget.active().visit(label, extra)  # (raises past the limit, naming the chain)
        return kernel(*args)

    return (step[0], charged, *step[2:])


def _no_inputs(values) -> tuple:
    return ()


def _root(array):
    while isinstance(array, np.ndarray) and isinstance(array.base, np.ndarray):
        array = array.base
    return array


def _aliases(value: np.ndarray, args) -> bool:
    """Whether ``value`` is an input of the operator or a view of one (RESHAPE, SQUEEZE...)."""
    root = _root(value)
    return any(a is not None and root is _root(a) for a in args)
