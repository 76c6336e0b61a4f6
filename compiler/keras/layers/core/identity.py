"""``Identity``: returns its input unchanged (a placeholder layer)."""

from compiler.keras.layers.layer import Layer

__all__ = ["Identity"]


class Identity(Layer):
    """Passes its input (and mask) through.

    Input shape:
        Any.

    Output shape:
        Same as the input.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape
