"""What a layer's lowering function receives: the graph being built and the layer call."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from compiler.ir import Graph, Value
from compiler.lower._activations import lower_named_activation
from compiler.lower.errors import UnsupportedLayerError

__all__ = ["LayerCall", "Lowering"]


@dataclass
class LayerCall:
    """One call of a layer, as the lowering sees it.

    Attributes:
        layer: the layer object (read only through ``config`` and ``weights``).
        config: ``layer.get_config()`` (Keras 3 keys).
        weights: ``layer.get_weights()`` in Keras layouts and order.
        inputs: the IR values the layer is called on, flattened.
        out_shapes: the Keras output shapes of this call (batch ``None``).
        call_kwargs: the call's keyword arguments as recorded in the graph (symbolic tensors
            among them are in ``inputs`` too, after the positional ones).
    """

    layer: object
    config: dict
    weights: list[np.ndarray]
    inputs: list[Value]
    out_shapes: list[tuple]
    call_kwargs: dict = field(default_factory=dict)
    name: str = field(init=False)

    def __post_init__(self):
        self.name = self.config.get("name") or getattr(self.layer, "name", "layer")

    @property
    def class_name(self) -> str:
        return type(self.layer).__name__

    def unsupported(self, why: str) -> UnsupportedLayerError:
        """An error naming this layer, its class and the problem."""
        return UnsupportedLayerError(f"layer '{self.name}' ({self.class_name}): {why}")


class Lowering:
    """Helpers that add ops to ``graph`` for lowering functions."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self._weights: dict[str, list[Value]] = {}

    def const(self, name: str, data, dtype=None) -> Value:
        array = np.asarray(data, dtype=dtype) if dtype is not None else np.asarray(data)
        return self.graph.const(name, array)

    def weight(self, name: str, data) -> Value:
        """A float32 constant (weights are stored as float32 whatever the layer's dtype).

        A shared layer lowered twice asks twice for the same name and contents: it gets the
        same constant, so the files store its weights once.
        """
        data = np.asarray(data, dtype=np.float32)
        for known in self._weights.get(name, []):
            if known.data.shape == data.shape and np.array_equal(known.data, data):
                return known
        value = self.graph.const(name, data)
        self._weights.setdefault(name, []).append(value)
        return value

    def op(self, type: str, inputs, shape, name: str, **attrs) -> Value:
        """Adds an op with one float32 output of ``shape``; returns the output."""
        return self.graph.node(type, inputs, tuple(shape), name, attrs)

    def activation(self, call: LayerCall, x: Value, activation, name: str) -> Value:
        """Applies a Keras activation (name or serialized dict) to ``x``."""
        return lower_named_activation(self, call, x, activation, name)
