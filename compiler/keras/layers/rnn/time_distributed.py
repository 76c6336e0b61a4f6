"""``TimeDistributed``: applies one layer to every time step of a sequence."""

import inspect

from compiler.keras import ops
from compiler.keras.layers.layer import Layer
from compiler.keras.layers.rnn._common import deserialize_layer, prefix_paths, serialize_layer

__all__ = ["TimeDistributed"]


class TimeDistributed(Layer):
    """Applies ``layer`` to every temporal slice of an input (Keras 3 ``TimeDistributed``).

    The steps run as one call of ``layer`` on the batch and time axes folded together
    (``(batch * timesteps, ...)``), which equals Keras's per-step loop for every layer that
    treats samples independently (Dense, Conv, Dropout...). Layers that use batch statistics in
    training (``BatchNormalization``) see all steps at once instead of one step at a time.

    Args:
        layer: a ``keras.layers.Layer`` instance; its weights are shared by all steps.

    Input shape:
        ``(batch, timesteps, ...)``, at least 3-D.

    Output shape:
        ``(batch, timesteps, ...)``: the layer's output shape for one step, with the time axis.
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(
                "Please initialize `TimeDistributed` layer with a `keras.layers.Layer` "
                f"instance. Received: {layer}"
            )
        super().__init__(**kwargs)
        self.layer = layer
        self.supports_masking = True

    def _child_shape(self, input_shape):
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) < 3:
            raise ValueError(
                "`TimeDistributed` Layer should be passed an `input_shape` with at least 3 "
                f"dimensions, received: {input_shape}"
            )
        return (input_shape[0], *input_shape[2:])

    def build(self, input_shape):
        self.layer._maybe_build(self._child_shape(tuple(input_shape)))
        prefix_paths(self.layer, self.name)
        self.built = True

    def call(self, inputs, training=None, mask=None):
        shape = tuple(inputs.shape)
        self._child_shape(shape)
        batch, steps = shape[0], shape[1]
        kwargs = {}
        params = inspect.signature(self.layer.call).parameters
        if "training" in params:
            kwargs["training"] = training
        if "mask" in params and mask is not None:
            mask_array = ops.convert_to_numpy(mask)
            if tuple(mask_array.shape[:2]) != (batch, steps):
                raise ValueError(
                    f"`TimeDistributed` Layer should be passed a `mask` of shape ({batch}, "
                    f"{steps}, ...), received: mask.shape={tuple(mask_array.shape)}"
                )
            kwargs["mask"] = mask_array.reshape(batch * steps, *mask_array.shape[2:])
        folded = ops.reshape(inputs, (batch * steps, *shape[2:]))
        out = self.layer(folded, **kwargs)
        if not isinstance(out, ops.Tensor):
            raise ValueError(
                f"`TimeDistributed` supports layers with one output tensor; layer "
                f"'{self.layer.name}' returned {type(out).__name__}"
            )
        return ops.reshape(out, (batch, steps, *out.shape[1:]))

    def get_config(self):
        return {**super().get_config(), "layer": serialize_layer(self.layer)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = deserialize_layer(config["layer"])
        return cls(**config)
