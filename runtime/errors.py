"""Errors raised by the reference runtime.

Every problem with a model file or with the values fed to it is reported as one of these, so a
caller can catch ``ValueError`` (the built-in type users already catch) and never sees an
``IndexError``, ``struct.error`` or ``RecursionError`` from deep inside a reader or kernel.
"""

__all__ = ["BudgetExceededError", "InvalidInputError", "InvalidModelError", "UnsupportedOpError"]


class InvalidModelError(ValueError):
    """A model file is corrupt, truncated, hostile or inconsistent."""


class UnsupportedOpError(InvalidModelError):
    """A model uses an operator (or an operator variant) this runtime does not implement."""


class BudgetExceededError(InvalidModelError):
    """A model needs more work or memory than one run's budget allows (``runtime.Limits``):
    loop iterations, operators run, the size of one tensor, or the bytes held at once."""


class InvalidInputError(ValueError):
    """A value fed to a model has an unknown name, or the wrong dtype, rank or dimensions."""
