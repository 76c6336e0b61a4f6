"""``EinsumDense``: a dense layer whose contraction is an einsum equation (Keras 3).

``y = activation(einsum(equation, inputs, kernel) + bias)``. The kernel's shape is read off
the equation: each kernel label takes its size from the output (``output_shape``) when the
output has it, else from the input. ``bias_axes`` names output labels; the bias spans the
output from the first of them to the end (size 1 on the others), as in Keras.
"""

import re

from compiler.keras import activations, constraints, initializers, regularizers
from compiler.keras.layers._arguments import set_weight_options
from compiler.keras.layers.layer import InputSpec, Layer
from compiler.keras.ops.einsum import einsum, parse_einsum

__all__ = ["EinsumDense", "analyze_einsum_dense"]

_FORMS = (
    (r"([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)", None),
    (r"0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)", "left"),
    (r"([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0", "right"),
)


def analyze_einsum_dense(equation, bias_axes, input_shape, output_shape):
    """``(kernel_shape, bias_shape or None, full_output_shape, input_axes, output_axes)``.

    ``output_shape`` is the layer's partial output shape (without the batch axis).

    Raises:
        ValueError: an equation Keras does not accept, or labels that do not match.
    """
    dotted = re.sub(r"\.\.\.", "0", equation)
    found = [(re.fullmatch(p, dotted), side) for p, side in _FORMS]
    match, elided_side = next(((m, side) for m, side in found if m), (None, None))
    if match is None:
        raise ValueError(
            f"Invalid einsum equation '{equation}'. Equations must be in the form "
            "[X],[Y]->[Z], ...[X],[Y]->...[Z], or [X]...,[Y]->[Z]...."
        )
    input_spec, weight_spec, output_spec = match.groups()
    input_shape = list(input_shape)
    elided = len(input_shape) - len(input_spec)
    out = [input_shape[0], *([output_shape] if isinstance(output_shape, int) else output_shape)]
    if elided > 0 and elided_side == "left":
        for i in range(1, elided):
            out.insert(1, input_shape[i])
    elif elided > 0:
        out.extend(input_shape[len(input_shape) - elided :])
    left = elided_side == "left"
    in_map = {d: (i + elided - len(input_shape)) if left else i for i, d in enumerate(input_spec)}
    out_map = {d: (i + elided) if left else i for i, d in enumerate(output_spec)}
    for dim in input_spec:
        if dim in out_map:
            o, i = out[out_map[dim]], input_shape[in_map[dim]]
            if o is not None and o != i:
                raise ValueError(
                    f"Input shape and output shape do not match at shared dimension '{dim}'. "
                    f"Input shape is {i}, and output shape is {o}."
                )
    for dim in output_spec:
        if dim not in input_spec and dim not in weight_spec:
            raise ValueError(
                f"Dimension '{dim}' was specified in the output '{output_spec}' but has no "
                f"corresponding dim in the input spec '{input_spec}' or weight spec "
                f"'{weight_spec}'"
            )
    kernel_shape, input_axes, output_axes = [], [], []
    for i, dim in enumerate(weight_spec):
        if dim in out_map:
            kernel_shape.append(out[out_map[dim]])
            output_axes.append(i)
        elif dim in in_map:
            kernel_shape.append(input_shape[in_map[dim]])
            input_axes.append(i)
        else:
            raise ValueError(
                f"Weight dimension '{dim}' did not have a match in either the input spec "
                f"'{input_spec}' or the output spec '{output_spec}'. For this layer, the weight "
                "must be fully specified."
            )
    bias_shape = None
    if bias_axes is not None:
        offset = elided if left else 0
        sizes = {c: out[i + offset] for i, c in enumerate(output_spec)}
        for char in bias_axes:
            if char not in output_spec:
                raise ValueError(
                    f"Bias dimension '{char}' was requested, but is not part of the output "
                    f"spec '{output_spec}'"
                )
        first = min(output_spec.find(c) for c in bias_axes)
        bias_shape = [sizes[c] if c in bias_axes else 1 for c in output_spec[first:]]
        if not left:
            bias_shape.extend([1] * max(elided, 0))
    return kernel_shape, bias_shape, out, input_axes, output_axes


class EinsumDense(Layer):
    """A dense layer computed by an einsum equation.

    Args:
        equation: ``"ab,bc->ac"``-style equation: input, kernel, output (``...`` allowed at
            the start or end of the input and output).
        output_shape: expected output shape without the batch axis; ``None`` for a size
            taken from the input.
        activation: activation function or name; default none.
        bias_axes: output labels that get a bias; default no bias.
        kernel_initializer: default ``"glorot_uniform"``.
        bias_initializer: default ``"zeros"``.

    Input shape:
        Tensor of the rank the equation's input spec gives.

    Output shape:
        ``(batch, *output_shape)``, unknown sizes filled from the input.
    """

    def __init__(
        self,
        equation,
        output_shape,
        activation=None,
        bias_axes=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        lora_rank=None,
        lora_alpha=None,
        gptq_unpacked_column_size=None,
        quantization_config=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        set_weight_options(
            self,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
        )
        for name, value in (
            ("lora_rank", lora_rank),
            ("gptq_unpacked_column_size", gptq_unpacked_column_size),
            ("quantization_config", quantization_config),
        ):
            if value:
                raise ValueError(
                    f"EinsumDense '{self.name}' does not support `{name}` (only None). "
                    f"Received: {name}={value!r}"
                )
        if not isinstance(equation, str):
            raise ValueError(f"`equation` must be a string. Received: equation={equation!r}")
        self.equation = equation
        if isinstance(output_shape, int):
            self.partial_output_shape = (output_shape,)
        else:
            self.partial_output_shape = tuple(output_shape)
        self.bias_axes = bias_axes
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.lora_rank, self.lora_alpha = None, lora_alpha

    def build(self, input_shape):
        kernel_shape, bias_shape, _, input_axes, output_axes = analyze_einsum_dense(
            self.equation, self.bias_axes, input_shape, self.partial_output_shape
        )
        if any(d is None for d in kernel_shape):
            raise ValueError(
                f"EinsumDense '{self.name}': kernel shape {kernel_shape} has unknown sizes; "
                f"give them in output_shape. Received: input_shape={input_shape}"
            )
        initializer = self.kernel_initializer
        if getattr(initializer, "input_axes", 0) is None or (
            getattr(initializer, "output_axes", 0) is None
        ):
            # Keras fills the fan axes of a variance-scaling initializer from the equation.
            config = {**initializer.get_config(), "input_axes": input_axes}
            config["output_axes"] = output_axes
            initializer = type(initializer).from_config(config)
        self.input_spec = InputSpec(ndim=len(input_shape))
        self.kernel = self.add_weight(
            name="kernel",
            shape=tuple(kernel_shape),
            initializer=initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.bias = None
        if bias_shape is not None:
            self.bias = self.add_weight(
                name="bias",
                shape=tuple(bias_shape),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.built = True

    def call(self, inputs, training=None):
        x = einsum(self.equation, inputs, self.kernel)
        if self.bias is not None:
            x = x + self.bias
        return self.activation(x)

    def compute_output_shape(self, input_shape):
        out = analyze_einsum_dense(
            self.equation, self.bias_axes, input_shape, self.partial_output_shape
        )[2]
        # Keras leaves a None of output_shape unknown even where the label is an input axis of
        # known size; that size is the output's (the compiler needs static sizes).
        kernel_rank = len(self.equation.split("->")[0].split(",")[-1])
        (spec, _), out_spec = parse_einsum(self.equation, (len(input_shape), kernel_rank))
        return tuple(
            input_shape[spec.index(c)] if d is None and c in spec else d
            for d, c in zip(out, out_spec)
        )

    def get_config(self):
        return {
            **super().get_config(),
            "output_shape": list(self.partial_output_shape),
            "equation": self.equation,
            "activation": activations.serialize(self.activation),
            "bias_axes": self.bias_axes,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "quantization_config": None,
        }
