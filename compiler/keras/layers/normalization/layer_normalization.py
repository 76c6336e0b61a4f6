"""``LayerNormalization``: normalize each sample over its feature axes (Ba et al., 2016)."""

from compiler.keras import constraints, initializers, ops, regularizers
from compiler.keras.layers._arguments import set_weight_options
from compiler.keras.layers.layer import Layer
from compiler.keras.layers.normalization._axes import axis_list, check_axes, positive_axes

__all__ = ["LayerNormalization"]


class LayerNormalization(Layer):
    """``gamma * (x - mean) / sqrt(var + epsilon) + beta`` with per-sample statistics.

    ``mean`` and ``var`` (biased) are taken over ``axis`` for each sample; ``gamma`` and
    ``beta`` have the shape of the input on ``axis``. As Keras computes it:
    ``inv = rsqrt(var + epsilon) * gamma``, ``y = x * inv + (beta - mean * inv)``.

    Args:
        axis: int or list of ints, the axes to normalize over; default -1.
        epsilon: added to the variance, default 1e-3.
        center: whether to add ``beta``.
        scale: whether to multiply by ``gamma``.
        beta_initializer, gamma_initializer: defaults zeros, ones.
        rms_scaling: Keras's deprecated variant (``x * rsqrt(var + epsilon) * gamma``).

    Input shape:
        Any, with the sizes of ``axis`` known.

    Output shape:
        Same as the input.
    """

    def __init__(
        self,
        axis=-1,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        rms_scaling=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        set_weight_options(
            self,
            beta_regularizer=beta_regularizer,
            gamma_regularizer=gamma_regularizer,
            beta_constraint=beta_constraint,
            gamma_constraint=gamma_constraint,
        )
        self.axis = axis_list(axis, type(self).__name__)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.rms_scaling = bool(rms_scaling)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        rank = len(input_shape)
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        check_axes(self.name, axes, rank)
        # Keras keeps the axes as given but sorted, as a list (get_config shows [-1]).
        self.axis = sorted(axes)
        shape = tuple(input_shape[a] for a in self.axis)
        if any(d is None for d in shape):
            raise ValueError(
                f"Layer {self.name}: the axes {self.axis} of the input must have known sizes. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self.gamma = self.beta = None
        if self.scale or self.rms_scaling:
            self.gamma = self.add_weight(
                shape=shape,
                name="gamma",
                initializer=self.gamma_initializer,
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
            )
        if self.center and not self.rms_scaling:
            self.beta = self.add_weight(
                shape=shape,
                name="beta",
                initializer=self.beta_initializer,
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
            )
        self._axes = positive_axes(self.axis, rank)
        self._broadcast = tuple(input_shape[a] if a in self._axes else 1 for a in range(rank))
        self.built = True

    def call(self, inputs):
        axes = self._axes
        gamma = None if self.gamma is None else ops.reshape(self.gamma, self._broadcast)
        beta = None if self.beta is None else ops.reshape(self.beta, self._broadcast)
        mean = ops.mean(inputs, axis=axes, keepdims=True)
        variance = ops.mean(ops.square(inputs - mean), axis=axes, keepdims=True)
        inv = 1.0 / ops.sqrt(variance + self.epsilon)
        if self.rms_scaling:
            return inputs * inv * gamma
        if gamma is not None:
            inv = inv * gamma
        shift = -mean * inv
        if beta is not None:
            shift = shift + beta
        return inputs * inv + shift

    def compute_output_shape(self, input_shape):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        check_axes(self.name, axes, len(input_shape))
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "rms_scaling": self.rms_scaling,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
        }
