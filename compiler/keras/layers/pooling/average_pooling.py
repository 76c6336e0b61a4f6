"""``AveragePooling1D`` / ``AveragePooling2D``."""

from compiler.keras.layers.pooling.base_pooling import BasePooling

__all__ = ["AveragePooling1D", "AveragePooling2D"]


class AveragePooling1D(BasePooling):
    """Mean over windows of ``pool_size`` steps; ``"same"`` averages only real inputs.

    Input shape:
        3-D tensor ``(batch_size, steps, features)``.

    Output shape:
        3-D tensor ``(batch_size, pooled_steps, features)``.
    """

    def __init__(
        self, pool_size, strides=None, padding="valid", data_format=None, name=None, **kwargs
    ):
        super().__init__(
            pool_size,
            strides,
            pool_dimensions=1,
            pool_mode="average",
            padding=padding,
            data_format=data_format,
            name=name,
            **kwargs,
        )


class AveragePooling2D(BasePooling):
    """Mean over ``pool_size`` windows; ``"same"`` averages only real inputs.

    Input shape:
        4-D tensor ``(batch_size, height, width, channels)``.

    Output shape:
        4-D tensor ``(batch_size, pooled_height, pooled_width, channels)``.
    """

    def __init__(
        self, pool_size, strides=None, padding="valid", data_format=None, name=None, **kwargs
    ):
        super().__init__(
            pool_size,
            strides,
            pool_dimensions=2,
            pool_mode="average",
            padding=padding,
            data_format=data_format,
            name=name,
            **kwargs,
        )
