"""``BasePooling``: max / average pooling over 1 or 2 spatial axes, channels-last."""

from compiler.keras import ops
from compiler.keras.layers._arguments import (
    standardize_data_format,
    standardize_padding,
    standardize_tuple,
)
from compiler.keras.layers.layer import InputSpec, Layer
from compiler.keras.ops.conv import conv_output_length

__all__ = ["BasePooling"]


class BasePooling(Layer):
    """Pooling of windows of ``pool_size``, moved by ``strides`` (default: ``pool_size``).

    Args:
        pool_size: int or ``pool_dimensions`` ints.
        pool_mode: ``"max"`` or ``"average"``.
        pool_dimensions: number of spatial axes (1 or 2).
        strides: int or ints; ``None`` means ``pool_size``.
        padding: ``"valid"`` or ``"same"`` (padded positions are ignored).
        data_format: ``"channels_last"``.
    """

    def __init__(
        self,
        pool_size,
        strides,
        pool_dimensions,
        pool_mode="max",
        padding="valid",
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.pool_size = standardize_tuple(pool_size, pool_dimensions, "pool_size")
        strides = pool_size if strides is None else strides
        self.strides = standardize_tuple(strides, pool_dimensions, "strides")
        self.pool_mode = pool_mode
        self.padding = standardize_padding(padding)
        self.data_format = standardize_data_format(data_format)
        self.input_spec = InputSpec(ndim=pool_dimensions + 2)
        self.built = True

    def call(self, inputs):
        pool = ops.max_pool if self.pool_mode == "max" else ops.average_pool
        return pool(inputs, self.pool_size, strides=self.strides, padding=self.padding)

    def compute_output_shape(self, input_shape):
        spatial = tuple(
            conv_output_length(size, p, s, self.padding)
            for size, p, s in zip(input_shape[1:-1], self.pool_size, self.strides, strict=True)
        )
        if any(size is not None and size <= 0 for size in spatial):
            raise ValueError(
                f"Layer {self.name}: computed output size would be zero or negative. Received "
                f"inputs shape={tuple(input_shape)}, pool_size={self.pool_size}, "
                f"strides={self.strides}, padding={self.padding!r}"
            )
        return (input_shape[0], *spatial, input_shape[-1])

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "padding": self.padding,
            "strides": self.strides,
            "data_format": self.data_format,
        }
