"""A bound on the weight memory that rebuilding a model from an untrusted config may allocate.

A hostile config can ask for a ``Dense(10**12)``: building it would allocate the weights before
any check of the weights file could run. While loading, every ``Variable`` created by this
thread is counted against a budget (the size of the weights file, which must hold all of them)
and creation fails before allocating once the budget is exceeded. Other threads are unaffected.
"""

import math
import threading
from contextlib import contextmanager

from compiler.keras.backend import floatx, xp

__all__ = ["allocation_budget", "WeightBudgetError"]

_LOCK = threading.Lock()
_STATE = threading.local()
_INSTALLED = {"count": 0, "original": None}


class WeightBudgetError(ValueError):
    """The config asks for more weight memory than the file can hold."""


def _guarded_init(self, initializer, *args, **kwargs):
    budget = getattr(_STATE, "budget", None)
    shape = kwargs.get("shape", args[0] if args else None)
    if budget is not None and shape is not None:
        dtype = kwargs.get("dtype", args[1] if len(args) > 1 else None)
        dims = [int(d) for d in shape]
        if any(d < 0 for d in dims):
            raise WeightBudgetError(f"Negative weight dimension in shape {tuple(dims)}")
        budget["used"] += math.prod(dims) * xp.dtype(dtype or floatx()).itemsize
        if budget["used"] > budget["limit"]:
            raise WeightBudgetError(
                f"the model config asks for more than {budget['limit']:,} bytes of weights "
                f"(a weight of shape {tuple(dims)} brings it to {budget['used']:,}), more than "
                f"{budget['what']} can hold"
            )
    _INSTALLED["original"](self, initializer, *args, **kwargs)


@contextmanager
def allocation_budget(limit_bytes, what):
    """Within the block, this thread's new ``Variable``s may total at most ``limit_bytes``."""
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
