"""``keras.models``: model classes and loading."""

from compiler.keras.models.functional import Functional
from compiler.keras.models.model import Model
from compiler.keras.models.sequential import Sequential

__all__ = ["Model", "Sequential", "Functional", "load_model", "save_model"]


def __getattr__(name):
    # Loading and saving need h5py; building and training a model do not (PEP 562).
    if name in ("load_model", "save_model"):
        from compiler.keras.saving import saving_api

        return getattr(saving_api, name)
    raise AttributeError(f"module 'compiler.keras.models' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
