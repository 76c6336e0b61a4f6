"""Errors of lowering a frontend model to the IR."""

__all__ = ["UnsupportedLayerError"]


class UnsupportedLayerError(ValueError):
    """A layer (or a layer option) that the compiler cannot lower; the message names the
    layer, its class and what is supported."""
