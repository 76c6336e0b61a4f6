"""The weights file (``model.weights.h5``): Keras 3's layout, written and read with h5py.

Every saveable object (the model, each layer, nested layers, the optimizer) owns one group
``<path>/vars`` with an attribute ``name`` and its own variables as datasets ``"0"``, ``"1"``...
(trainable first, then non-trainable, in creation order). Paths follow Keras's
``saving_lib._save_state``: the model is the root; a Sequential or Functional model's ``layers``
are named by snake-case class name made unique among siblings (``layers/dense``,
``layers/dense_1``, not by layer name), a functional model's layers taken in Keras's order
(``_graph_order``); a layer's sublayers sit under the attribute that holds
them (``layers/lstm/cell``, ``layers/bidirectional/forward_layer/cell``), and the optimizer under
``optimizer``. An object reached twice is saved once, at its first path.

Reading checks every dataset's shape and dtype (HDF5 metadata only) against the variables of
the already-built model before reading any value, charges the bytes to be read to the load's
memory budget, and assigns only after all reads succeed. The file's HDF5 structure (no external
storage, links or plugin filters) is checked by the caller first (``_h5_structure``).
"""

import re
import sys
import warnings
from dataclasses import dataclass

import numpy as np

from compiler.keras.models._graph_order import keras_layer_order
from compiler.keras.saving._guard import charge

__all__ = ["to_snake_case", "saveable_entries", "write_weights", "read_weights"]

_MAX_VARS_PER_GROUP = 100_000


def to_snake_case(name):
    """Keras's ``naming.to_snake_case``: ``"Conv2D"`` -> ``"conv2d"``, ``"LSTM"`` -> ``"lstm"``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


@dataclass
class Entry:
    """One ``<path>/vars`` group: the owner's name, its own variables, whether an optimizer."""

    path: str
    name: str
    variables: list
    is_optimizer: bool = False
    owner: object = None


def _optimizer_class():
    # No object can be an Optimizer before the optimizers package is imported; importing it
    # just for this check would cost every inference-only load (the compile command) its time.
    return getattr(sys.modules.get("compiler.keras.optimizers"), "Optimizer", None)


def _is_saveable(obj):
    from compiler.keras.layers.layer import Layer
    from compiler.keras.saving._operations import is_operation

    if is_operation(obj):  # Keras op nodes are not layers: no weights group, no name slot
        return False
    optimizer_cls = _optimizer_class()
    return isinstance(obj, Layer) or (optimizer_cls is not None and isinstance(obj, optimizer_cls))


def _own_variables(obj):
    from compiler.keras.layers.layer import Layer

    if isinstance(obj, Layer):
        own = list(obj._variables)
        return [v for v in own if v.trainable] + [v for v in own if not v.trainable]
    return list(obj.variables)


_BASE_ATTRS = None


def _base_attrs():
    """Attribute names every plain ``Layer`` has: never child saveables (Keras's skip list)."""
    global _BASE_ATTRS
    if _BASE_ATTRS is None:
        from compiler.keras.layers.layer import Layer

        _BASE_ATTRS = frozenset(vars(Layer(name="_attribute_probe"))) | {"_layers"}
    return _BASE_ATTRS


def _name_key(name):
    # Keras visits public attributes first, then private ones.
    return "~" + name if name.startswith("_") else name


def _children(obj):
    from compiler.keras.models.functional import Functional
    from compiler.keras.models.sequential import Sequential

    if isinstance(obj, (Sequential, Functional)):
        yield "layers", keras_layer_order(obj) if isinstance(obj, Functional) else obj.layers
        optimizer = getattr(obj, "optimizer", None)
        if optimizer is not None:
            yield "optimizer", optimizer
        return
    if not hasattr(obj, "__dict__"):
        return
    skip = _base_attrs()
    for attr in sorted(vars(obj), key=_name_key):
        if attr.startswith("__") or attr in skip:
            continue
        yield attr, vars(obj)[attr]


def saveable_entries(model):
    """Every ``<path>/vars`` group of ``model``, in Keras's visiting order."""
    entries, visited = [], set()

    def visit(obj, path):
        if id(obj) in visited:
            return
        visited.add(id(obj))
        entries.append(
            Entry(
                path,
                str(getattr(obj, "name", "")),
                _own_variables(obj),
                is_optimizer=not _is_layer(obj),
                owner=obj,
            )
        )
        for attr, child in _children(obj):
            child_path = f"{path}/{attr}" if path else attr
            if _is_saveable(child):
                visit(child, child_path)
            elif isinstance(child, (list, tuple, dict)):
                visit_container(child, child_path)

    def visit_container(container, path):
        used = {}
        items = list(container.values()) if isinstance(container, dict) else list(container)
        for item in items:
            if not _is_saveable(item):
                continue
            name = to_snake_case(type(item).__name__)
            if name in used:
                used[name] += 1
                name = f"{name}_{used[name]}"
            else:
                used[name] = 0
            visit(item, f"{path}/{name}")

    visit(model, "")
    return entries


def _is_layer(obj):
    from compiler.keras.layers.layer import Layer

    return isinstance(obj, Layer)


def _vars_path(path):
    return f"{path}/vars" if path else "vars"


def write_weights(h5_file, model):
    """Writes the weights (and optimizer state) of ``model`` into an open, empty h5py file."""
    for entry in saveable_entries(model):
        parent = h5_file.require_group(entry.path) if entry.path else h5_file
        group = parent.create_group("vars")
        group.attrs["name"] = entry.name
        for i, variable in enumerate(entry.variables):
            group.create_dataset(str(i), data=np.asarray(variable.data))


def read_weights(h5_file, model, skip_mismatch=False):
    """Loads the weights of ``model`` from an open h5py file written by Keras 3 or by us.

    Raises:
        ValueError: listing every group that is missing or does not match the model (unless
            ``skip_mismatch``, which warns and leaves those variables unchanged).
    """
    import h5py

    plan, problems = [], []
    for entry in saveable_entries(model):
        where = _vars_path(entry.path)
        group = h5_file.get(where)
        if group is None:
            if entry.variables and not entry.is_optimizer:
                problems.append(
                    f"'{where}' is missing ({len(entry.variables)} variables of "
                    f"'{entry.name}' expected)"
                )
            continue
        if not isinstance(group, h5py.Group):
            problems.append(f"'{where}' is not a group")
            continue
        count = len(group)
        if count > _MAX_VARS_PER_GROUP or count != len(entry.variables):
            message = (
                f"'{where}' holds {count} variables, but '{entry.name}' has {len(entry.variables)}"
            )
            if entry.is_optimizer:
                warnings.warn(f"Skipping the optimizer state: {message}.", stacklevel=3)
            else:
                problems.append(message)
            continue
        for i, variable in enumerate(entry.variables):
            problem = _check_dataset(group.get(str(i)), variable, f"{where}/{i}")
            if problem:
                problems.append(problem)
            else:
                plan.append((group[str(i)], variable))
    if problems:
        message = "weights do not match the model: " + "; ".join(problems[:20])
        if len(problems) > 20:
            message += f"; and {len(problems) - 20} more"
        if not skip_mismatch:
            raise ValueError(message)
        warnings.warn(message, stacklevel=3)
    charge(sum(dataset.size * dataset.dtype.itemsize for dataset, _ in plan), "the weight values")
    values = [np.asarray(dataset[()]) for dataset, _ in plan]
    for (_, variable), value in zip(plan, values, strict=True):
        variable.assign(value)


def _check_dataset(dataset, variable, where):
    import h5py

    if not isinstance(dataset, h5py.Dataset):
        return f"'{where}' is missing or not a dataset"
    shape, dtype = tuple(dataset.shape or ()), dataset.dtype
    if shape != tuple(variable.shape):
        return f"'{where}' has shape {shape}, expected {tuple(variable.shape)} ({variable.path})"
    if dtype.kind not in "biuf" or dtype.itemsize > 8 or "dtype" in dataset.attrs:
        return f"'{where}' has dtype {dtype}, expected a number array like {variable.dtype}"
    return None
