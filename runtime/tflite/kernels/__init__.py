"""numpy kernels for TFLite builtin operators; ``REGISTRY`` maps each op to its ``prepare``."""

from runtime.tflite.kernels.registry import REGISTRY

__all__ = ["REGISTRY"]
