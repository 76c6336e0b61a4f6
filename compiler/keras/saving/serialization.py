"""Keras 3's object configs: ``serialize_keras_object`` / ``deserialize_keras_object``.

An object is saved as ``{"module", "class_name", "config", "registered_name"}`` (plus
``build_config`` / ``compile_config`` for layers and models), exactly as Keras 3 writes it, so
that each side reads the other's files. Deserializing never imports a module named in the config
and never rebuilds code: classes come from our packages or from registered custom objects
(see ``_registry``), and ``Lambda`` layers and ``__lambda__`` values are refused.
"""

import inspect

import numpy as np

from compiler.keras.saving import _registry
from compiler.keras.saving.errors import UnknownObjectError, UnsafeObjectError
from compiler.keras.saving.object_registration import CustomObjectScope, get_registered_name

__all__ = ["serialize_keras_object", "deserialize_keras_object"]

PLAIN_TYPES = (str, int, float, bool)
_MAX_NUMPY_ELEMENTS = 1 << 24  # an inline ``__numpy__`` value bigger than this is not a config
_MAX_NUMPY_DEPTH = 32  # numpy's own limit on dimensions is 64
# The dtypes Keras writes for a ``__numpy__`` value (``str(array.dtype)``). A name is looked up
# here, never handed to ``np.dtype``: ``"(400000000,)f4"`` is a valid numpy dtype of 1.6 GB per
# element.
_NUMPY_DTYPES = {
    name: np.dtype(name)
    for name in (
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float16",
        "float32",
        "float64",
    )
}


def serialize_keras_object(obj):
    """The JSON-ready config of a Keras object (layer, model, loss, optimizer, ...) or value.

    Args:
        obj: ``None``, a plain value, a list / tuple / dict of them, a numpy value, a
            ``KerasTensor``, a function, or an object with ``get_config()``.

    Returns:
        Plain values, lists and dicts; objects become Keras 3's ``{"module", "class_name",
        "config", "registered_name"}`` dicts.
    """
    from compiler.keras.layers.layer import KerasTensor

    if obj is None or isinstance(obj, PLAIN_TYPES):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(x) for x in obj]
    if isinstance(obj, dict):
        return {key: serialize_keras_object(value) for key, value in obj.items()}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        if obj.ndim == 0:
            return obj.item()
        return {
            "class_name": "__numpy__",
            "config": {"value": obj.tolist(), "dtype": str(obj.dtype)},
        }
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if isinstance(obj, slice):  # the index of a GetItem graph node, as Keras writes it
        return {
            "class_name": "__slice__",
            "config": {
                "start": serialize_keras_object(obj.start),
                "stop": serialize_keras_object(obj.stop),
                "step": serialize_keras_object(obj.step),
            },
        }
    if obj is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(obj, KerasTensor):
        history = obj._keras_history
        if history:
            history = [history[0].name, history[1], history[2]]
        return {
            "class_name": "__keras_tensor__",
            "config": {"shape": list(obj.shape), "dtype": obj.dtype, "keras_history": history},
        }
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return _serialize_function(obj)
    if not hasattr(obj, "get_config"):
        raise TypeError(
            f"Cannot serialize object {obj!r} of type {type(obj).__name__}: to be serializable, "
            f"a class must implement `get_config()`."
        )
    config = obj.get_config()
    if not isinstance(config, dict):
        raise TypeError(
            f"The `get_config()` method of {obj!r} should return a dict. It returned: {config!r}"
        )
    module, registered_name = _module_and_registered_name(type(obj))
    result = {
        "module": module,
        # A class Keras exports under another name says so (GroupQueryAttention).
        "class_name": vars(type(obj)).get("keras_class_name", type(obj).__name__),
        "config": serialize_keras_object(config),
        "registered_name": registered_name,
    }
    _add_build_and_compile_config(obj, result)
    return result


def _serialize_function(fn):
    if fn.__name__ == "<lambda>":
        raise UnsafeObjectError(
            "Cannot serialize a Python lambda: it could only be loaded back by running code from "
            "the file. Use a named function registered with "
            "`keras.saving.register_keras_serializable()`."
        )
    registered = get_registered_name(fn)
    for short in _registry.FUNCTION_PACKAGES:
        package = _registry._package(short)
        if package is not None and getattr(package, fn.__name__, None) is fn:
            return {
                "module": f"keras.{short}",
                "class_name": "function",
                "config": fn.__name__,
                "registered_name": fn.__name__,
            }
    return {
        "module": fn.__module__,
        "class_name": "function",
        "config": registered,
        "registered_name": registered,
    }


def _module_and_registered_name(cls):
    from compiler.keras.models.functional import Functional
    from compiler.keras.models.sequential import Sequential
    from compiler.keras.saving._operations import KerasOperation

    if issubclass(cls, KerasOperation) or "keras_module" in vars(cls):
        # Ops and keras.applications' own layers: Keras writes their source module.
        return cls.keras_module, cls.__name__
    if cls is Functional:
        return "keras.src.models.functional", "Functional"
    if cls is Sequential:
        return "keras", None
    registered = get_registered_name(cls)
    if registered and ">" in registered:
        return cls.__module__, registered
    module = _registry.keras_module_of(cls)
    if module is not None:
        return module, None
    return cls.__module__, registered


def _add_build_and_compile_config(obj, result):
    if hasattr(obj, "get_build_config"):
        build_config = obj.get_build_config()
        if build_config is None and result["class_name"] == "Functional":
            build_config = {"input_shape": None}  # Keras's Functional: built by construction
        if build_config is not None:
            result["build_config"] = serialize_keras_object(build_config)
    if hasattr(obj, "get_compile_config") and hasattr(obj, "optimizer"):
        # Keras writes {} for a model that was never compiled.
        compile_config = obj.get_compile_config() if getattr(obj, "compiled", False) else None
        result["compile_config"] = serialize_keras_object(compile_config or {})


def deserialize_keras_object(config, custom_objects=None, safe_mode=True, **kwargs):
    """Rebuilds an object from a config written by ``serialize_keras_object`` or by Keras 3.

    Args:
        config: a config dict, or plain values / lists / dicts containing them.
        custom_objects: ``{name: class_or_function}`` for classes that are not built in.
        safe_mode: kept for Keras's signature; code from a file is never run either way.

    Raises:
        UnknownObjectError: a class or function that is neither ours nor registered.
        UnsafeObjectError: a ``Lambda`` layer or a serialized Python lambda.
        TypeError, ValueError: a config that the class does not accept.
    """
    if config is None or isinstance(config, PLAIN_TYPES):
        if isinstance(config, str) and custom_objects and config in custom_objects:
            return custom_objects[config]
        return config
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(x, custom_objects) for x in config]
    if not isinstance(config, dict):
        raise TypeError(f"Could not parse config: {config!r} (of type {type(config).__name__})")
    if "class_name" not in config or "config" not in config:
        return {
            key: deserialize_keras_object(value, custom_objects) for key, value in config.items()
        }
    class_name = config["class_name"]
    inner = config["config"]
    special = _deserialize_special(class_name, inner)
    if special is not _NOT_SPECIAL:
        return special
    module = config.get("module")
    registered_name = config.get("registered_name", class_name)
    if class_name == "function":
        return _registry.resolve_function(inner, module, registered_name, custom_objects)
    if class_name == "DTypePolicy" or class_name == "FloatDTypePolicy":
        return _dtype_policy_name(inner)
    if not isinstance(class_name, str):
        raise UnknownObjectError(f"Invalid class_name {class_name!r} in config: expected a string")
    cls = _registry.resolve_class(class_name, module, registered_name, custom_objects)
    if inner is None:
        inner = {}
    if not isinstance(inner, dict):
        raise TypeError(
            f"The config of '{class_name}' must be a dict. Received: {type(inner).__name__}"
        )
    with CustomObjectScope(custom_objects):
        if _accepts_custom_objects(cls.from_config):
            instance = cls.from_config(dict(inner), custom_objects=custom_objects)
        else:
            instance = cls.from_config(dict(inner))
        build_config = config.get("build_config")
        if build_config and not getattr(instance, "built", True):
            instance.build_from_config(build_config)
            instance.built = True
        compile_config = config.get("compile_config")
        if compile_config and hasattr(instance, "compile_from_config"):
            instance.compile_from_config(compile_config)
    return instance


_NOT_SPECIAL = object()


def _deserialize_special(class_name, inner):
    from compiler.keras.layers.layer import KerasTensor

    if class_name == "__keras_tensor__":
        _require_dict(class_name, inner)
        tensor = KerasTensor(_shape(inner.get("shape")), dtype=inner.get("dtype", "float32"))
        tensor._pre_serialization_keras_history = inner.get("keras_history")
        return tensor
    if class_name in ("__numpy__", "__tensor__"):
        _require_dict(class_name, inner)
        return _numpy_value(class_name, inner.get("value"), inner.get("dtype"))
    if class_name == "__bytes__":
        _require_dict(class_name, inner)
        return str(inner.get("value")).encode("utf-8")
    if class_name == "__ellipsis__":
        return Ellipsis
    if class_name == "__slice__":
        _require_dict(class_name, inner)
        parts = [inner.get(k) for k in ("start", "stop", "step")]
        if not all(p is None or isinstance(p, int) for p in parts):
            raise ValueError(f"Invalid __slice__ in config: {inner!r}")
        return slice(*parts)
    if class_name in ("__lambda__", "__typespec__"):
        raise UnsafeObjectError(
            f"Refusing to deserialize a '{class_name}' object: it holds Python code (or a "
            f"TensorFlow type), and loading never executes code from a file."
        )
    return _NOT_SPECIAL


def _numpy_value(class_name, value, dtype_name):
    """An inline array, its dtype and size checked (and charged) before it is allocated."""
    from compiler.keras.saving._guard import charge

    dtype = _NUMPY_DTYPES.get(dtype_name) if isinstance(dtype_name, str) else None
    if dtype is None:
        raise ValueError(
            f"Invalid {class_name} dtype {str(dtype_name)[:80]!r} in config: expected one of "
            f"{sorted(_NUMPY_DTYPES)}"
        )
    count = _count_leaves(class_name, value)
    charge(count * dtype.itemsize, f"a {class_name} value of {count:,} {dtype_name}")
    array = np.asarray(value, dtype=dtype)
    if array.dtype != dtype or array.size != count:
        raise ValueError(f"Invalid {class_name} value in config: {array.dtype}{array.shape}")
    return array


def _count_leaves(class_name, value):
    """Elements of a nested list, refused beyond ``_MAX_NUMPY_ELEMENTS`` or too deep."""
    count, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, list):
            if depth >= _MAX_NUMPY_DEPTH:
                raise ValueError(f"Invalid {class_name} value in config: nested too deep")
            stack.extend((child, depth + 1) for child in item)
        elif item is None or isinstance(item, (dict, str)):
            raise ValueError(f"Invalid {class_name} value in config: holds {item!r:.80}")
        else:
            count += 1
        if count + len(stack) > _MAX_NUMPY_ELEMENTS:
            raise ValueError(
                f"Invalid {class_name} value in config: more than {_MAX_NUMPY_ELEMENTS:,} elements"
            )
    return count


def _require_dict(class_name, inner):
    if not isinstance(inner, dict):
        raise TypeError(f"The config of '{class_name}' must be a dict. Received: {inner!r}")


def _shape(shape):
    if not isinstance(shape, (list, tuple)) or not all(
        d is None or (isinstance(d, int) and not isinstance(d, bool) and d >= 0) for d in shape
    ):
        raise ValueError(f"Invalid tensor shape in config: {shape!r}")
    return tuple(shape)


def _dtype_policy_name(inner):
    name = inner.get("name") if isinstance(inner, dict) else None
    if not isinstance(name, str):
        raise ValueError(f"Invalid DTypePolicy config: {inner!r}")
    return name


def _accepts_custom_objects(method):
    try:
        return "custom_objects" in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
