"""``Activation``, ``ReLU``, ``LeakyReLU``, ``ELU`` and ``Softmax`` as layers."""

from compiler.keras import activations, ops
from compiler.keras.layers.layer import Layer

__all__ = ["Activation", "ReLU", "LeakyReLU", "ELU", "Softmax"]


class _Elementwise(Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.built = True

    def compute_output_shape(self, input_shape):
        return input_shape


class Activation(_Elementwise):
    """Applies an activation function (name or callable).

    Input shape:
        Any.

    Output shape:
        Same as the input.
    """

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs):
        return self.activation(inputs)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class ReLU(_Elementwise):
    """``max_value`` cap, ``negative_slope * (x - threshold)`` below ``threshold``.

    Args:
        max_value: upper bound of the output, default none.
        negative_slope: slope below the threshold, default 0.
        threshold: where the slope changes, default 0.

    Input shape:
        Any.

    Output shape:
        Same as the input.
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        for name, value in (
            ("max_value", max_value),
            ("negative_slope", negative_slope),
            ("threshold", threshold),
        ):
            if value is not None and value < 0:
                raise ValueError(
                    f"{name} of a ReLU layer cannot be a negative value. Received: {name}={value}"
                )
        if negative_slope is None or threshold is None:
            raise ValueError(
                "negative_slope and threshold of a ReLU layer cannot be None. Received: "
                f"negative_slope={negative_slope}, threshold={threshold}"
            )
        self.max_value = max_value
        self.negative_slope = negative_slope
        self.threshold = threshold

    def call(self, inputs):
        return ops.relu(
            inputs,
            negative_slope=self.negative_slope,
            max_value=self.max_value,
            threshold=self.threshold,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "max_value": self.max_value,
            "negative_slope": self.negative_slope,
            "threshold": self.threshold,
        }


class LeakyReLU(_Elementwise):
    """``x`` for ``x >= 0``, ``negative_slope * x`` below.

    Args:
        negative_slope: default 0.3 (Keras's default for the layer).

    Input shape:
        Any.

    Output shape:
        Same as the input.
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:  # Keras 2 name
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        if negative_slope is None or negative_slope < 0:
            raise ValueError(
                "The negative_slope value of a Leaky ReLU layer cannot be None or negative "
                f"value. Expected a float. Received: negative_slope={negative_slope}"
            )
        self.negative_slope = negative_slope

    def call(self, inputs):
        return ops.leaky_relu(inputs, negative_slope=self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class ELU(_Elementwise):
    """``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` below.

    Input shape:
        Any.

    Output shape:
        Same as the input.
    """

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = alpha

    def call(self, inputs):
        return ops.elu(inputs, alpha=self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(_Elementwise):
    """Softmax over ``axis``; masked positions (mask 0) get probability ~0.

    Args:
        axis: int or list of ints, default -1.

    Input shape:
        Any.

    Output shape:
        Same as the input.
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs, mask=None):
        if mask is not None:
            # Keras adds -1e9 where the mask is 0 (-3e4 in float16, to stay finite).
            large = -3e4 if str(inputs.dtype) == "float16" else -1e9
            inputs = inputs + (1.0 - ops.cast(ops.as_tensor(mask), inputs.dtype)) * large
        if isinstance(self.axis, (list, tuple)):
            if len(self.axis) > 1:
                return ops.exp(inputs - ops.logsumexp(inputs, axis=tuple(self.axis), keepdims=True))
            return ops.softmax(inputs, axis=self.axis[0])
        return ops.softmax(inputs, axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
