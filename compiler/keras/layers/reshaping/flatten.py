"""``Flatten``: ``(batch, ...)`` to ``(batch, product of the rest)``."""

import math

from compiler.keras import ops
from compiler.keras.layers._arguments import standardize_data_format
from compiler.keras.layers.layer import InputSpec, Layer

__all__ = ["Flatten"]


class Flatten(Layer):
    """Flattens every axis but the batch axis (a view: no copy).

    Input shape:
        ``(batch_size, ...)``, rank at least 1.

    Output shape:
        ``(batch_size, product of the other dimensions)``; ``(batch_size, 1)`` for rank 1.
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.input_spec = InputSpec(min_ndim=1)

    def call(self, inputs):
        return ops.reshape(inputs, (inputs.shape[0], -1 if inputs.ndim > 1 else 1))

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        size = None if any(d is None for d in rest) else math.prod(rest)
        return (input_shape[0], size)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}
