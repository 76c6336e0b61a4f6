"""``Permute`` and ``RepeatVector``: reorder sample axes; repeat a vector along a new axis."""

from compiler.keras import ops
from compiler.keras.layers.layer import InputSpec, Layer

__all__ = ["Permute", "RepeatVector"]


class Permute(Layer):
    """Permutes the axes of each sample; ``dims`` are 1-based (the batch axis stays first).

    Args:
        dims: a permutation of ``1..rank-1``, e.g. ``(2, 1)`` swaps the two sample axes.

    Input shape:
        ``(batch_size, *sample_shape)`` with ``len(sample_shape) == len(dims)``.

    Output shape:
        ``(batch_size, *(sample_shape[d - 1] for d in dims))``.
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(
                "Invalid permutation argument `dims` for Permute Layer. The set of indices in "
                f"`dims` must be consecutive and start from 1. Received dims={dims}"
            )
        self.input_spec = InputSpec(ndim=len(self.dims) + 1)

    def call(self, inputs):
        return ops.transpose(inputs, (0, *self.dims))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *(input_shape[d] for d in self.dims))

    def get_config(self):
        return {**super().get_config(), "dims": self.dims}


class RepeatVector(Layer):
    """Repeats a ``(batch, features)`` input ``n`` times: ``(batch, n, features)``.

    Input shape:
        2-D tensor ``(batch_size, features)``.

    Output shape:
        3-D tensor ``(batch_size, n, features)``.
    """

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(n, int) or n <= 0:
            raise ValueError(f"Expected an integer value for `n` > 0. Received: n={n}")
        self.n = n
        self.input_spec = InputSpec(ndim=2)

    def call(self, inputs):
        batch, features = inputs.shape
        return ops.broadcast_to(
            ops.reshape(inputs, (batch, 1, features)), (batch, self.n, features)
        )

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        return {**super().get_config(), "n": self.n}
