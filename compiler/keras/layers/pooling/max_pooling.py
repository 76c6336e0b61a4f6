"""``MaxPooling1D`` / ``MaxPooling2D``."""

from compiler.keras.layers.pooling.base_pooling import BasePooling

__all__ = ["MaxPooling1D", "MaxPooling2D"]


class MaxPooling1D(BasePooling):
    """Max over windows of ``pool_size`` steps; gradient to the first maximum.

    Input shape:
        3-D tensor ``(batch_size, steps, features)``.

    Output shape:
        3-D tensor ``(batch_size, pooled_steps, features)``.
    """

    def __init__(
        self, pool_size=2, strides=None, padding="valid", data_format=None, name=None, **kwargs
    ):
        super().__init__(
            pool_size,
            strides,
            pool_dimensions=1,
            pool_mode="max",
            padding=padding,
            data_format=data_format,
            name=name,
            **kwargs,
        )


class MaxPooling2D(BasePooling):
    """Max over ``pool_size`` windows; gradient to the first maximum (row-major), as in TF.

    Input shape:
        4-D tensor ``(batch_size, height, width, channels)``.

    Output shape:
        4-D tensor ``(batch_size, pooled_height, pooled_width, channels)``.
    """

    def __init__(
        self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, name=None, **kwargs
    ):
        super().__init__(
            pool_size,
            strides,
            pool_dimensions=2,
            pool_mode="max",
            padding=padding,
            data_format=data_format,
            name=name,
            **kwargs,
        )
