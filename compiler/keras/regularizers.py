"""Weight and activity regularizers with Keras 3's names, arguments, defaults and formulas.

A regularizer maps a tensor to a scalar penalty that training adds to the loss:

- ``L1(l1=0.01)``: ``l1 * sum(|x|)``
- ``L2(l2=0.01)``: ``l2 * sum(x**2)``
- ``L1L2(l1=0.0, l2=0.0)``: both terms (by name, ``"l1l2"`` or ``"l1_l2"``, it is built with
  these class defaults, as in Keras)
- ``OrthogonalRegularizer(factor=0.01, mode="rows")``: ``factor * 0.5 * sum(|P - diag(P)|) /
  (n (n - 1) / 2)`` where ``P`` is the Gram matrix of the L2-normalized rows (or columns).

Any callable ``x -> scalar`` works as a regularizer too (Keras's custom regularizers).
"""

import contextlib
import contextvars
import inspect
import logging
import math

from compiler.keras import backend, ops
from compiler.keras.backend import xp

__all__ = [
    "Regularizer",
    "L1",
    "L2",
    "L1L2",
    "OrthogonalRegularizer",
    "l1",
    "l2",
    "l1_l2",
    "orthogonal_regularizer",
    "get",
    "serialize",
    "deserialize",
    "inference_only",
]

_INFERENCE_ONLY = contextvars.ContextVar("inference_only", default=False)
_LOG = logging.getLogger(__name__)


@contextlib.contextmanager
def inference_only():
    """Within it, a regularizer or constraint whose class is unknown (a custom one that is not
    registered) loads as ``None`` with a warning instead of failing: both act on training only,
    so a model loaded to be compiled does not need their code."""
    token = _INFERENCE_ONLY.set(True)
    try:
        yield
    finally:
        _INFERENCE_ONLY.reset(token)


def deserialize_training_only(config, custom_objects, what):
    """``deserialize_keras_object(config)``, or ``None`` for an unknown class inside
    ``inference_only()``."""
    from compiler.keras.saving.errors import UnknownObjectError
    from compiler.keras.saving.serialization import deserialize_keras_object

    try:
        return deserialize_keras_object(config, custom_objects)
    except UnknownObjectError as error:
        if not _INFERENCE_ONLY.get():
            raise
        _LOG.warning("Ignoring %s, which only acts on training: %s", what, error)
        return None


def _factor(value, name):
    """Keras's ``validate_float_arg``: a finite, non-negative number, stored as float."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or math.isinf(value)
        or math.isnan(value)
        or value < 0
    ):
        raise ValueError(
            f"Invalid value for argument {name}: expected a non-negative float. "
            f"Received: {name}={value!r}"
        )
    return float(value)


def _as_floatx(value):
    return float(xp.asarray(value, dtype=backend.floatx()))


class Regularizer:
    """Base class: ``regularizer(x)`` returns a scalar penalty (0 here)."""

    def __call__(self, x):
        return 0.0

    def get_config(self):
        raise NotImplementedError(f"{self} does not implement get_config()")

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x**2)``.

    Args:
        l1: L1 factor, default 0.
        l2: L2 factor, default 0.
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(0.0 if l1 is None else l1, "l1")
        self.l2 = _factor(0.0 if l2 is None else l2, "l2")

    def __call__(self, x):
        penalty = ops.convert_to_tensor(xp.zeros((), dtype=x.dtype))
        if self.l1 != 0.0:
            penalty = penalty + xp.asarray(self.l1, x.dtype) * ops.sum(ops.abs(x))
        if self.l2 != 0.0:
            penalty = penalty + xp.asarray(self.l2, x.dtype) * ops.sum(ops.square(x))
        return penalty

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """``l1 * sum(|x|)``.

    Args:
        l1: factor, default 0.01.
    """

    def __init__(self, l1=0.01):
        # Keras stores this factor as a floatx tensor: its config holds the rounded value.
        self.l1 = _as_floatx(_factor(0.01 if l1 is None else l1, "l1"))

    def __call__(self, x):
        return xp.asarray(self.l1, x.dtype) * ops.sum(ops.abs(x))

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 * sum(x**2)``.

    Args:
        l2: factor, default 0.01.
    """

    def __init__(self, l2=0.01):
        self.l2 = _factor(0.01 if l2 is None else l2, "l2")

    def __call__(self, x):
        return xp.asarray(self.l2, x.dtype) * ops.sum(ops.square(x))

    def get_config(self):
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Penalizes non-orthogonal rows (``mode="rows"``) or columns of a rank-2 weight.

    Args:
        factor: the penalty is ``factor`` times the mean absolute dot product of distinct pairs
            of L2-normalized rows (columns), times 0.5; default 0.01.
        mode: ``"rows"`` or ``"columns"``.
    """

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _as_floatx(_factor(factor, "factor"))
        if mode not in ("rows", "columns"):
            raise ValueError(
                'Invalid value for argument `mode`. Expected one of {"rows", "columns"}. '
                f"Received: mode={mode}"
            )
        self.mode = mode

    def __call__(self, inputs):
        if len(inputs.shape) != 2:
            raise ValueError(
                "Inputs to OrthogonalRegularizer must have rank 2. Received: "
                f"inputs.shape={tuple(inputs.shape)}"
            )
        axis = 1 if self.mode == "rows" else 0
        # Keras's ops.normalize: x * min(rsqrt(sum(x**2)), 1 / epsilon).
        square_sum = ops.sum(ops.square(inputs), axis=axis, keepdims=True)
        inv_norm = ops.minimum(1.0 / ops.sqrt(square_sum), 1.0 / backend.epsilon())
        unit = inputs * inv_norm
        if self.mode == "rows":
            product, size = ops.matmul(unit, ops.transpose(unit)), inputs.shape[0]
        else:
            product, size = ops.matmul(ops.transpose(unit), unit), inputs.shape[1]
        off_diagonal = product * (1.0 - xp.eye(size, dtype=inputs.dtype))
        num_pairs = size * (size - 1.0) / 2.0
        return self.factor * 0.5 * ops.sum(ops.abs(off_diagonal)) / num_pairs

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


# Keras's lower-case aliases are the classes themselves.
l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer

# Names ``get`` accepts: Keras's class names and their snake-case forms (``L1L2`` is ``l1l2``
# there; ``l1_l2``, the exported alias, is accepted too).
ALL_OBJECTS = {cls.__name__: cls for cls in (Regularizer, L1, L2, L1L2, OrthogonalRegularizer)}
_NAMES = {
    **ALL_OBJECTS,
    "regularizer": Regularizer,
    "l1": L1,
    "l2": L2,
    "l1l2": L1L2,
    "l1_l2": L1L2,
    "orthogonal_regularizer": OrthogonalRegularizer,
}


def serialize(regularizer):
    """Keras 3's serialized form (``{"module": "keras.regularizers", "class_name", ...}``)."""
    from compiler.keras.saving.serialization import serialize_keras_object

    return serialize_keras_object(regularizer)


def deserialize(config, custom_objects=None):
    """Rebuilds a regularizer from ``serialize``'s output (ours or Keras 3's)."""
    return deserialize_builtin(
        config, custom_objects, ALL_OBJECTS, "keras.regularizers", "a regularizer"
    )


def get(identifier):
    """A regularizer from ``None``, a name (``"l2"``), a config dict or a callable.

    Raises:
        ValueError: an unknown name or a value that is not callable.
    """
    return get_from_identifier(identifier, deserialize, _NAMES, "regularizer")


def deserialize_builtin(config, custom_objects, classes, module, what):
    """One of ``classes`` (Keras's ``module``, e.g. ``keras.regularizers``) rebuilt from its
    serialized config; anything else goes through ``deserialize_training_only``."""
    if (
        isinstance(config, dict)
        and config.get("class_name") in classes
        and not config.get("registered_name")
        and config.get("module") in (None, module, module.replace("keras.", "keras.src.", 1))
    ):
        return classes[config["class_name"]].from_config(config.get("config") or {})
    return deserialize_training_only(config, custom_objects, what)


def get_from_identifier(identifier, deserialize_fn, names, what):
    """Keras's ``get``: ``None``, a name in ``names``, a config dict or a callable (a class is
    instantiated with its defaults)."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize_fn(identifier)
        if obj is None:  # an unknown class, skipped by inference_only()
            return None
    elif isinstance(identifier, str):
        obj = names.get(identifier)
    else:
        obj = identifier
    if callable(obj):
        return obj() if inspect.isclass(obj) else obj
    raise ValueError(f"Could not interpret {what} identifier: {identifier!r}")
