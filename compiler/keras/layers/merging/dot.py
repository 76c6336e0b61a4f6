"""``Dot``: batched dot products between two tensors along chosen axes."""

from compiler.keras import ops
from compiler.keras.layers.layer import Layer

__all__ = ["Dot", "dot"]


def _l2_normalize(x, axis):
    return x / ops.sqrt(ops.maximum(ops.sum(ops.square(x), axis=axis, keepdims=True), 1e-12))


class Dot(Layer):
    """Sum over ``axes`` of the product of two tensors, per sample (``keras.layers.Dot``).

    Args:
        axes: int (same axis of both) or a pair of ints, counted with the batch axis as 0.
        normalize: L2-normalize both inputs along ``axes`` first (cosine similarity).

    Input shape:
        A list of two tensors of rank 2 or 3 ``(batch_size, ...)``.

    Output shape:
        The remaining axes of the first input, then those of the second; ``(batch_size, 1)``
        for two vectors.
    """

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axes, int):
            axes = tuple(axes)
            if len(axes) != 2 or not all(isinstance(a, int) for a in axes):
                raise ValueError(
                    "Invalid format for argument `axes`: expected an int or a list/tuple of 2 "
                    f"ints. Received: axes={axes}"
                )
        self.axes = axes
        self.normalize = normalize
        self.supports_masking = True

    def _axes(self, shapes):
        if not isinstance(shapes, (list, tuple)) or len(shapes) != 2:
            raise ValueError(
                f"A `Dot` layer ('{self.name}') should be called on a list of 2 inputs. "
                f"Received: input_shape={shapes}"
            )
        a, b = (tuple(s) for s in shapes)
        if len(a) not in (2, 3) or len(b) not in (2, 3):
            raise ValueError(
                f"Layer {self.name}: Dot supports inputs of rank 2 or 3. Received shapes {a} "
                f"and {b}"
            )
        axes = (self.axes, self.axes) if isinstance(self.axes, int) else self.axes
        axes = tuple(ax % len(s) for ax, s in zip(axes, (a, b), strict=True))
        if 0 in axes or (
            a[axes[0]] is not None and b[axes[1]] is not None and a[axes[0]] != b[axes[1]]
        ):
            raise ValueError(
                f"Layer {self.name}: incompatible input shapes for Dot: {a} (axis {axes[0]}) "
                f"and {b} (axis {axes[1]}); the dot axes must have equal sizes and not be the "
                "batch axis."
            )
        return a, b, axes

    def build(self, input_shape):
        self._axes(input_shape)
        self.built = True

    def call(self, inputs):
        x, y = inputs
        _, _, (ax, ay) = self._axes([x.shape, y.shape])
        if self.normalize:
            x, y = _l2_normalize(x, ax), _l2_normalize(y, ay)
        # Move the summed axes last / first-after-batch and use a batched matmul.
        x_free = [a for a in range(1, x.ndim) if a != ax]
        y_free = [a for a in range(1, y.ndim) if a != ay]
        xt = ops.transpose(x, (0, *x_free, ax))
        yt = ops.transpose(y, (0, ay, *y_free))
        xt = ops.reshape(xt, (x.shape[0], -1, x.shape[ax]))
        yt = ops.reshape(yt, (y.shape[0], y.shape[ay], -1))
        out = ops.matmul(xt, yt)
        shape = (x.shape[0], *(x.shape[a] for a in x_free), *(y.shape[a] for a in y_free))
        return ops.reshape(out, shape if len(shape) > 1 else (x.shape[0], 1))

    def compute_output_shape(self, input_shape):
        a, b, (ax, ay) = self._axes(input_shape)
        shape = (
            a[0],
            *(d for i, d in enumerate(a) if i not in (0, ax)),
            *(d for i, d in enumerate(b) if i not in (0, ay)),
        )
        return shape if len(shape) > 1 else (a[0], 1)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def dot(inputs, axes=-1, normalize=False, **kwargs):
    """Functional form of ``Dot``."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
