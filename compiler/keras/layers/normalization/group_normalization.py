"""``GroupNormalization``: normalize each sample over groups of channels (Wu & He, 2018)."""

from compiler.keras import constraints, initializers, ops, regularizers
from compiler.keras.layers._arguments import set_weight_options
from compiler.keras.layers.layer import InputSpec, Layer

__all__ = ["GroupNormalization"]


class GroupNormalization(Layer):
    """Splits the channels of ``axis`` into ``groups`` and normalizes each group of each sample.

    With ``x`` reshaped to ``(..., groups, channels // groups)`` on ``axis``, ``mean`` and
    ``var`` (biased) are taken over every axis but the batch and the group axis;
    ``inv = rsqrt(var + epsilon) * gamma`` and ``y = x * inv + (beta - mean * inv)``, where
    ``gamma`` / ``beta`` are per channel. ``groups=-1`` is instance normalization (one channel
    per group); ``groups=1`` normalizes over all channels, as LayerNormalization over all axes.

    Args:
        groups: number of groups, a divisor of the channels; default 32; -1 for one per channel.
        axis: the channel axis, default -1.
        epsilon: added to the variance, default 1e-3.
        center, scale: whether to add ``beta`` / multiply by ``gamma``.
        beta_initializer, gamma_initializer: defaults zeros, ones.

    Input shape:
        Any, with the size of ``axis`` known.

    Output shape:
        Same as the input.
    """

    def __init__(
        self,
        groups=32,
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
        **kwargs,
    ):
        if (
            not isinstance(groups, int)
            or isinstance(groups, bool)
            or (groups <= 0 and groups != -1)
        ):
            raise ValueError(
                "Received an invalid value for argument `groups`, expected a positive integer "
                f"(or `-1` for instance normalization). Received: groups={groups}"
            )
        super().__init__(**kwargs)
        set_weight_options(
            self,
            beta_regularizer=beta_regularizer,
            gamma_regularizer=gamma_regularizer,
            beta_constraint=beta_constraint,
            gamma_constraint=gamma_constraint,
        )
        if not isinstance(axis, int) or isinstance(axis, bool):
            raise TypeError(f"GroupNormalization: axis must be an int. Received: axis={axis!r}")
        self.groups = groups
        self.axis = axis
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        rank = len(input_shape)
        if not -rank <= self.axis < rank or self.axis % rank == 0:
            raise ValueError(
                f"Layer {self.name}: axis={self.axis} is not a feature axis of inputs of rank "
                f"{rank}. Received: input_shape={tuple(input_shape)}"
            )
        dim = input_shape[self.axis]
        if dim is None:
            raise ValueError(
                f"Axis {self.axis} of input tensor should have a defined dimension but the "
                f"layer received an input with shape {tuple(input_shape)}."
            )
        if self.groups == -1:
            self.groups = dim
        if dim < self.groups:
            raise ValueError(
                f"Number of groups ({self.groups}) cannot be more than the number of "
                f"channels ({dim})."
            )
        if dim % self.groups != 0:
            raise ValueError(
                f"Number of groups ({self.groups}) must be a multiple of the number of "
                f"channels ({dim})."
            )
        self.input_spec = InputSpec(ndim=rank, axes={self.axis: dim})
        self.gamma = self.beta = None
        if self.scale:
            self.gamma = self.add_weight(
                shape=(dim,),
                name="gamma",
                initializer=self.gamma_initializer,
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
            )
        if self.center:
            self.beta = self.add_weight(
                shape=(dim,),
                name="beta",
                initializer=self.beta_initializer,
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
            )
        axis = self.axis % rank
        # Grouped shape: the channel axis becomes (groups, dim // groups).
        self._axis = axis
        self._group_broadcast = tuple(
            [1] * axis + [self.groups, dim // self.groups] + [1] * (rank - axis - 1)
        )
        self._reduce = tuple(a for a in range(1, rank + 1) if a != axis)
        self.built = True

    def call(self, inputs):
        shape = inputs.shape
        grouped_shape = (
            (-1,)
            + tuple(shape[1 : self._axis])
            + (self.groups, shape[self._axis] // self.groups)
            + tuple(shape[self._axis + 1 :])
        )
        x = ops.reshape(inputs, grouped_shape)
        mean = ops.mean(x, axis=self._reduce, keepdims=True)
        variance = ops.mean(ops.square(x - mean), axis=self._reduce, keepdims=True)
        inv = 1.0 / ops.sqrt(variance + self.epsilon)
        if self.gamma is not None:
            inv = inv * ops.reshape(self.gamma, self._group_broadcast)
        shift = -mean * inv
        if self.beta is not None:
            shift = shift + ops.reshape(self.beta, self._group_broadcast)
        return ops.reshape(x * inv + shift, (-1,) + tuple(shape[1:]))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "groups": self.groups,
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
        }
