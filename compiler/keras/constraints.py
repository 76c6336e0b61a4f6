"""Weight constraints with Keras 3's names, arguments, defaults and formulas.

A constraint is a projection ``w -> w'`` that the optimizer applies to a variable after each
update (Keras 3's ``optimizer.apply``). With ``norms = sqrt(sum(w**2, axis, keepdims=True))``
and ``eps = keras.backend.epsilon()``:

- ``MaxNorm(max_value=2, axis=0)``: ``w * clip(norms, 0, max_value) / (eps + norms)``
- ``MinMaxNorm(min_value=0.0, max_value=1.0, rate=1.0, axis=0)``:
  ``w * (rate * clip(norms, min_value, max_value) + (1 - rate) * norms) / (eps + norms)``
- ``NonNeg()``: ``max(w, 0)``
- ``UnitNorm(axis=0)``: ``w / (eps + norms)``
"""

from compiler.keras import backend, ops
from compiler.keras.regularizers import deserialize_builtin, get_from_identifier

__all__ = [
    "Constraint",
    "MaxNorm",
    "MinMaxNorm",
    "NonNeg",
    "UnitNorm",
    "max_norm",
    "min_max_norm",
    "non_neg",
    "unit_norm",
    "get",
    "serialize",
    "deserialize",
]


def _axis(axis):
    # A list axis (Conv kernels: [0, 1, 2]) is kept as given, so configs round-trip as written.
    return tuple(axis) if isinstance(axis, list) else axis


def _norms(w, axis):
    return ops.sqrt(ops.sum(ops.square(w), axis=_axis(axis), keepdims=True))


class Constraint:
    """Base class: ``constraint(w)`` returns the projected weight (``w`` itself here)."""

    def __call__(self, w):
        return w

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MaxNorm(Constraint):
    """Rescales each slice along ``axis`` to a norm of at most ``max_value``.

    Args:
        max_value: the largest norm, default 2.
        axis: axis or axes of the norms, default 0 (a ``Dense`` kernel's input axis; use
            ``[0, 1, 2]`` for a channels-last ``Conv2D`` kernel).
    """

    def __init__(self, max_value=2, axis=0):
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w):
        w = ops.convert_to_tensor(w)
        norms = _norms(w, self.axis)
        desired = ops.clip(norms, 0, self.max_value)
        return w * (desired / (backend.epsilon() + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Sets negative weights to zero."""

    def __call__(self, w):
        return ops.maximum(ops.convert_to_tensor(w), 0.0)


class UnitNorm(Constraint):
    """Rescales each slice along ``axis`` to unit norm.

    Args:
        axis: axis or axes of the norms, default 0.
    """

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        w = ops.convert_to_tensor(w)
        return w / (backend.epsilon() + _norms(w, self.axis))

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves each slice's norm along ``axis`` into ``[min_value, max_value]`` at ``rate``.

    Args:
        min_value: the smallest norm, default 0.
        max_value: the largest norm, default 1.
        rate: 1 enforces the bounds at once; below 1 the norm moves that fraction of the way.
        axis: axis or axes of the norms, default 0.
    """

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w):
        w = ops.convert_to_tensor(w)
        norms = _norms(w, self.axis)
        desired = (
            self.rate * ops.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        )
        return w * (desired / (backend.epsilon() + norms))

    def get_config(self):
        return {
            "min_value": self.min_value,
            "max_value": self.max_value,
            "rate": self.rate,
            "axis": self.axis,
        }


max_norm, min_max_norm, non_neg, unit_norm = MaxNorm, MinMaxNorm, NonNeg, UnitNorm

ALL_OBJECTS = {cls.__name__: cls for cls in (Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm)}
_NAMES = {
    **ALL_OBJECTS,
    "constraint": Constraint,
    "max_norm": MaxNorm,
    "min_max_norm": MinMaxNorm,
    "non_neg": NonNeg,
    "unit_norm": UnitNorm,
}


def serialize(constraint):
    """Keras 3's serialized form (``{"module": "keras.constraints", "class_name", ...}``)."""
    from compiler.keras.saving.serialization import serialize_keras_object

    return serialize_keras_object(constraint)


def deserialize(config, custom_objects=None):
    """Rebuilds a constraint from ``serialize``'s output (ours or Keras 3's)."""
    return deserialize_builtin(
        config, custom_objects, ALL_OBJECTS, "keras.constraints", "a constraint"
    )


def get(identifier):
    """A constraint from ``None``, a name (``"max_norm"``), a config dict or a callable.

    Raises:
        ValueError: an unknown name or a value that is not callable.
    """
    return get_from_identifier(identifier, deserialize, _NAMES, "constraint")
