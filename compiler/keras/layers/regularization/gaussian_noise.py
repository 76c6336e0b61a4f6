"""``GaussianNoise``: additive zero-mean noise, active only in training."""

from compiler.keras.backend import xp
from compiler.keras.layers.layer import Layer
from compiler.keras.random import SeedGenerator

__all__ = ["GaussianNoise"]


class GaussianNoise(Layer):
    """Adds ``N(0, stddev^2)`` noise in training; identity in inference.

    Args:
        stddev: standard deviation of the noise.
        seed: integer seed of this layer's own generator; default the global generator.

    Input shape:
        Any.

    Output shape:
        Same as the input.
    """

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= stddev <= 1:
            raise ValueError(
                "Invalid value received for argument `stddev`. Expected a float value between "
                f"0 and 1. Received: stddev={stddev}"
            )
        self.stddev = stddev
        self.seed = seed
        self.seed_generator = SeedGenerator(seed)
        self.supports_masking = True
        self.built = True

    def call(self, inputs, training=False):
        if not training or self.stddev == 0:
            return inputs
        # Drawn in float32 for float16/32 models: a float64 draw would double the traffic.
        dtype = xp.float64 if inputs.dtype == xp.float64 else xp.float32
        noise = self.seed_generator.next().standard_normal(inputs.shape, dtype=dtype)
        noise *= dtype(self.stddev)
        return inputs + noise.astype(inputs.dtype, copy=False)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}
