"""``keras.models``: model classes and loading."""

from compiler.keras.models.functional import Functional
from compiler.keras.models.model import Model
from compiler.keras.models.sequential import Sequential

__all__ = ["Model", "Sequential", "Functional"]
