"""``Reshape``: gives each sample a new shape with the same number of values."""

import math

from compiler.keras import ops
from compiler.keras.layers.layer import Layer

__all__ = ["Reshape"]


class Reshape(Layer):
    """Reshapes each sample to ``target_shape`` (one entry may be -1: inferred).

    Args:
        target_shape: shape of one sample, without the batch axis.

    Input shape:
        Any, with as many values per sample as ``target_shape``.

    Output shape:
        ``(batch_size, *target_shape)``.
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        target_shape = tuple(int(d) for d in target_shape)
        if target_shape.count(-1) > 1:
            raise ValueError(
                "The `target_shape` argument must not contain more than one `-1` value. "
                f"Received: target_shape={target_shape}"
            )
        if any(d == 0 or d < -1 for d in target_shape):
            raise ValueError(
                "The `target_shape` argument must hold positive integers and at most one -1. "
                f"Received: target_shape={target_shape}"
            )
        self.target_shape = target_shape
        self.built = True

    def _resolve(self, sample_shape):
        """``target_shape`` with -1 filled in, or an error naming both shapes."""
        known = math.prod(d for d in self.target_shape if d != -1)
        if any(d is None for d in sample_shape):
            return tuple(None if d == -1 else d for d in self.target_shape)
        size = math.prod(sample_shape)
        if -1 in self.target_shape:
            ok = size % known == 0
            resolved = tuple(size // known if d == -1 else d for d in self.target_shape)
        else:
            ok = size == known
            resolved = self.target_shape
        if not ok:
            raise ValueError(
                f"Layer {self.name}: the total size of the new array must be unchanged. "
                f"Received: input_shape={tuple(sample_shape)} ({size} values per sample), "
                f"target_shape={self.target_shape}"
            )
        return resolved

    def call(self, inputs):
        return ops.reshape(inputs, (inputs.shape[0], *self._resolve(inputs.shape[1:])))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self._resolve(tuple(input_shape[1:])))

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}
