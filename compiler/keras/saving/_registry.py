"""Where a serialized ``module`` / ``class_name`` is looked up: our packages only, lazily.

A file can only make the loader look into this fixed list of our own packages (never import a
module it names), and only at public classes that can be rebuilt from a config, or public
functions of the function modules. Lookups happen at load time, so a layer added to
``compiler.keras.layers`` is found without a change here.
"""

import importlib
import inspect

from compiler.keras.saving._operations import OPERATIONS
from compiler.keras.saving.errors import UnknownObjectError, UnsafeObjectError
from compiler.keras.saving.object_registration import get_registered_object

__all__ = ["resolve_class", "resolve_function", "keras_module_of"]

# Keras's public module (the segment after ``keras.`` or ``keras.src.``) -> our package.
PACKAGES = {
    "layers": "compiler.keras.layers",
    "models": "compiler.keras.models",
    "initializers": "compiler.keras.initializers",
    "activations": "compiler.keras.activations",
    "losses": "compiler.keras.losses",
    "optimizers": "compiler.keras.optimizers",
    "metrics": "compiler.keras.metrics",
    "regularizers": "compiler.keras.regularizers",
    "constraints": "compiler.keras.constraints",
    "applications": "compiler.keras.applications",  # custom layers of keras.applications
}
# Function-valued configs (``class_name: "function"``) may only name functions of these.
FUNCTION_PACKAGES = ("activations", "losses", "metrics")
# Layers that hold Python code: rebuilding them would run code from the file.
UNSAFE_CLASSES = {"Lambda": "its function is Python code stored in the file"}
# Registered name prefix of compiler.quantize.qat's layers (FakeQuant, QuantizeWrapper).
QAT_PREFIX = "compiler_qat>"


def _package(name):
    try:
        return importlib.import_module(PACKAGES[name])
    except ModuleNotFoundError:
        return None


def _segments(module):
    """``keras.src.layers.core.dense`` -> ``["layers", "core", "dense"]``; None if not Keras."""
    if not isinstance(module, str):
        return None
    parts = module.split(".")
    if parts[0] != "keras":
        return None
    parts = parts[1:]
    if parts[:1] == ["src"]:
        parts = parts[1:]
    return parts


def _lookup(module, name):
    """Public attribute ``name`` of the package that Keras module ``module`` maps to."""
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
        return None, "it is not a valid public class name"
    parts = _segments(module)
    if parts is None:
        return None, f"module {module!r} is not a Keras module"
    if not parts:  # "keras": the top-level names
        return _public(importlib.import_module("compiler.keras"), name), (
            "not found in compiler.keras"
        )
    if parts[0] not in PACKAGES:
        known = ", ".join(f"keras.{p}" for p in sorted(PACKAGES))
        return None, f"module {module!r} is not one of {known}"
    package = _package(parts[0])
    if package is None:
        return None, f"{PACKAGES[parts[0]]} is not available"
    found = _public(package, name)
    if found is None and len(parts) > 1:
        sub = getattr(package, parts[1], None)  # e.g. keras.optimizers.schedules
        if inspect.ismodule(sub) and sub.__name__.startswith(package.__name__ + "."):
            found = _public(sub, name)
    return found, f"not found in {PACKAGES[parts[0]]}"


def _public(module, name):
    """``module.name`` if the module exports it (its ``__all__``), else None."""
    exported = getattr(module, "__all__", None)
    if exported is not None and name not in exported:
        return None
    return getattr(module, name, None)


def resolve_class(class_name, module, registered_name, custom_objects=None):
    """The class a config names: a custom object first, else one of our public classes.

    Raises:
        UnsafeObjectError: for classes that hold code (``Lambda``).
        UnknownObjectError: naming the class and the module, when nothing matches.
    """
    if class_name in UNSAFE_CLASSES:
        raise UnsafeObjectError(
            f"Refusing to load a '{class_name}' layer: {UNSAFE_CLASSES[class_name]}, and loading "
            f"never executes code from a file. Rebuild this part of the model in Python."
        )
    if isinstance(registered_name, str) and registered_name.startswith(QAT_PREFIX):
        # The project's own QAT layers register themselves when their (fixed) module is
        # imported: a saved QAT model loads in a process that never imported it.
        importlib.import_module("compiler.quantize.qat")
    for key in (registered_name, class_name):
        custom = get_registered_object(key, custom_objects)
        if custom is not None:
            return custom
    parts = _segments(module) or []
    if parts[:1] == ["ops"]:  # a graph node of a Keras op: only those of the fixed table
        if class_name in OPERATIONS:
            return OPERATIONS[class_name]
        raise UnknownObjectError(
            f"Unknown class '{class_name}' (module '{module}'): this Keras operation is not "
            f"supported as a graph node; supported operations: {', '.join(sorted(OPERATIONS))}"
        )
    found, where = _lookup(module, class_name)
    if isinstance(found, type) and hasattr(found, "from_config"):
        return found
    raise UnknownObjectError(
        f"Unknown class '{class_name}' (module '{module}', registered_name "
        f"{registered_name!r}): {where}, and no custom object is registered under that "
        f"name. Register custom classes with `keras.saving.register_keras_serializable()` "
        f"or pass `custom_objects`."
    )


def resolve_function(name, module, registered_name, custom_objects=None):
    """A function named by a ``{"class_name": "function"}`` config (activations, losses...)."""
    for key in (registered_name, name):
        custom = get_registered_object(key, custom_objects)
        if custom is not None:
            return custom
    parts = _segments(module) if module != "builtins" else []
    candidates = [parts[0]] if parts else list(FUNCTION_PACKAGES)
    for package_name in candidates:
        if package_name not in FUNCTION_PACKAGES:
            continue
        found, _ = _lookup(f"keras.{package_name}", name)
        if inspect.isfunction(found):
            return found
    raise UnknownObjectError(
        f"Unknown function '{name}' (module '{module}'): not a function of "
        f"{[PACKAGES[p] for p in FUNCTION_PACKAGES]} nor a registered custom object."
    )


def keras_module_of(cls):
    """Keras's public module for one of our classes (``"keras.layers"``), or None."""
    for short in PACKAGES:
        if short in ("models", "activations"):
            continue
        package = _package(short)
        if package is not None and getattr(package, cls.__name__, None) is cls:
            return f"keras.{short}"
    return None
