"""Errors of the model writers."""

__all__ = ["ExportError"]


class ExportError(ValueError):
    """The graph holds something the target format (or this writer) cannot express."""
