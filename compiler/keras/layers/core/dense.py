"""``Dense``: ``activation(inputs @ kernel + bias)`` on the last axis."""

from compiler.keras import activations, initializers, ops
from compiler.keras.layers._arguments import set_weight_options, weight_options_config
from compiler.keras.layers.layer import InputSpec, Layer

__all__ = ["Dense"]


class Dense(Layer):
    """Densely connected layer.

    Args:
        units: dimensionality of the output space.
        activation: activation function or name; default none (linear).
        use_bias: whether to add a bias vector.
        kernel_initializer: default ``"glorot_uniform"``.
        bias_initializer: default ``"zeros"``.
        kernel_regularizer, bias_regularizer: penalties added to ``losses``.
        activity_regularizer: penalty of the output, per sample of the batch.
        kernel_constraint, bias_constraint: projections applied after each optimizer update.

    Input shape:
        N-D tensor ``(batch_size, ..., input_dim)``.

    Output shape:
        N-D tensor ``(batch_size, ..., units)``.
    """

    def __init__(
        self,
        units,
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
        lora_alpha=None,
        quantization_config=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if quantization_config is not None or lora_rank:
            # Quantization is a compiler pass here (DESIGN.md rule 3), not a layer mode.
            raise ValueError(
                f"Dense '{self.name}': quantized or LoRA Dense layers are not supported; "
                f"quantize with `compiler.compile(..., quantize=...)`. Received: "
                f"quantization_config={quantization_config!r}, lora_rank={lora_rank!r}"
            )
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(
                f"Received an invalid value for `units`, expected a positive integer. "
                f"Received: units={units}"
            )
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        set_weight_options(
            self,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
        )
        self.input_spec = InputSpec(min_ndim=2)
        self.supports_masking = True

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"The last dimension of the input to layer '{self.name}' must be defined. "
                f"Received: input_shape={input_shape}"
            )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(input_dim, self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(self.units,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_dim})
        self.built = True

    def call(self, inputs):
        x = ops.matmul(inputs, self.kernel)
        if self.bias is not None:
            x = x + self.bias
        return self.activation(x)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            **weight_options_config(
                self,
                "kernel_regularizer",
                "bias_regularizer",
                "kernel_constraint",
                "bias_constraint",
            ),
            "quantization_config": None,
        }
