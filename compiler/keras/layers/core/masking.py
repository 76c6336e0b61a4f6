"""``Masking``: marks the timesteps whose features all equal ``mask_value`` as padding."""

from compiler.keras import ops
from compiler.keras.backend import xp
from compiler.keras.layers.layer import Layer

__all__ = ["Masking"]


class Masking(Layer):
    """Masks timesteps where every feature equals ``mask_value``, and zeroes them.

    The output mask is ``any(inputs != mask_value, axis=-1)``; layers downstream that support
    masking (recurrent layers, pooling, losses) skip the masked timesteps.

    Args:
        mask_value: the padding value, default 0.

    Input shape:
        ``(batch_size, timesteps, features)`` (any rank of at least 2).

    Output shape:
        Same as the input.
    """

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = mask_value
        self.supports_masking = True
        self.built = True

    def _keep(self, inputs):
        return xp.any(ops.as_tensor(inputs).data != self.mask_value, axis=-1)

    def call(self, inputs):
        keep = self._keep(inputs)
        return inputs * keep[..., None].astype(inputs.dtype)

    def compute_mask(self, inputs, mask=None):
        return self._keep(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
