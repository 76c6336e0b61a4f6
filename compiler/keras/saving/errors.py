"""Typed errors of ``.keras`` / ``.weights.h5`` loading and of config deserialization."""

__all__ = ["InvalidModelFileError", "UnknownObjectError", "UnsafeObjectError"]


class InvalidModelFileError(ValueError):
    """A model or weights file that cannot be loaded: corrupt, truncated, hostile or inconsistent.

    Attributes:
        path: the file (or ``"<file object>"``) that was being loaded.
        problem: what is wrong with it, in words.
    """

    _MAX_PROBLEM = 2000  # a hostile file can make messages huge (names, config dicts)

    def __init__(self, path, problem):
        self.path = str(path)
        problem = str(problem)
        if len(problem) > self._MAX_PROBLEM:
            problem = problem[: self._MAX_PROBLEM] + " ... (message truncated)"
        self.problem = problem
        super().__init__(f"Cannot load '{self.path}': {self.problem}")


class UnknownObjectError(ValueError):
    """A config names a class or function that is neither built in nor registered."""


class UnsafeObjectError(ValueError):
    """A config asks for something that would run code from the file (Lambda, lambdas)."""
