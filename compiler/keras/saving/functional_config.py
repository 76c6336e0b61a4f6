"""The config of a functional model in Keras 3's layout, and the model rebuilt from it.

Each layer entry carries its ``inbound_nodes``: one ``{"args": [...], "kwargs": {...}}`` per call
of the layer inside this model, where a symbolic input is ``{"class_name": "__keras_tensor__",
"config": {"shape", "dtype", "keras_history": [layer_name, node_index, tensor_index]}}``. Node
indices count only the calls that belong to the model (a nested model too: Keras 3.15 gives it
no node of its own). ``input_layers`` / ``output_layers`` hold such
``[name, node_index, tensor_index]`` triples in the structure of the model's inputs and outputs.
Layers are listed in Keras's order (``model.layers``, see ``models/_graph_order.py``).
"""

from compiler.keras.layers.layer import KerasTensor, map_structure
from compiler.keras.saving.serialization import (
    deserialize_keras_object,
    serialize_keras_object,
)

__all__ = ["functional_config", "functional_from_config"]


def functional_config(model):
    """``model.get_config()`` of a ``Functional`` model, as Keras 3 writes it."""
    own_nodes = {id(node) for node in model._nodes}
    for tensor in model.inputs:
        layer, node_index, _ = tensor._keras_history
        own_nodes.add(id(layer._inbound_nodes[node_index]))

    def new_index(layer, node_index):
        kept = [
            i for i, node in enumerate(layer._inbound_nodes[:node_index]) if id(node) in own_nodes
        ]
        return len(kept)

    def tensor_config(t):
        layer, node_index, tensor_index = t._keras_history
        return {
            "class_name": "__keras_tensor__",
            "config": {
                "shape": list(t.shape),
                "dtype": t.dtype,
                "keras_history": [layer.name, new_index(layer, node_index), tensor_index],
            },
        }

    def serialize_value(value):
        if isinstance(value, KerasTensor):
            return tensor_config(value)
        return serialize_keras_object(value)

    layers = []
    for layer in model.layers:
        nodes = []
        for node in layer._inbound_nodes:
            if id(node) in own_nodes and node.input_tensors:
                nodes.append(
                    {
                        "args": map_structure(serialize_value, list(node.args)),
                        "kwargs": {
                            k: map_structure(serialize_value, v) for k, v in node.kwargs.items()
                        },
                    }
                )
        entry = serialize_keras_object(layer)
        entry["name"] = layer.name
        entry["inbound_nodes"] = nodes
        layers.append(entry)

    def leaf(t):
        layer, node_index, tensor_index = t._keras_history
        return [layer.name, new_index(layer, node_index), tensor_index]

    return {
        "name": model.name,
        "trainable": model.trainable,
        "layers": layers,
        "input_layers": map_structure(leaf, model._inputs_struct),
        "output_layers": map_structure(leaf, model._outputs_struct),
    }


def functional_from_config(config, custom_objects=None):
    """Rebuilds a ``Functional`` model: creates the layers, then replays their calls.

    A call is replayed once the calls that produce its inputs exist, so layers shared at
    different depths work; a call whose inputs never appear is an error, not a hang.

    Raises:
        ValueError: a malformed config (unknown layer names, bad node references, cycles).
    """
    from compiler.keras.models.functional import Functional

    if not isinstance(config, dict):
        raise ValueError(f"A functional model config must be a dict. Received: {config!r}")
    layer_configs = config.get("layers")
    if not isinstance(layer_configs, list) or not layer_configs:
        raise ValueError("A functional model config needs a non-empty `layers` list.")
    created, pending = {}, {}
    for layer_data in layer_configs:
        if not isinstance(layer_data, dict) or not isinstance(layer_data.get("name"), str):
            raise ValueError(f"Each layer entry needs a string `name`. Received: {layer_data!r}")
        name = layer_data["name"]
        if name in created:
            raise ValueError(f"Two layers of the functional config are named '{name}'.")
        nodes = layer_data.get("inbound_nodes", [])
        if not isinstance(nodes, list) or not all(isinstance(n, dict) for n in nodes):
            raise ValueError(f"Layer '{name}': `inbound_nodes` must be a list of dicts.")
        created[name] = deserialize_keras_object(layer_data, custom_objects)
        if nodes:
            pending[name] = list(nodes)

    while pending:
        progress = False
        for name in list(pending):
            layer = created[name]
            while pending[name]:
                call = _revive_call(pending[name][0], created, custom_objects)
                if call is None:
                    break
                args, kwargs = call
                layer(*args, **kwargs)
                pending[name].pop(0)
                progress = True
            if not pending[name]:
                del pending[name]
        if not progress:
            raise ValueError(
                f"The functional config cannot be rebuilt: the calls of layer(s) "
                f"{sorted(pending)} use outputs that no layer call produces."
            )

    def get_tensor(triple):
        name, node_index, tensor_index = _history(triple, created)
        layer = created[name]
        nodes = layer._inbound_nodes
        if not 0 <= node_index < len(nodes):
            raise ValueError(f"Model input/output refers to call {triple} that does not exist.")
        outputs = nodes[node_index].output_tensors
        if not 0 <= tensor_index < len(outputs):
            raise ValueError(f"Model input/output refers to output {triple} that does not exist.")
        return outputs[tensor_index]

    inputs = _map_triples(get_tensor, config.get("input_layers"))
    outputs = _map_triples(get_tensor, config.get("output_layers"))
    trainable = config.get("trainable", True)
    return Functional(
        inputs,
        outputs,
        name=config.get("name"),
        trainable=True if trainable is None else bool(trainable),
    )


def _is_triple(value):
    return isinstance(value, list) and len(value) == 3 and isinstance(value[0], str)


def _map_triples(fn, structure):
    if _is_triple(structure):
        return fn(structure)
    if isinstance(structure, dict):
        return {k: _map_triples(fn, v) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)) and structure:
        return [_map_triples(fn, v) for v in structure]
    raise ValueError(f"Invalid input_layers/output_layers entry: {structure!r}")


def _history(triple, created):
    """Validated ``(layer_name, node_index, tensor_index)``, node index in our numbering."""
    if not (
        isinstance(triple, (list, tuple))
        and len(triple) == 3
        and isinstance(triple[0], str)
        and all(isinstance(i, int) and not isinstance(i, bool) for i in triple[1:])
    ):
        raise ValueError(f"Invalid keras_history {triple!r}: expected [layer_name, node, tensor]")
    name, node_index, tensor_index = triple
    if name not in created:
        raise ValueError(f"Unknown layer '{name}' in keras_history {list(triple)}")
    return name, node_index, tensor_index


def _revive_call(node_data, created, custom_objects):
    """``(args, kwargs)`` of a recorded call with its tensors replaced, or None if not ready."""
    args = deserialize_keras_object(node_data.get("args", []), custom_objects)
    kwargs = deserialize_keras_object(node_data.get("kwargs", {}), custom_objects)
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise ValueError(f"Invalid node {node_data!r}: expected args list and kwargs dict")
    ready = True

    def revive(x):
        nonlocal ready
        if not isinstance(x, KerasTensor):
            return x
        name, node_index, tensor_index = _history(x._pre_serialization_keras_history, created)
        nodes = created[name]._inbound_nodes
        if node_index < 0:
            raise ValueError(f"Invalid node index in keras_history of layer '{name}'")
        if node_index >= len(nodes):
            ready = False
            return None
        outputs = nodes[node_index].output_tensors
        if not 0 <= tensor_index < len(outputs):
            raise ValueError(
                f"keras_history refers to output {tensor_index} of layer '{name}', which has "
                f"{len(outputs)} output(s)"
            )
        return outputs[tensor_index]

    args = map_structure(revive, args)
    kwargs = {k: map_structure(revive, v) for k, v in kwargs.items()}
    return (args, kwargs) if ready else None
