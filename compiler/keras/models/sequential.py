"""``Sequential``: a plain stack of layers, each with one input and one output."""

from compiler.keras.layers.input_layer import InputLayer
from compiler.keras.layers.layer import KerasTensor, Layer, _dtype_policy
from compiler.keras.models._fusion import run_conv_pool, sequential_pairs
from compiler.keras.models.functional import Functional
from compiler.keras.models.model import Model
from compiler.keras.ops import Tensor, as_tensor

__all__ = ["Sequential"]


class Sequential(Model):
    """A linear stack of layers (``keras.Sequential``).

    Args:
        layers: the layers, in order; the first may be ``keras.Input(shape)``.
        trainable: whether the model's weights are trained.
        name: the model's name.

    The model builds as soon as its input shape is known: from a leading ``keras.Input``, an
    ``input_shape=`` argument of the first layer, ``build(input_shape)``, or the first call.
    """

    def __init__(self, layers=None, trainable=True, name=None, **kwargs):
        super().__init__(trainable=trainable, name=name, **kwargs)
        self._functional = None
        self._input_layer = None
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_rebuild()

    @property
    def layers(self):
        return [layer for layer in self._layers if not isinstance(layer, InputLayer)]

    def add(self, layer, rebuild=True):
        """Appends a layer (or a ``keras.Input``) to the stack."""
        if isinstance(layer, KerasTensor) and isinstance(layer._keras_history[0], InputLayer):
            layer = layer._keras_history[0]
        if not isinstance(layer, Layer):
            raise ValueError(
                "Only instances of `keras.Layer` can be added to a Sequential model. "
                f"Received: {layer!r} (of type {type(layer).__name__})"
            )
        if isinstance(layer, InputLayer):
            if self._layers:
                raise ValueError(
                    "An InputLayer can only be the first layer of a Sequential model. "
                    f"Received an InputLayer after {len(self._layers)} layer(s)."
                )
            self._input_layer = layer
        elif not self._layers and layer._batch_input_shape is not None:
            self._input_layer = InputLayer(batch_shape=layer._batch_input_shape)
            self._layers.append(self._input_layer)
        names = [existing.name for existing in self._layers]
        if layer.name in names:
            raise ValueError(
                f"All layers added to a Sequential model should have unique names. Name "
                f"'{layer.name}' is already the name of a layer in this model."
            )
        self._layers.append(layer)
        self.built = False
        self._functional = None
        if rebuild:
            self._maybe_rebuild()

    def pop(self, rebuild=True):
        """Removes and returns the last layer."""
        if not self.layers:
            raise TypeError("There are no layers in the model.")
        layer = self._layers.pop()
        self.built = False
        self._functional = None
        if rebuild:
            self._maybe_rebuild()
        return layer

    def _maybe_rebuild(self):
        if self._input_layer is not None and self.layers:
            self.build(self._input_layer.batch_shape)

    def build(self, input_shape=None):
        """Builds every layer by tracing a symbolic input of ``input_shape`` through them."""
        if input_shape is None:
            raise ValueError("You must provide an `input_shape` argument to build a Sequential.")
        input_shape = tuple(input_shape)
        if self._input_layer is None:
            self._input_layer = InputLayer(batch_shape=input_shape)
            self._layers.insert(0, self._input_layer)
        x = inputs = self._input_layer._output_tensor
        for layer in self.layers:
            x = layer(x)
        self._functional = Functional(inputs, x, name=self.name + "_functional")
        self._build_shape = input_shape
        self.built = True

    @property
    def inputs(self):
        return self._require_functional().inputs

    @property
    def outputs(self):
        return self._require_functional().outputs

    @property
    def input_shape(self):
        return self._require_functional().input_shape

    @property
    def output_shape(self):
        return self._require_functional().output_shape

    @property
    def input_names(self):
        return [self._input_layer.name]

    @property
    def output_names(self):
        return [self.layers[-1].name]

    def _require_functional(self):
        if self._functional is None:
            raise AttributeError(
                f"Sequential model '{self.name}' has not been built yet: call it on data, call "
                f"`build(input_shape)`, or start it with `keras.Input(shape)`."
            )
        return self._functional

    def _ensure_built_for(self, x):
        if not self.built:
            shape = as_tensor(x).shape if not isinstance(x, (list, tuple, dict)) else None
            if shape is None:
                raise ValueError("A Sequential model takes a single input array.")
            self.build((None, *shape[1:]))

    def __call__(self, *args, **kwargs):
        if not self.built and args and not isinstance(args[0], KerasTensor):
            self._ensure_built_for(args[0])
        return super().__call__(*args, **kwargs)

    def call(self, inputs, training=None, mask=None):
        if isinstance(inputs, (list, tuple)) and len(inputs) == 1:
            inputs = inputs[0]
        if not isinstance(inputs, Tensor):
            inputs = as_tensor(inputs)
        self._functional._flatten_inputs([inputs])  # validates the shape, names the model
        x, layers = inputs, self.layers
        fused = sequential_pairs(layers)
        i = 0
        while i < len(layers):
            if i in fused:  # Conv2D + MaxPooling2D as one primitive (see models/_fusion.py)
                x = run_conv_pool(layers[i], layers[i + 1], x)
                i += 2
            else:
                x = layers[i](x, training=training)
                i += 1
        return x

    def compute_output_spec(self, *args, **kwargs):
        x = args[0]
        if not self.built:
            self.build(x.shape)
        for layer in self.layers:
            x = layer.compute_output_spec(x)
        return x

    def get_config(self):
        from compiler.keras.saving.serialization import serialize_keras_object

        layers = []
        if self._input_layer is not None:
            layers.append(serialize_keras_object(self._input_layer))
        layers += [serialize_keras_object(layer) for layer in self.layers]
        config = {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": _dtype_policy(self),
            "layers": layers,
        }
        if self._build_shape is not None:
            config["build_input_shape"] = list(self._build_shape)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from compiler.keras.saving.serialization import deserialize_keras_object

        layers = [deserialize_keras_object(c, custom_objects) for c in config.get("layers", [])]
        return cls(layers=layers, name=config.get("name"), trainable=config.get("trainable", True))
