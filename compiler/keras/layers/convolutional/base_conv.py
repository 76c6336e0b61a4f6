"""``BaseConv``: the rank-generic convolution layer that Conv1D and Conv2D specialize."""

from compiler.keras import activations, initializers, ops, regularizers
from compiler.keras.layers._arguments import (
    check_none,
    set_weight_options,
    standardize_data_format,
    standardize_padding,
    standardize_tuple,
    weight_options_config,
)
from compiler.keras.layers.layer import InputSpec, Layer
from compiler.keras.ops.conv import conv_output_length

__all__ = ["BaseConv", "conv_output_shape"]


def conv_output_shape(
    layer_name, input_shape, filters, kernel_size, strides, padding, dilation_rate
):
    """``(batch, *spatial_out, filters)``; refuses inputs too small for the kernel."""
    spatial = tuple(
        conv_output_length(size, k, s, padding, d)
        for size, k, s, d in zip(
            input_shape[1:-1], kernel_size, strides, dilation_rate, strict=True
        )
    )
    if any(size is not None and size <= 0 for size in spatial):
        raise ValueError(
            f"Layer {layer_name}: computed output size would be negative or zero. Received "
            f"inputs shape={tuple(input_shape)}, kernel_size={kernel_size}, strides={strides}, "
            f"dilation_rate={dilation_rate}, padding={padding!r}"
        )
    return (input_shape[0], *spatial, filters)


class BaseConv(Layer):
    """N-D convolution (cross-correlation) + bias + activation, channels-last.

    Args:
        rank: number of spatial axes (1 or 2).
        filters: number of output channels.
        kernel_size: int or ``rank`` ints.
        strides: int or ``rank`` ints; ``> 1`` excludes ``dilation_rate > 1``.
        padding: ``"valid"``, ``"same"`` (TensorFlow's: the odd pixel goes at the end) or, for
            rank 1, ``"causal"``.
        data_format: ``"channels_last"`` (the only layout computed here).
        dilation_rate: int or ``rank`` ints.
        groups: input channels and ``filters`` split into this many independent groups.
        activation: activation applied to the output; default none (linear).
        use_bias: whether to add a bias vector.
        kernel_initializer: default ``"glorot_uniform"``.
        bias_initializer: default ``"zeros"``.
        kernel_regularizer, bias_regularizer: penalties added to ``losses``.
        activity_regularizer: penalty of the output, per sample of the batch.
        kernel_constraint, bias_constraint: projections applied after each optimizer update.
    """

    def __init__(
        self,
        rank,
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
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        lora_rank=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        check_none(self.name, lora_rank=lora_rank)
        set_weight_options(
            self,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
        )
        self.rank = rank
        if not isinstance(filters, int) or isinstance(filters, bool) or filters <= 0:
            raise ValueError(
                "Invalid value for argument `filters`. Expected a strictly positive value. "
                f"Received filters={filters}."
            )
        if not isinstance(groups, int) or groups <= 0:
            raise ValueError(
                f"The number of groups must be a positive integer. Received: groups={groups}."
            )
        if filters % groups:
            raise ValueError(
                "The number of filters must be evenly divisible by the number of groups. "
                f"Received: groups={groups}, filters={filters}."
            )
        self.filters = filters
        self.groups = groups
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(strides, rank, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate")
        self.padding = standardize_padding(padding, allow_causal=rank == 1)
        self.data_format = standardize_data_format(data_format)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                "`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                f"Received: strides={self.strides} and dilation_rate={self.dilation_rate}"
            )
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.input_spec = InputSpec(ndim=rank + 2)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(
                f"Layer {self.name}: the channel dimension of the inputs must be defined. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        if channels % self.groups:
            raise ValueError(
                "The number of input channels must be evenly divisible by the number of groups. "
                f"Received groups={self.groups}, but the input has {channels} channels (full "
                f"input shape is {tuple(input_shape)})."
            )
        self.compute_output_shape(input_shape)
        self.kernel = self.add_weight(
            name="kernel",
            shape=(*self.kernel_size, channels // self.groups, self.filters),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(self.filters,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={-1: channels})
        self.built = True

    def call(self, inputs):
        # The common Conv2D(activation="relu") runs as one primitive (see ops.conv).
        fuse = self.activation is activations.relu
        outputs = ops.conv(
            inputs,
            self.kernel,
            bias=self.bias,
            strides=self.strides,
            padding=self.padding,
            dilation_rate=self.dilation_rate,
            fuse_relu=fuse,
        )
        return outputs if fuse else self.activation(outputs)

    def compute_output_shape(self, input_shape):
        return conv_output_shape(
            self.name,
            input_shape,
            self.filters,
            self.kernel_size,
            self.strides,
            self.padding,
            self.dilation_rate,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "groups": self.groups,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            **weight_options_config(self, "kernel_regularizer", "bias_regularizer"),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            **weight_options_config(self, "kernel_constraint", "bias_constraint"),
        }
