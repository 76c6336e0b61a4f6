"""Errors raised by the reference runtime.

Every problem with a model file or with the values fed to it is reported as one of these, so a
caller can catch ``ValueError`` (the built-in type users already catch) and never sees an
``IndexError``, ``struct.error`` or ``RecursionError`` from deep inside a reader or kernel.
"""

__all__ = [
    "BudgetExceededError",
    "InvalidInputError",
    "InvalidModelError",
    "KernelError",
    "UnsupportedOpError",
]


class InvalidModelError(ValueError):
    """A model file is corrupt, truncated, hostile or inconsistent."""


class UnsupportedOpError(InvalidModelError):
    """A model uses an operator (or an operator variant) this runtime does not implement."""


class BudgetExceededError(InvalidModelError):
    """A model needs more work or memory than one run's budget allows (``runtime.Limits``):
    loop iterations, operators run, the size of one tensor, or the bytes held at once."""


class InvalidInputError(ValueError):
    """A value fed to a model has an unknown name, or the wrong dtype, rank or dimensions."""


class KernelError(RuntimeError):
    """A kernel of this runtime failed on a model and values it had accepted: a bug in the
    runtime, not a fault of the model or of the feeds (a ``TypeError``, ``IndexError``,
    ``KeyError`` ... raised by the runtime's own code). The message names the node and op; the
    original exception is its ``__cause__``."""
