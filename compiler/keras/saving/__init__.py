"""``keras.saving``: the Keras 3 ``.keras`` format and object (de)serialization."""

from compiler.keras.saving.errors import (
    InvalidModelFileError,
    UnknownObjectError,
    UnsafeObjectError,
)
from compiler.keras.saving.object_registration import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from compiler.keras.saving.saving_api import load_model, load_weights, save_model, save_weights
from compiler.keras.saving.serialization import deserialize_keras_object, serialize_keras_object

__all__ = [
    "load_model",
    "save_model",
    "load_weights",
    "save_weights",
    "serialize_keras_object",
    "deserialize_keras_object",
    "register_keras_serializable",
    "get_custom_objects",
    "get_registered_name",
    "get_registered_object",
    "custom_object_scope",
    "CustomObjectScope",
    "InvalidModelFileError",
    "UnknownObjectError",
    "UnsafeObjectError",
]
