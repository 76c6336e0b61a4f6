"""``keras.optimizers``: SGD, Adam, AdamW, RMSprop, Adagrad and learning-rate schedules."""

import inspect

from compiler.keras.optimizers import schedules
from compiler.keras.optimizers.adagrad import Adagrad
from compiler.keras.optimizers.adam import Adam
from compiler.keras.optimizers.adamw import AdamW
from compiler.keras.optimizers.base_optimizer import Optimizer
from compiler.keras.optimizers.rmsprop import RMSprop
from compiler.keras.optimizers.sgd import SGD

__all__ = [
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
    "RMSprop",
    "Adagrad",
    "schedules",
    "get",
    "serialize",
    "deserialize",
]

_CLASSES = [SGD, Adam, AdamW, RMSprop, Adagrad]
_BY_NAME = {cls.__name__.lower(): cls for cls in _CLASSES}


def get(identifier):
    """Returns an optimizer instance for a name (``"adam"``), config dict, class or instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if inspect.isclass(identifier) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(
                f"Could not interpret optimizer identifier: {identifier!r}. Valid optimizer "
                f"names: {sorted(_BY_NAME)}"
            )
        return cls()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")


def serialize(optimizer):
    """Keras 3's serialized optimizer: module, class name, ``get_config()``."""
    return {
        "module": "keras.optimizers",
        "class_name": type(optimizer).__name__,
        "config": optimizer.get_config(),
        "registered_name": None,
    }


def deserialize(config, custom_objects=None):
    """Inverse of ``serialize``; class names are matched case-insensitively, as Keras does."""
    if isinstance(config, str):
        return get(config)
    name = config.get("class_name", "")
    cls = (custom_objects or {}).get(name) or _BY_NAME.get(name.lower())
    if cls is None:
        raise ValueError(f"Unknown optimizer: {name!r}. Valid optimizer names: {sorted(_BY_NAME)}")
    return cls.from_config(dict(config.get("config") or {}))
