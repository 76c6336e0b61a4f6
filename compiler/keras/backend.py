"""The frontend's array namespace and global numeric settings.

All frontend math goes through ``xp`` (numpy today). A GPU array library with numpy's API can be
plugged in here without touching layers, ops or the trainer.
"""

import numpy

__all__ = ["xp", "floatx", "set_floatx", "epsilon", "set_epsilon", "image_data_format"]

xp = numpy

_FLOATX = "float32"
_EPSILON = 1e-7
_FLOAT_TYPES = ("float16", "float32", "float64")


def floatx() -> str:
    """Returns the default float dtype name, ``"float32"`` unless changed."""
    return _FLOATX


def set_floatx(value: str) -> None:
    """Sets the default float dtype used for new weights and inputs."""
    global _FLOATX
    if str(value) not in _FLOAT_TYPES:
        raise ValueError(f"Unknown `floatx` value: {value!r}. Expected one of {_FLOAT_TYPES}")
    _FLOATX = str(value)


def epsilon() -> float:
    """Returns the fuzz factor used to keep logs and divisions finite (Keras: 1e-7)."""
    return _EPSILON


def set_epsilon(value: float) -> None:
    global _EPSILON
    _EPSILON = float(value)


def image_data_format() -> str:
    """Always ``"channels_last"``: activations are NHWC, as in TFLite."""
    return "channels_last"
