"""One memory budget per load, and a bound on the weights that rebuilding a config may create.

A hostile file can ask for memory in several ways: a ``Dense(10**12)`` in its config (the
weights would be allocated before any check of the weights file could run), an inline
``__numpy__`` value, a zip member declaring gigabytes, a weights dataset of absurd shape. While
loading, this thread carries one ``LoadBudget``: every such allocation is charged to it before
it happens, and the first charge that goes over it raises ``LoadBudgetError`` naming what asked.
New ``Variable``s are also bounded by the size of the weights file, which must hold them all
(``WeightBudgetError``). Other threads are unaffected.
"""

import math
import threading
from contextlib import contextmanager

from compiler.keras.backend import floatx, xp

__all__ = [
    "allocation_budget",
    "charge",
    "load_budget",
    "LoadBudgetError",
    "WeightBudgetError",
    "DEFAULT_MAX_LOAD_BYTES",
]

# What one load may allocate by default: the weights file's bytes, the model's variables and the
# values read into them (a model of ~300 MB of weights fits). ``load_model(max_bytes=...)``.
DEFAULT_MAX_LOAD_BYTES = 1 << 30

_LOCK = threading.Lock()
_STATE = threading.local()
_INSTALLED = {"count": 0, "original": None}


class LoadBudgetError(ValueError):
    """Loading the file would allocate more memory than the load's budget allows."""


class WeightBudgetError(LoadBudgetError):
    """The config asks for more weight memory than the file can hold."""


class _Budget:
    def __init__(self, limit, source):
        self.limit, self.source, self.used = int(limit), source, 0

    def charge(self, nbytes, what):
        self.used += int(nbytes)
        if self.used > self.limit:
            raise LoadBudgetError(
                f"{what} needs {int(nbytes):,} bytes, which brings the load to {self.used:,} "
                f"bytes, over its memory budget of {self.limit:,} bytes (max_bytes)"
            )


@contextmanager
def load_budget(limit_bytes, source):
    """Within the block, this thread's ``charge`` calls may total at most ``limit_bytes``."""
    previous = getattr(_STATE, "load", None)
    _STATE.load = _Budget(limit_bytes, source)
    try:
        yield _STATE.load
    finally:
        _STATE.load = previous


def charge(nbytes, what):
    """Counts ``nbytes`` that are about to be allocated against this thread's load budget.

    Does nothing outside ``load_budget``. Raises:
        LoadBudgetError: the budget would be exceeded (nothing has been allocated yet).
    """
    budget = getattr(_STATE, "load", None)
    if budget is not None:
        budget.charge(nbytes, what)


def _guarded_init(self, initializer, *args, **kwargs):
    budget = getattr(_STATE, "budget", None)
    shape = kwargs.get("shape", args[0] if args else None)
    if budget is not None and shape is not None:
        dtype = kwargs.get("dtype", args[1] if len(args) > 1 else None)
        dims = [int(d) for d in shape]
        if any(d < 0 for d in dims):
            raise WeightBudgetError(f"Negative weight dimension in shape {tuple(dims)}")
        nbytes = math.prod(dims) * xp.dtype(dtype or floatx()).itemsize
        budget["used"] += nbytes
        if budget["used"] > budget["limit"]:
            raise WeightBudgetError(
                f"the model config asks for more than {budget['limit']:,} bytes of weights "
                f"(a weight of shape {tuple(dims)} brings it to {budget['used']:,}), more than "
                f"{budget['what']} can hold"
            )
        charge(nbytes, f"a weight of shape {tuple(dims)}")
    _INSTALLED["original"](self, initializer, *args, **kwargs)


@contextmanager
def allocation_budget(limit_bytes, what):
    """Within the block, this thread's new ``Variable``s may total at most ``limit_bytes``
    (and are charged to the load budget, when one is active)."""
    from compiler.keras.variables import Variable

    with _LOCK:
        if _INSTALLED["count"] == 0:
            _INSTALLED["original"] = Variable.__init__
            Variable.__init__ = _guarded_init
        _INSTALLED["count"] += 1
    previous = getattr(_STATE, "budget", None)
    _STATE.budget = {"limit": int(limit_bytes), "used": 0, "what": what}
    try:
        yield
    finally:
        _STATE.budget = previous
        with _LOCK:
            _INSTALLED["count"] -= 1
            if _INSTALLED["count"] == 0:
                Variable.__init__ = _INSTALLED["original"]
