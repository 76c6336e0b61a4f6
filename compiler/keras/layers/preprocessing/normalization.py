"""``Normalization``: ``(x - mean) / sqrt(variance)`` with given or adapted statistics."""

import math

import numpy as np

from compiler.keras import ops
from compiler.keras.backend import epsilon, xp
from compiler.keras.layers.layer import Layer

__all__ = ["Normalization"]


def _axis_tuple(axis):
    if axis is None:
        return ()
    if isinstance(axis, int) and not isinstance(axis, bool):
        return (axis,)
    return tuple(int(a) for a in axis)


class Normalization(Layer):
    """Shifts and scales inputs by a mean and variance kept per position of ``axis``.

    ``y = (x - mean) / max(sqrt(variance), epsilon())``, or with ``invert=True``
    ``y = mean + x * max(sqrt(variance), epsilon())``. The statistics are either given
    (``mean`` / ``variance``, stored in the config) or computed by ``adapt(data)`` and then
    stored as the non-trainable weights ``mean``, ``variance`` and ``count`` (Keras's order).

    Args:
        axis: int, tuple of ints or None: the axes that keep separate statistics (default -1,
            the features); None for one mean and variance over everything.
        mean, variance: statistics to use instead of ``adapt``; broadcast over ``axis``.
        invert: apply the inverse transformation.

    Input shape:
        Any, with the sizes of ``axis`` known.

    Output shape:
        Same as the input.
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = _axis_tuple(axis)
        self.input_mean = mean
        self.input_variance = variance
        self.invert = bool(invert)
        self.supports_masking = True
        self._build_input_shape = None
        self.mean = self.variance = None
        if (mean is not None) != (variance is not None):
            raise ValueError(
                "When setting values directly, both `mean` and `variance` must be set. "
                f"Received: mean={mean} and variance={variance}"
            )
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError(
                    "When setting values directly, `mean` and `variance` must have the same "
                    f"shape. Received: mean shape {np.shape(mean)} and variance shape "
                    f"{np.shape(variance)}"
                )
            if np.ndim(mean) > len(self.axis):
                raise ValueError(
                    "The rank of `mean` must be less than or equal to the number of axes "
                    f"({len(self.axis)}). Received: mean shape {np.shape(mean)} for axis "
                    f"{self.axis}"
                )

    def build(self, input_shape):
        if input_shape is None:
            return
        rank = len(input_shape)
        self._build_input_shape = tuple(input_shape)
        if any(a < -rank or a >= rank for a in self.axis):
            raise ValueError(
                "All `axis` values must be in the range [-ndim, ndim). Received inputs with "
                f"ndim={rank}, while axis={self.axis}"
            )
        self._keep_axis = tuple(sorted(a % rank for a in self.axis))
        for d in self._keep_axis:
            if input_shape[d] is None:
                raise ValueError(
                    "All `axis` values to be kept must have a known shape. Received "
                    f"axis={self.axis}, inputs.shape={tuple(input_shape)}, with unknown axis "
                    f"at index {d}"
                )
        self._reduce_axis = tuple(d for d in range(rank) if d not in self._keep_axis)
        self._broadcast_shape = tuple(
            input_shape[d] if d in self._keep_axis else 1 for d in range(rank)
        )
        self._mean_and_var_shape = tuple(input_shape[d] for d in self._keep_axis)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(
                name="mean", shape=self._mean_and_var_shape, initializer="zeros", trainable=False
            )
            self.adapt_variance = self.add_weight(
                name="variance",
                shape=self._mean_and_var_shape,
                initializer="ones",
                trainable=False,
            )
            self.count = self.add_weight(
                name="count", shape=(), dtype="int32", initializer="zeros", trainable=False
            )
        else:
            self.mean, self.variance = (
                self._broadcast(np.asarray(v, np.float64)).astype(self.dtype)
                for v in (self.input_mean, self.input_variance)
            )
        self.built = True

    def _broadcast(self, value):
        """A statistic (scalar, or trailing kept axes) as an array of ``_broadcast_shape``."""
        if value.ndim:
            expanded = [1] * len(self._broadcast_shape)
            for i in range(1, value.ndim + 1):
                expanded[self._keep_axis[-i]] = value.shape[-i]
            value = value.reshape(expanded)
        return np.broadcast_to(value, self._broadcast_shape)

    def statistics(self):
        """``(mean, variance)`` as float arrays of the broadcast shape (rank of the input)."""
        if self.input_mean is not None:
            return np.asarray(self.mean), np.asarray(self.variance)
        return (
            self.adapt_mean.data.reshape(self._broadcast_shape),
            self.adapt_variance.data.reshape(self._broadcast_shape),
        )

    def adapt(self, data):
        """Computes the mean and variance of ``data`` (an array or an iterable of batches)
        over every axis but ``axis``, and stores them in the layer's weights."""
        if isinstance(data, (np.ndarray, ops.Tensor)):
            batches = [np.asarray(getattr(data, "data", data))]
        elif hasattr(data, "__iter__"):
            batches = [np.asarray(getattr(b, "data", b)) for b in data]
            batches = [b[0] if isinstance(b, tuple) else b for b in batches]
            if not batches:
                raise ValueError("adapt() received an empty iterable (no batches).")
        else:
            raise TypeError(
                f"Unsupported data type: {type(data)}. `adapt` supports `np.ndarray` and "
                "iterables of batches."
            )
        if self.input_mean is not None:
            raise ValueError(
                f"Layer {self.name} was given `mean` and `variance`; it cannot be adapted."
            )
        if not self.built:
            self._maybe_build(batches[0].shape)
        total_mean = total_var = None
        total_count = 0
        for batch in batches:
            batch = batch.astype(np.float64)
            for d in self._keep_axis:
                if batch.ndim != len(self._build_input_shape) or (
                    batch.shape[d] != self._build_input_shape[d]
                ):
                    raise ValueError(
                        f"The layer was built with input_shape={self._build_input_shape}, but "
                        f"adapt() is being called with data with an incompatible shape, "
                        f"data.shape={batch.shape}"
                    )
            mean = batch.mean(axis=self._reduce_axis)
            var = batch.var(axis=self._reduce_axis)
            count = math.prod(batch.shape[d] for d in self._reduce_axis)
            if total_mean is None:
                total_mean, total_var, total_count = mean, var, count
                continue
            # Chan et al.'s parallel update, as Keras combines batches.
            total_count += count
            w_new = count / total_count
            w_old = 1.0 - w_new
            new_mean = total_mean * w_old + mean * w_new
            total_var = (total_var + (total_mean - new_mean) ** 2) * w_old + (
                var + (mean - new_mean) ** 2
            ) * w_new
            total_mean = new_mean
        self.adapt_mean.assign(total_mean.astype(np.float32))
        self.adapt_variance.assign(total_var.astype(np.float32))

    def call(self, inputs):
        if not self.built or self._build_input_shape is None:
            raise ValueError("You must call `.build(input_shape)` on the layer before using it.")
        if inputs.dtype.kind != "f":
            inputs = ops.cast(inputs, self.dtype)
        mean, variance = self.statistics()
        mean = xp.asarray(mean, inputs.dtype)
        scale = xp.maximum(
            xp.sqrt(xp.asarray(variance, inputs.dtype)), inputs.dtype.type(epsilon())
        )
        if self.invert:
            return mean + inputs * scale
        return (inputs - mean) / scale

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_build_config(self):
        if self._build_input_shape:
            return {"input_shape": list(self._build_input_shape)}
        return None

    def build_from_config(self, config):
        if config:
            self._maybe_build(tuple(config["input_shape"]))

    def get_config(self):
        def listed(value):
            return None if value is None else np.asarray(value).tolist()

        return {
            **super().get_config(),
            "axis": list(self.axis),
            "invert": self.invert,
            "mean": listed(self.input_mean),
            "variance": listed(self.input_variance),
        }
