"""``Dropout``: inverted dropout, active only in training."""

from compiler.keras.backend import xp
from compiler.keras.layers.layer import Layer
from compiler.keras.random import SeedGenerator, batch_uniform

__all__ = ["Dropout"]


class Dropout(Layer):
    """Zeroes a fraction ``rate`` of the inputs in training and scales the rest by
    ``1 / (1 - rate)``, so that inference (identity) sees the same expected values.

    Args:
        rate: fraction of the inputs to drop, in ``[0, 1]``.
        noise_shape: shape of the keep/drop mask, broadcast over the inputs (``None`` entries
            take the input's size), e.g. ``(batch, 1, features)`` drops whole features.
        seed: integer seed of this layer's own generator; default the global generator.

    Input shape:
        Any.

    Output shape:
        Same as the input.
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate <= 1:
            raise ValueError(
                "Invalid value received for argument `rate`. Expected a float value between 0 "
                f"and 1. Received: rate={rate}"
            )
        self.rate = rate
        self.seed = seed
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed_generator = SeedGenerator(seed)
        self.supports_masking = True
        self.built = True

    def _mask_shape(self, shape):
        if self.noise_shape is None:
            return shape
        if len(self.noise_shape) != len(shape):
            raise ValueError(
                f"Layer {self.name}: noise_shape={self.noise_shape} must have the rank of the "
                f"inputs. Received: inputs.shape={tuple(shape)}"
            )
        return tuple(s if n is None else n for n, s in zip(self.noise_shape, shape, strict=True))

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        shape = self._mask_shape(inputs.shape)
        if self.rate == 1:
            return inputs * xp.zeros(shape, inputs.dtype)
        # Uniforms in float32 for float16/32 models: a float64 mask would double the traffic.
        uniform_dtype = xp.float64 if inputs.dtype == xp.float64 else xp.float32
        # Axis 0 is the batch unless noise_shape fixes it: then per-sample draws (see random).
        per_sample = self.noise_shape is None or self.noise_shape[0] is None
        uniform = batch_uniform(self.seed_generator.next(), shape, uniform_dtype, per_sample)
        keep = (uniform >= self.rate).astype(inputs.dtype)
        keep *= inputs.dtype.type(1.0 / (1.0 - self.rate))
        return inputs * keep

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "rate": self.rate,
            "seed": self.seed,
            "noise_shape": self.noise_shape,
        }
