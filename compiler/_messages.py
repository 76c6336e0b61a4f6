"""Error text for the command line: one line per error, whatever the exception held."""

from __future__ import annotations

__all__ = ["one_line"]


def one_line(exc: BaseException) -> str:
    """``exc``'s message on one line (parsers' messages may span several), or its type's name
    when it has none."""
    return " ".join(str(exc).split()) or type(exc).__name__
