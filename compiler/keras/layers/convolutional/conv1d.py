"""``Conv1D``: temporal convolution over ``(batch, steps, channels)``."""

from compiler.keras.layers.convolutional.base_conv import BaseConv

__all__ = ["Conv1D"]


class Conv1D(BaseConv):
    """1-D convolution; see ``BaseConv`` for the arguments. ``padding`` may be ``"causal"``.

    Input shape:
        3-D tensor ``(batch_size, steps, channels)``.

    Output shape:
        3-D tensor ``(batch_size, new_steps, filters)``.
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        groups=1,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(
            rank=1,
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
