"""``Conv2DTranspose``: the transposed 2-D convolution (``keras.layers.Conv2DTranspose``).

Computed as Keras's JAX backend computes it: the input with ``stride - 1`` zeros inserted
between its pixels, padded by ``(left, right)`` per axis, then a plain convolution with the
spatially flipped kernel whose in/out axes are swapped. The pads follow Keras 3
(``backend_utils._convert_conv_transpose_padding_args_from_keras_to_jax``), with
``k = (kernel_size - 1) * dilation + 1``:

* ``valid``: ``left = k - 1``, ``right = k - 1 + output_padding`` (default
  ``max(k, stride) - k``);
* ``same``: ``pad = stride + k - 2`` (or ``k + k % 2 - 2 + output_padding``),
  ``left = min(ceil(pad / 2), k - 1)``, ``right = pad - left``.

Output length: ``(in - 1) * stride + 1 + left + right - (k - 1)``. Built from the frontend's
primitives (pad, reshape, conv), so the gradient is theirs.
"""

from compiler.keras import activations, constraints, initializers, ops, regularizers
from compiler.keras.layers._arguments import (
    set_weight_options,
    standardize_data_format,
    standardize_padding,
    standardize_tuple,
)
from compiler.keras.layers.layer import InputSpec, Layer

__all__ = ["Conv2DTranspose", "conv_transpose_pads", "conv_transpose_length"]


def conv_transpose_pads(kernel, stride, dilation, padding, output_padding):
    """``(left, right)`` pads of the zero-inserted input along one axis (see module doc)."""
    k = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(k, stride) - k if output_padding is None else output_padding
        return k - 1, k - 1 + extra
    if output_padding is None:
        total = stride + k - 2
    else:
        total = k + k % 2 - 2 + output_padding
    left = min(total // 2 + total % 2, k - 1)
    return left, total - left


def conv_transpose_length(length, kernel, stride, dilation, padding, output_padding):
    """Output length along one axis (``None`` stays ``None``)."""
    if length is None:
        return None
    left, right = conv_transpose_pads(kernel, stride, dilation, padding, output_padding)
    return (length - 1) * stride + 1 + left + right - (kernel - 1) * dilation


class Conv2DTranspose(Layer):
    """Transposed 2-D convolution (sometimes called deconvolution).

    Args:
        filters: number of output channels.
        kernel_size: int or 2 ints.
        strides: int or 2 ints; ``> 1`` excludes ``dilation_rate > 1``.
        padding: ``"valid"`` or ``"same"``.
        output_padding: ``None``, an int or 2 ints: extra rows / columns at the end of the
            output; each must be below its stride.
        data_format: ``"channels_last"``.
        dilation_rate: int or 2 ints.
        activation: activation applied to the output; default none (linear).
        use_bias: whether to add a bias vector.
        kernel_initializer: default ``"glorot_uniform"``.
        bias_initializer: default ``"zeros"``.

    The kernel has shape ``(kh, kw, filters, in_channels)``.

    Input shape:
        4-D tensor ``(batch_size, rows, cols, channels)``.

    Output shape:
        4-D tensor ``(batch_size, new_rows, new_cols, filters)``.
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        output_padding=None,
        data_format=None,
        dilation_rate=(1, 1),
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        set_weight_options(
            self,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
        )
        if not isinstance(filters, int) or isinstance(filters, bool) or filters <= 0:
            raise ValueError(
                "Invalid value for argument `filters`. Expected a strictly positive value. "
                f"Received filters={filters}."
            )
        self.filters = filters
        self.kernel_size = standardize_tuple(kernel_size, 2, "kernel_size")
        self.strides = standardize_tuple(strides, 2, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, 2, "dilation_rate")
        self.padding = standardize_padding(padding)
        self.output_padding = (
            None
            if output_padding is None
            else standardize_tuple(output_padding, 2, "output_padding", allow_zero=True)
        )
        if self.output_padding is not None and any(
            p >= s for p, s in zip(self.output_padding, self.strides)
        ):
            raise ValueError(
                "Strides must be greater than output padding. Received strides="
                f"{self.strides}, output_padding={self.output_padding}."
            )
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
        self.input_spec = InputSpec(ndim=4)

    def _pads(self, axis):
        output_padding = None if self.output_padding is None else self.output_padding[axis]
        return conv_transpose_pads(
            self.kernel_size[axis],
            self.strides[axis],
            self.dilation_rate[axis],
            self.padding,
            output_padding,
        )

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(
                f"Layer {self.name}: the channel dimension of the inputs must be defined. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self.compute_output_shape(input_shape)
        self.kernel = self.add_weight(
            name="kernel",
            shape=(*self.kernel_size, self.filters, channels),
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
        self.input_spec = InputSpec(ndim=4, axes={-1: channels})
        self.built = True

    def call(self, inputs):
        n, h, w, c = inputs.shape
        sh, sw = self.strides
        x = inputs
        if sh > 1 or sw > 1:  # zeros between pixels: (n, h, 1, w, 1, c) padded to (sh, sw)
            x = ops.reshape(x, (n, h, 1, w, 1, c))
            x = ops.pad(x, ((0, 0), (0, 0), (0, sh - 1), (0, 0), (0, sw - 1), (0, 0)))
            x = ops.reshape(x, (n, h * sh, w * sw, c))
            x = x[:, : (h - 1) * sh + 1, : (w - 1) * sw + 1, :]
        x = ops.pad(x, ((0, 0), self._pads(0), self._pads(1), (0, 0)))
        # (kh, kw, filters, in) -> flipped (kh, kw, in, filters): the adjoint of a convolution.
        kernel = ops.transpose(ops.flip(ops.flip(self.kernel, 0), 1), (0, 1, 3, 2))
        outputs = ops.conv(
            x, kernel, bias=self.bias, padding="valid", dilation_rate=self.dilation_rate
        )
        return self.activation(outputs)

    def compute_output_shape(self, input_shape):
        spatial = []
        for axis in range(2):
            length = conv_transpose_length(
                input_shape[1 + axis],
                self.kernel_size[axis],
                self.strides[axis],
                self.dilation_rate[axis],
                self.padding,
                None if self.output_padding is None else self.output_padding[axis],
            )
            if length is not None and length <= 0:
                raise ValueError(
                    f"Layer {self.name}: computed output size would be negative or zero. "
                    f"Received inputs shape={tuple(input_shape)}"
                )
            spatial.append(length)
        return (input_shape[0], *spatial, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "output_padding": self.output_padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }
