"""``BatchNormalization``: normalize with batch statistics in training, moving ones otherwise."""

from compiler.keras import constraints, initializers, ops, regularizers
from compiler.keras.backend import epsilon as fuzz
from compiler.keras.backend import xp
from compiler.keras.layers._arguments import set_weight_options
from compiler.keras.layers.layer import InputSpec, Layer
from compiler.keras.ops.normalization import fused_batch_norm

__all__ = ["BatchNormalization"]


class BatchNormalization(Layer):
    """``gamma * (x - mean) / sqrt(var + epsilon) + beta`` per feature of ``axis``.

    In training (``training=True`` and the layer trainable) ``mean`` / ``var`` are the batch's
    (biased variance, over every axis but ``axis``; masked steps left out) and the moving
    statistics are updated as ``moving = moving * momentum + batch * (1 - momentum)``.
    Otherwise the moving statistics are used. Weights, in Keras's order: ``gamma``, ``beta``
    (trainable), ``moving_mean``, ``moving_variance`` (non-trainable).

    Args:
        axis: the feature axis, default -1.
        momentum: of the moving averages, default 0.99.
        epsilon: added to the variance, default 1e-3.
        center: whether to add ``beta``.
        scale: whether to multiply by ``gamma``.
        beta_initializer, gamma_initializer, moving_mean_initializer,
        moving_variance_initializer: defaults zeros, ones, zeros, ones.

    Input shape:
        Any, with the size of ``axis`` known.

    Output shape:
        Same as the input.
    """

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        synchronized=False,
        renorm=False,
        renorm_clipping=None,
        renorm_momentum=0.99,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if renorm:
            raise ValueError(
                f"Layer {self.name}: batch renormalization (renorm=True) is not supported. "
                f"Received: renorm={renorm}"
            )
        self.renorm = False
        self.renorm_clipping = renorm_clipping
        self.renorm_momentum = renorm_momentum
        set_weight_options(
            self,
            beta_regularizer=beta_regularizer,
            gamma_regularizer=gamma_regularizer,
            beta_constraint=beta_constraint,
            gamma_constraint=gamma_constraint,
        )
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = center
        self.scale = scale
        self.synchronized = synchronized
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        rank = len(input_shape)
        if not -rank <= self.axis < rank:
            raise ValueError(
                f"Layer {self.name}: axis={self.axis} is out of range for inputs of rank {rank}. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        features = input_shape[self.axis]
        if features is None:
            raise ValueError(
                f"Layer {self.name}: axis {self.axis} of the input must have a known size. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        shape = (features,)
        self.gamma = self.beta = None
        if self.scale:
            self.gamma = self.add_weight(
                shape=shape,
                name="gamma",
                initializer=self.gamma_initializer,
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
            )
        if self.center:
            self.beta = self.add_weight(
                shape=shape,
                name="beta",
                initializer=self.beta_initializer,
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
            )
        self.moving_mean = self.add_weight(
            shape=shape,
            name="moving_mean",
            initializer=self.moving_mean_initializer,
            trainable=False,
        )
        self.moving_variance = self.add_weight(
            shape=shape,
            name="moving_variance",
            initializer=self.moving_variance_initializer,
            trainable=False,
        )
        self.input_spec = InputSpec(ndim=rank, axes={self.axis: features})
        axis = self.axis % rank
        self._reduction_axes = tuple(a for a in range(rank) if a != axis)
        self._broadcast_shape = tuple(features if a == axis else 1 for a in range(rank))
        self.built = True

    def call(self, inputs, training=False, mask=None):
        if mask is not None and ops.as_tensor(mask).ndim != inputs.ndim - 1:
            raise ValueError(
                "The mask provided should be one dimension less than the inputs. Received: "
                f"mask.shape={ops.as_tensor(mask).shape}, inputs.shape={inputs.shape}"
            )
        gamma = None if self.gamma is None else ops.reshape(self.gamma, self._broadcast_shape)
        beta = None if self.beta is None else ops.reshape(self.beta, self._broadcast_shape)
        if training and self.trainable and mask is None:
            ones = xp.ones(self._broadcast_shape, inputs.dtype)
            outputs, mean, variance = fused_batch_norm(
                inputs,
                ones if gamma is None else gamma,
                0 * ones if beta is None else beta,
                axes=self._reduction_axes,
                epsilon=self.epsilon,
            )
            self._update_moving(mean, variance)
            return outputs
        if training and self.trainable:
            mean, variance = self._moments(inputs, mask)
            self._update_moving(mean.data, variance.data)
            outputs = (inputs - mean) * (1.0 / ops.sqrt(variance + self.epsilon))
            if gamma is not None:
                outputs = outputs * gamma
            return outputs if beta is None else outputs + beta
        # Inference: one multiply-add per value with per-feature coefficients.
        mean = self.moving_mean.data.reshape(self._broadcast_shape).astype(inputs.dtype)
        variance = self.moving_variance.data.reshape(self._broadcast_shape).astype(inputs.dtype)
        inv = ops.as_tensor(1.0 / xp.sqrt(variance + inputs.dtype.type(self.epsilon)))
        factor = inv if gamma is None else inv * gamma
        shift = -mean * factor if beta is None else beta - mean * factor
        return inputs * factor + shift

    def _moments(self, inputs, mask):
        axes = self._reduction_axes
        if mask is None:
            mean = ops.mean(inputs, axis=axes, keepdims=True)
            return mean, ops.mean(ops.square(inputs - mean), axis=axes, keepdims=True)
        weights = ops.expand_dims(ops.cast(ops.as_tensor(mask), inputs.dtype), -1)
        count = ops.sum(weights * ops.ones_like(inputs), axis=axes, keepdims=True) + fuzz()
        mean = ops.sum(weights * inputs, axis=axes, keepdims=True) / count
        variance = ops.sum(weights * ops.square(inputs - mean), axis=axes, keepdims=True) / count
        return mean, variance

    def _update_moving(self, mean, variance):
        m = self.momentum
        for variable, batch in ((self.moving_mean, mean), (self.moving_variance, variance)):
            batch = batch.reshape(-1).astype(variable.dtype)
            variable.assign(variable.data * m + batch * (1.0 - m))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
            "synchronized": self.synchronized,
            "renorm": self.renorm,
            "renorm_clipping": self.renorm_clipping,
            "renorm_momentum": self.renorm_momentum,
        }
