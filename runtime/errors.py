"""Errors raised by the reference runtime.

Every problem with a model file or with the values fed to it is reported as one of these, so a
caller can catch ``ValueError`` (the built-in type users already catch) and never sees an
``IndexError``, ``struct.error`` or ``RecursionError`` from deep inside a reader or kernel.
"""

from typing import NoReturn

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


def raise_relabelled(error: BaseException, cause: BaseException) -> NoReturn:
    """Raise ``error`` (a kernel failure relabelled by a runtime) from ``cause``, or re-raise
    ``cause`` when it passes unchanged.

    Call it as ``raise_relabelled(label(e), e)`` inside the ``except`` clause, with no local
    holding the new exception: a frame that kept it would be on its traceback, and that cycle
    would keep every tensor of the failed run (hundreds of MB after a refused loop) alive until
    the cyclic collector happens to run.
    """
    try:
        if error is cause:
            raise cause
        raise error from cause
    finally:
        error = cause = None
