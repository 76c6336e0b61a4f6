"""``Conv2D``: spatial convolution over ``(batch, height, width, channels)``."""

from compiler.keras.layers.convolutional.base_conv import BaseConv

__all__ = ["Conv2D"]


class Conv2D(BaseConv):
    """2-D convolution; see ``BaseConv`` for the arguments.

    The kernel has shape ``(kh, kw, in_channels // groups, filters)``.

    Input shape:
        4-D tensor ``(batch_size, height, width, channels)``.

    Output shape:
        4-D tensor ``(batch_size, new_height, new_width, filters)``.
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        data_format=None,
        dilation_rate=(1, 1),
        groups=1,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(
            rank=2,
            filters=filters,
            kernel_size=kernel_size,
            strides=strides,
            padding=padding,
            data_format=data_format,
            dilation_rate=dilation_rate,
            groups=groups,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            **kwargs,
        )
