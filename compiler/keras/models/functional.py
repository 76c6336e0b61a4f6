"""Functional models: a graph of layer calls from ``keras.Input``s to outputs.

The graph is the list of ``Node``s (layer calls) in topological order. Running the model
replaces each symbolic ``KerasTensor`` by its value, node by node; a layer called twice appears
in two nodes and shares its weights.
"""

from compiler.keras.backend import xp
from compiler.keras.layers.input_layer import InputLayer
from compiler.keras.layers.layer import KerasTensor, Layer, _flatten, map_structure
from compiler.keras.models._fusion import functional_pairs, run_conv_pool
from compiler.keras.models._graph_order import keras_layer_order
from compiler.keras.models.model import Model
from compiler.keras.ops import Tensor, as_tensor

__all__ = ["Functional"]


class Functional(Model):
    """A model defined by its inputs and outputs (``keras.Model(inputs, outputs)``).

    Args:
        inputs: a ``keras.Input`` tensor, or a list / dict of them.
        outputs: a tensor computed from the inputs, or a list / dict of them.
        name: the model's name.
    """

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        Layer.__init__(self, name=name, trainable=trainable, **kwargs)
        self._init_training_state()
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        self.inputs = _flatten(inputs)
        self.outputs = _flatten(outputs)
        for t in self.inputs + self.outputs:
            if not isinstance(t, KerasTensor):
                raise ValueError(
                    f"All `inputs` and `outputs` of a functional model must be symbolic tensors "
                    f"made from `keras.Input`. Received: {t!r}"
                )
        for t in self.inputs:
            if not isinstance(t._keras_history[0], InputLayer):
                raise ValueError(
                    f"Model inputs must come from `keras.Input`. Received: {t!r}, produced by "
                    f"layer '{t._keras_history[0].name}'"
                )
        self._nodes = _topological_nodes(self.inputs, self.outputs)
        # Conv2D + MaxPooling2D pairs run as one primitive (see models/_fusion.py).
        self._fused = functional_pairs(self._nodes, self.outputs)
        self._skipped = {id(conv_node) for conv_node in self._fused.values()}
        # Keras 3's order: summary, get_weights and .keras weight paths all follow it.
        self._layers.extend(keras_layer_order(self))
        self.built = True

    @property
    def input_names(self):
        return [t._keras_history[0].name for t in self.inputs]

    @property
    def output_names(self):
        return [t._keras_history[0].name for t in self.outputs]

    @property
    def input_shape(self):
        shapes = [t.shape for t in self.inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [t.shape for t in self.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    def call(self, inputs, training=None, mask=None):
        values = {}
        for tensor, value in zip(self.inputs, self._flatten_inputs(inputs), strict=True):
            values[id(tensor)] = value

        def lookup(t):
            return values[id(t)] if isinstance(t, KerasTensor) else t

        for node in self._nodes:
            if id(node) in self._skipped:
                continue  # runs with the pool that it feeds
            conv_node = self._fused.get(id(node))
            if conv_node is not None:
                out = run_conv_pool(conv_node.layer, node.layer, lookup(conv_node.input_tensors[0]))
                values[id(node.output_tensors[0])] = out
                continue
            args = map_structure(lookup, node.args)
            kwargs = {k: map_structure(lookup, v) for k, v in node.kwargs.items()}
            kwargs.setdefault("training", training)
            out = node.layer(*args, **kwargs)
            for tensor, value in zip(node.output_tensors, _flatten(out), strict=True):
                values[id(tensor)] = value
        return map_structure(lookup, self._outputs_struct)

    def _flatten_inputs(self, inputs):
        """Matches what the user passed (array, list, dict by input name) to the model inputs."""
        names = self.input_names
        if isinstance(inputs, dict):
            missing = [n for n in names if n not in inputs]
            if missing:
                raise ValueError(
                    f"Missing data for input(s) {missing} of model '{self.name}'. "
                    f"Expected inputs: {names}; received keys: {sorted(inputs)}"
                )
            flat = [inputs[n] for n in names]
        elif isinstance(inputs, (list, tuple)):
            flat = list(inputs)
        else:
            flat = [inputs]
        if len(flat) != len(self.inputs):
            raise ValueError(
                f"Model '{self.name}' expects {len(self.inputs)} input(s) {names}, "
                f"but it received {len(flat)} input tensors."
            )
        out = []
        for tensor, value in zip(self.inputs, flat, strict=True):
            value = value if isinstance(value, Tensor) else as_tensor(xp.asarray(value))
            _check_input(self.name, tensor, value)
            if value.dtype != xp.dtype(tensor.dtype):
                from compiler.keras.ops import cast

                value = cast(value, tensor.dtype)
            out.append(value)
        return out

    def compute_output_spec(self, *args, **kwargs):
        # Called as a layer inside another functional model: map our outputs' shapes.
        return map_structure(lambda t: KerasTensor(t.shape, t.dtype), self._outputs_struct)

    def get_config(self):
        from compiler.keras.saving.functional_config import functional_config

        return functional_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from compiler.keras.saving.functional_config import functional_from_config

        return functional_from_config(config, custom_objects)


def _check_input(model_name, tensor, value):
    expected = tensor.shape
    got = value.shape
    ok = len(expected) == len(got) and all(
        e is None or e == g for e, g in zip(expected, got, strict=True)
    )
    if not ok:
        raise ValueError(
            f'Input "{tensor._keras_history[0].name}" of model "{model_name}" is incompatible: '
            f"expected shape {expected}, but received input with shape {tuple(got)}"
        )


def _topological_nodes(inputs, outputs):
    """Nodes between ``inputs`` and ``outputs``, each after the nodes producing its inputs."""
    input_ids = {id(t) for t in inputs}
    order, done, in_progress = [], set(), set()
    for out in outputs:
        stack = [(out, False)]
        while stack:
            tensor, expanded = stack.pop()
            layer, node_index, _ = tensor._keras_history
            node = layer._inbound_nodes[node_index]
            if id(node) in done:
                continue
            if expanded:
                in_progress.discard(id(node))
                done.add(id(node))
                if not isinstance(layer, InputLayer):
                    order.append(node)
                continue
            if id(tensor) in input_ids or isinstance(layer, InputLayer):
                if id(tensor) not in input_ids:
                    raise ValueError(
                        f"Graph disconnected: cannot obtain value for tensor {tensor!r} at layer "
                        f"'{layer.name}'. The following previous layers were accessed without "
                        f"issue: {[n.layer.name for n in order]}"
                    )
                done.add(id(node))
                continue
            in_progress.add(id(node))
            stack.append((tensor, True))
            for parent in reversed(node.input_tensors):
                stack.append((parent, False))
    return order
