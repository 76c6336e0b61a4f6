"""Custom objects: ``register_keras_serializable``, ``get_custom_objects``, ``custom_object_scope``.

A registered class is saved with ``registered_name = "package>Name"`` and found again by that
name when loading; this is the only way user code takes part in loading.
"""

import threading

__all__ = [
    "register_keras_serializable",
    "get_custom_objects",
    "get_registered_name",
    "get_registered_object",
    "custom_object_scope",
    "CustomObjectScope",
]

_GLOBAL_CUSTOM_OBJECTS: dict = {}
_GLOBAL_CUSTOM_NAMES: dict = {}
_SCOPE = threading.local()


def register_keras_serializable(package="Custom", name=None):
    """Decorator that registers a class or function under ``"package>name"``.

    Args:
        package: the package part of the registered name.
        name: the name part; default the object's ``__name__``.
    """
    if not isinstance(package, str) or ">" in package:
        raise ValueError(f"`package` must be a string without '>'. Received: package={package!r}")

    def decorator(obj):
        registered = f"{package}>{name or obj.__name__}"
        if isinstance(obj, type) and not hasattr(obj, "get_config"):
            raise ValueError(
                f"Cannot register {obj.__name__}: a class must implement `get_config()` to be "
                f"serializable."
            )
        _GLOBAL_CUSTOM_OBJECTS[registered] = obj
        _GLOBAL_CUSTOM_NAMES[obj] = registered
        return obj

    return decorator


def get_custom_objects():
    """The global dict of registered objects (``registered name -> object``); it is mutable."""
    return _GLOBAL_CUSTOM_OBJECTS


def get_registered_name(obj):
    """``"package>Name"`` for a registered object, else its ``__name__``."""
    if obj in _GLOBAL_CUSTOM_NAMES:
        return _GLOBAL_CUSTOM_NAMES[obj]
    return getattr(obj, "__name__", None)


def _scoped():
    merged = {}
    for scope in getattr(_SCOPE, "stack", []):
        merged.update(scope)
    return merged


def get_registered_object(name, custom_objects=None):
    """Looks ``name`` up in ``custom_objects``, then the active scopes, then the registry."""
    if not isinstance(name, str):
        return None
    for table in (custom_objects or {}, _scoped(), _GLOBAL_CUSTOM_OBJECTS):
        if name in table:
            return table[name]
    return None


class CustomObjectScope:
    """``with custom_object_scope({"MyLayer": MyLayer}):`` makes objects findable by name."""

    def __init__(self, *custom_objects):
        self.custom_objects = {}
        for objects in custom_objects:
            self.custom_objects.update(objects or {})

    def __enter__(self):
        if not hasattr(_SCOPE, "stack"):
            _SCOPE.stack = []
        _SCOPE.stack.append(self.custom_objects)
        return self

    def __exit__(self, *exc):
        _SCOPE.stack.pop()


custom_object_scope = CustomObjectScope
