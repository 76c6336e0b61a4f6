"""Lowering a frontend model (Sequential or functional, nested models included) to an IR graph.

The walk follows the functional graph's nodes in topological order and maps each symbolic
tensor to an IR value. A model used as a layer is lowered inline (its own nodes, its inputs
bound to the caller's values). A layer called twice is lowered twice over the same weights.
Layers are read only through ``get_config()`` and ``get_weights()``; ``LOWERINGS`` (one table)
says how each class becomes ops.
"""

from __future__ import annotations

from compiler.ir import Graph, Value
from compiler.lower._operations import is_operation_node, lower_operation
from compiler.lower.context import LayerCall, Lowering
from compiler.lower.errors import UnsupportedLayerError
from compiler.lower.table import LOWERINGS

__all__ = ["lower_model", "supported_layers"]

_INPUT_DTYPES = ("float32", "int32")


def supported_layers() -> list[str]:
    """Class names of the layers the compiler can lower, sorted."""
    return sorted(LOWERINGS)


def _functional_of(model):
    if hasattr(model, "_nodes") and hasattr(model, "inputs"):
        return model
    if not hasattr(model, "_functional"):
        raise UnsupportedLayerError(
            f"model '{getattr(model, 'name', model)}' is a subclassed model "
            f"({type(model).__name__}): its graph is Python code the compiler cannot read; "
            "build it as a Sequential or functional model"
        )
    functional = model._functional
    if functional is None:
        raise UnsupportedLayerError(
            f"model '{getattr(model, 'name', model)}' ({type(model).__name__}) is not built: "
            "give it an input shape (keras.Input, input_shape=, build()) or call it once"
        )
    return functional


def _is_model(layer) -> bool:
    return hasattr(layer, "_nodes") or hasattr(layer, "_functional")


def _lower_graph(ctx: Lowering, functional, input_values: list[Value], renames: dict) -> list:
    env: dict[int, Value] = {id(t): v for t, v in zip(functional.inputs, input_values)}
    for node in functional._nodes:
        layer = node.layer
        try:
            inputs = [env[id(t)] for t in node.input_tensors]
        except KeyError:
            raise UnsupportedLayerError(
                f"layer '{layer.name}' reads a tensor that is not computed from the model inputs"
            ) from None
        if _is_model(layer):
            inner = _functional_of(layer)
            outputs = _lower_graph(ctx, inner, inputs, {})
        else:
            outputs = _lower_layer(ctx, layer, node, inputs)
        if len(outputs) != len(node.output_tensors):
            raise UnsupportedLayerError(
                f"layer '{layer.name}' ({type(layer).__name__}) produced {len(outputs)} values "
                f"for {len(node.output_tensors)} outputs"
            )
        for tensor, value in zip(node.output_tensors, outputs):
            env[id(tensor)] = value
            name = renames.pop(id(tensor), None)
            if name is not None and not ctx.graph.is_input(value) and not value.is_const:
                value.name = name  # the Keras output name, reserved up front
    return [env[id(t)] for t in functional.outputs]


def _lower_layer(ctx: Lowering, layer, node, inputs: list[Value]) -> list[Value]:
    if is_operation_node(layer):  # ``x + 3.0``, ``ops.mean(x)``: its call arguments matter
        return lower_operation(ctx, layer, node, inputs)
    class_name = type(layer).__name__
    fn = LOWERINGS.get(class_name)
    if fn is None:
        raise UnsupportedLayerError(
            f"layer '{layer.name}' of class {class_name} is not supported by the compiler. "
            f"Supported layers: {', '.join(supported_layers())}"
        )
    call = LayerCall(
        layer=layer,
        config=layer.get_config(),
        weights=[w for w in layer.get_weights()],
        inputs=inputs,
        out_shapes=[tuple(t.shape) for t in node.output_tensors],
        call_kwargs=dict(getattr(node, "kwargs", None) or {}),
    )
    return fn(ctx, call)


def _unique_names(names, taken: set) -> list[str]:
    """Keras names a layer's outputs after the layer: a layer called twice as two outputs
    gives its name twice. Files need distinct names: the later ones get ``_1``, ``_2``..."""
    out = []
    for name in names:
        unique, i = name, 0
        while unique in taken:
            i += 1
            unique = f"{name}_{i}"
        taken.add(unique)
        out.append(unique)
    return out


def lower_model(model) -> Graph:
    """Lowers ``model`` to an inference graph.

    Graph inputs are named like the model's inputs and graph outputs like its outputs (the
    names the TFLite signature and the ONNX graph use).

    Raises:
        UnsupportedLayerError: a layer, activation or option the compiler cannot express.
    """
    functional = _functional_of(model)
    graph = Graph(getattr(model, "name", None) or "model")
    ctx = Lowering(graph)
    input_names = list(model.input_names)
    output_names = _unique_names(model.output_names, taken=set(input_names))
    inputs = []
    for tensor, name in zip(functional.inputs, input_names):
        dtype = str(tensor.dtype)
        if dtype not in _INPUT_DTYPES:  # int32 for token ids (Embedding)
            raise UnsupportedLayerError(
                f"model input '{name}' has dtype {dtype}; supported: {', '.join(_INPUT_DTYPES)}"
            )
        inputs.append(graph.add_input(name, tensor.shape, dtype))
    for name in output_names:
        graph.reserve(name)
    renames = {}
    for tensor, name in zip(functional.outputs, output_names):
        renames.setdefault(id(tensor), name)
    outputs = _lower_graph(ctx, functional, inputs, renames)
    graph.outputs = []
    for value, name in zip(outputs, output_names):
        if value.name != name or graph.is_input(value) or graph.is_output(value):
            # An output that is also an input or another output: a copy under its own name
            # (suffixed only when another value holds the name).
            taken = {v.name for op in graph.ops for v in op.outputs} | {
                v.name for v in graph.inputs
            }
            alias = Value(
                graph.unique_name(name) if name in taken else name, value.shape, value.dtype
            )
            graph.add_op("IDENTITY", [value], [alias], name=name)
            value = alias
        graph.outputs.append(value)
    graph.validate()
    return graph
