"""``keras.models``: model classes and loading."""

from compiler.keras.models.functional import Functional
from compiler.keras.models.model import Model
from compiler.keras.models.sequential import Sequential
from compiler.keras.saving.saving_api import load_model, save_model

__all__ = ["Model", "Sequential", "Functional", "load_model", "save_model"]
