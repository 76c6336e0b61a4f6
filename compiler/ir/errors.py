"""Errors raised while building, checking or evaluating an IR graph."""

__all__ = ["IRError"]


class IRError(ValueError):
    """A malformed graph: unknown op or attribute, wrong inputs, broken dataflow."""
