"""``Rescaling``: ``inputs * scale + offset`` (e.g. pixels from [0, 255] to [0, 1])."""

from compiler.keras import ops
from compiler.keras.layers.layer import Layer

__all__ = ["Rescaling"]


class Rescaling(Layer):
    """Multiplies by ``scale`` and adds ``offset``.

    Args:
        scale: float (or per-channel list), e.g. ``1 / 255``.
        offset: float (or per-channel list), default 0.

    Input shape:
        Any.

    Output shape:
        Same as the input.
    """

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale
        self.offset = offset
        self.supports_masking = True

    def call(self, inputs):
        if inputs.dtype.kind != "f":  # e.g. uint8 pixels
            inputs = ops.cast(inputs, self.dtype)
        dtype = inputs.dtype
        scale = ops.cast(ops.as_tensor(self.scale), dtype)
        offset = ops.cast(ops.as_tensor(self.offset), dtype)
        return inputs * scale + offset

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}
