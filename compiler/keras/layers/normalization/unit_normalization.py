"""``UnitNormalization``: scale each sample to unit L2 norm over ``axis``."""

from compiler.keras import ops
from compiler.keras.layers.layer import Layer
from compiler.keras.layers.normalization._axes import axis_list, check_axes, positive_axes

__all__ = ["UnitNormalization"]

# Keras's ``ops.normalize(x, order=2, epsilon=1e-12)``: ``x * min(rsqrt(sum(x^2)), 1 / eps)``.
EPSILON = 1e-12


class UnitNormalization(Layer):
    """``x / max(||x||_2, 1e-12)``, the norm taken over ``axis`` for each sample.

    Args:
        axis: int or list of ints, default -1.

    Input shape:
        Any.

    Output shape:
        Same as the input.
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis_list(axis, type(self).__name__)
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        check_axes(self.name, axes, inputs.ndim)
        axes = positive_axes(axes, inputs.ndim)
        square_sum = ops.sum(ops.square(inputs), axis=axes, keepdims=True)
        # min(rsqrt(s), 1/eps) == rsqrt(max(s, eps^2)); the max keeps the gradient finite at 0.
        return inputs / ops.sqrt(ops.maximum(square_sum, EPSILON * EPSILON))

    def compute_output_shape(self, input_shape):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        check_axes(self.name, axes, len(input_shape))
        return input_shape

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
