"""numpy kernels for TFLite builtin operators; ``REGISTRY`` maps each op to its ``prepare``."""

from runtime.tflite.kernels.registry import CUSTOM_REGISTRY, REGISTRY

__all__ = ["CUSTOM_REGISTRY", "REGISTRY"]
