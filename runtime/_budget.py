"""One budget per run for the work and memory that a model file can make this runtime spend.

A file decides how often loops turn, how many nodes run and how large tensors get. Per-loop or
per-tensor caps alone do not bound a run: a loop nested in a loop multiplies two caps, and one
subgraph called from a million places multiplies its cost by a million. So every run (one
``Interpreter.invoke``, one ``InferenceSession.run``, and the construction of either) draws from
one ``Budget`` whose ``Limits`` the caller may set:

- ``max_loop_iterations``: iterations of all loops together (ONNX Loop and Scan, TFLite WHILE),
  nested ones included;
- ``max_nodes``: operators (nodes) run, in every subgraph together; at construction, operators
  (nodes) in the whole model;
- ``max_tensor_bytes``: the size of any one tensor, checked *before* it is created where the
  size is known in advance (broadcasting, MatMul, Concat, padding, inputs, ...);
- ``max_memory_bytes``: bytes of the tensors that one run holds at a time (inputs, each
  operator's outputs while they are in use, loop-carried values, scan outputs collected), also
  checked before each allocation whose size is known in advance.

Exceeding a budget raises ``BudgetExceededError`` naming the op and the limit. The active
budget lives in a ``ContextVar``: each thread running a model sees its own, so concurrent runs
of one ``InferenceSession`` never share counters.
"""

from __future__ import annotations

import contextvars
import math
from dataclasses import dataclass

import numpy as np

from runtime.errors import BudgetExceededError, InvalidModelError

__all__ = [
    "Budget",
    "Limits",
    "activate",
    "active",
    "check_elements",
    "check_tensor_bytes",
    "deactivate",
    "fits",
    "running",
]

DEFAULT_MAX_LOOP_ITERATIONS = 1 << 15
DEFAULT_MAX_NODES = 1 << 17
DEFAULT_MAX_TENSOR_BYTES = 1 << 30
DEFAULT_MAX_MEMORY_BYTES = 1 << 29


@dataclass(frozen=True)
class Limits:
    """The caps one run may not exceed (see the module docstring for what each counts).

    The defaults keep a hostile file to a few seconds of CPU and well under 1 GB resident;
    raise them for larger legitimate work (e.g. ``Limits(max_memory_bytes=4 << 30)`` to run a
    float CNN on 10,000 images in one ``InferenceSession.run``). ``Interpreter`` runs a large
    batch in slices when its rows are independent; each slice then has its own budget.

    Attributes:
        max_loop_iterations: iterations of all loops of one run together (default 32,768).
        max_nodes: operators run in one run; operators in the model at construction
            (default 131,072).
        max_tensor_bytes: bytes of any one tensor (default 1 GiB).
        max_memory_bytes: bytes of the tensors one run holds at once (default 512 MiB).
    """

    max_loop_iterations: int = DEFAULT_MAX_LOOP_ITERATIONS
    max_nodes: int = DEFAULT_MAX_NODES
    max_tensor_bytes: int = DEFAULT_MAX_TENSOR_BYTES
    max_memory_bytes: int = DEFAULT_MAX_MEMORY_BYTES

    def __post_init__(self):
        for name in ("max_loop_iterations", "max_nodes", "max_tensor_bytes", "max_memory_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"Limits: {name} must be a non-negative int. Received: {value!r}")


class Budget:
    """The counters of one run, checked against ``limits`` at each charge.

    Args:
        limits: the caps (None: the defaults).
        held_bytes: bytes the run holds from the start, already checked against ``limits``
            by the caller (its inputs).
    """

    __slots__ = ("held_bytes", "iterations", "limits", "nodes")

    def __init__(self, limits: Limits | None = None, held_bytes: int = 0):
        self.limits = limits or Limits()
        self.iterations = 0
        self.nodes = 0
        self.held_bytes = held_bytes

    def iterate(self, where) -> None:
        """Charge one loop iteration; ``where`` (formatted only on failure) names the op."""
        self.iterations += 1
        if self.iterations > self.limits.max_loop_iterations:
            raise BudgetExceededError(
                f"{_label(where)}: more than {self.limits.max_loop_iterations} loop iterations in "
                "one run (all loops together, nested ones included; the max_loop_iterations limit)"
            )

    def visit(self, where, count: int = 1) -> None:
        """Charge ``count`` operators run (or, at construction, present in the model)."""
        self.nodes += count
        if self.nodes > self.limits.max_nodes:
            raise BudgetExceededError(
                f"{_label(where)}: more than {self.limits.max_nodes} operators (nodes) in one run "
                "or model (all subgraphs together; the max_nodes limit)"
            )

    def hold(self, nbytes: int, where) -> None:
        """Charge ``nbytes`` of tensors now held by the run (checked before more is held)."""
        check_tensor_bytes(nbytes, where, self.limits)
        if self.held_bytes + nbytes > self.limits.max_memory_bytes:
            raise BudgetExceededError(
                f"{_label(where)}: {nbytes} more bytes would bring the tensors held by this run to "
                f"{self.held_bytes + nbytes} bytes, above the max_memory_bytes limit of "
                f"{self.limits.max_memory_bytes}"
            )
        self.held_bytes += nbytes

    def release(self, nbytes: int) -> None:
        """Tensors of ``nbytes`` are no longer held by the run."""
        self.held_bytes = max(0, self.held_bytes - nbytes)


_ACTIVE: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("budget", default=None)


# ``running``'s two steps as plain calls (the ContextVar's own methods), for a caller on a
# small model's hot path: ``token = activate(budget)`` ... ``deactivate(token)`` in a finally.
activate = _ACTIVE.set
deactivate = _ACTIVE.reset


def active() -> Budget:
    """The budget of the run in progress in this thread (a fresh default one outside a run)."""
    budget = _ACTIVE.get()
    return budget if budget is not None else Budget()


class running:  # noqa: N801 (used as a function: ``with running(budget):``)
    """Make ``budget`` the active one for the code inside the ``with`` (this thread only).

    A class rather than a generator context manager: it is entered on every invoke, where on
    a TFLite Micro-sized model the generator machinery alone is a visible part of the call.
    """

    __slots__ = ("_budget", "_token")

    def __init__(self, budget: Budget):
        self._budget = budget

    def __enter__(self) -> Budget:
        self._token = _ACTIVE.set(self._budget)
        return self._budget

    def __exit__(self, *exc) -> bool:
        _ACTIVE.reset(self._token)
        return False


_DEFAULT_LIMITS = Limits()


def fits(nbytes: int) -> bool:
    """Whether a new tensor of ``nbytes`` is within the active run's ``max_tensor_bytes`` and
    ``max_memory_bytes``: the cheap test a kernel makes on its hot path, before allocating,
    calling ``check_elements`` (which raises with the full message) only when it fails."""
    budget = _ACTIVE.get()
    if budget is None:
        return nbytes <= _DEFAULT_LIMITS.max_tensor_bytes and (
            nbytes <= _DEFAULT_LIMITS.max_memory_bytes
        )
    limits = budget.limits
    return nbytes <= limits.max_tensor_bytes and (
        budget.held_bytes + nbytes <= limits.max_memory_bytes
    )


def check_tensor_bytes(nbytes: int, where, limits: Limits | None = None) -> None:
    """Refuse a tensor of ``nbytes`` above the ``max_tensor_bytes`` limit."""
    limit = (limits or active().limits).max_tensor_bytes
    if nbytes > limit:
        raise BudgetExceededError(
            f"{_label(where)}: a tensor of {nbytes} bytes exceeds this runtime's limit of {limit} "
            "bytes (max_tensor_bytes)"
        )


def check_elements(shape, where, itemsize: int = 4) -> tuple[int, ...]:
    """``shape`` as ints, refused before allocation when it is negative or too large.

    Args:
        shape: the dims of the tensor about to be created.
        where: the op (and what it creates), for the error message.
        itemsize: bytes per element (4 when unknown: float32 and int32 accumulators).
    """
    dims = tuple(map(int, shape))  # (map: a generator costs more than the check itself)
    if dims and min(dims) < 0:
        raise InvalidModelError(f"{_label(where)}: negative dimension in shape {list(dims)}")
    count = math.prod(dims)  # Python int: no overflow
    budget = active()
    limit = budget.limits.max_tensor_bytes
    if count * itemsize > limit:
        raise BudgetExceededError(
            f"{_label(where)}: a tensor of shape {_short(dims)} ({count} elements, "
            f"{count * itemsize} bytes) exceeds this runtime's limit of {limit} bytes "
            "(max_tensor_bytes)"
        )
    if budget.held_bytes + count * itemsize > budget.limits.max_memory_bytes:
        raise BudgetExceededError(
            f"{_label(where)}: a tensor of shape {_short(dims)} ({count * itemsize} bytes) "
            f"would bring the tensors held by this run to {budget.held_bytes + count * itemsize} "
            f"bytes, above the max_memory_bytes limit of {budget.limits.max_memory_bytes}"
        )
    return dims


def _label(where) -> str:
    """``where`` as text: a string, or a callable that makes it (so the hot path formats
    nothing unless a limit is exceeded)."""
    return where() if callable(where) else str(where)


def _short(dims) -> str:
    return str(list(dims)) if len(dims) <= 8 else f"[{', '.join(map(str, dims[:8]))}, ...]"
