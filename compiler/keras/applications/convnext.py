"""The custom layers of ``keras.applications.convnext`` that real Keras writes in saved files
(module ``keras.src.applications.convnext``, registered names ``LayerScale`` and
``StochasticDepth``)."""

from compiler.keras import initializers, random
from compiler.keras.backend import xp
from compiler.keras.layers.layer import Layer

__all__ = ["LayerScale", "StochasticDepth"]

_MODULE = "keras.src.applications.convnext"


class LayerScale(Layer):
    """Multiplies by a learned per-channel ``gamma`` (Touvron et al., 2021, "CaiT").

    Args:
        init_values: initial value of every element of ``gamma``.
        projection_dim: number of channels (the last axis).

    Input shape:
        Any, with ``projection_dim`` channels last.

    Output shape:
        Same as the input.
    """

    keras_module = _MODULE

    def __init__(self, init_values, projection_dim, **kwargs):
        super().__init__(**kwargs)
        self.init_values = init_values
        self.projection_dim = projection_dim

    def build(self, input_shape):
        # Keras's own weight has no name argument: it is saved as "variable".
        self.gamma = self.add_weight(
            shape=(self.projection_dim,),
            initializer=initializers.Constant(self.init_values),
            name="variable",
        )
        self.built = True

    def call(self, x):
        return x * self.gamma

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "init_values": self.init_values,
            "projection_dim": self.projection_dim,
        }


class StochasticDepth(Layer):
    """Drops the whole residual branch of a random subset of the batch's samples in training.

    In training each sample is kept with probability ``1 - drop_path_rate`` (then divided by
    it) or zeroed; at inference it is the identity.

    Args:
        drop_path_rate: probability of dropping a sample's path, in [0, 1).

    Input shape:
        Any.

    Output shape:
        Same as the input.
    """

    keras_module = _MODULE

    def __init__(self, drop_path_rate, **kwargs):
        super().__init__(**kwargs)
        self.drop_path_rate = drop_path_rate

    def call(self, x, training=None):
        if not training or self.drop_path_rate == 0:
            return x
        keep = 1.0 - float(self.drop_path_rate)
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        mask = xp.floor(keep + random.generator().uniform(0.0, 1.0, shape)).astype(x.dtype)
        return (x / keep) * mask

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "drop_path_rate": self.drop_path_rate}
