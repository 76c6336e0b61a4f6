"""``UpSampling1D`` / ``UpSampling2D``: nearest-neighbour repetition of steps or pixels, or
(UpSampling2D) bilinear interpolation as Keras's ``ops.image.resize`` computes it without
antialiasing (half-pixel centers; ``preprocessing._resize``)."""

from compiler.keras import ops
from compiler.keras.layers._arguments import standardize_data_format, standardize_tuple
from compiler.keras.layers.layer import InputSpec, Layer
from compiler.keras.layers.preprocessing._resize import resize_images

__all__ = ["UpSampling1D", "UpSampling2D"]


def _times(size, factor):
    return None if size is None else size * factor


class UpSampling1D(Layer):
    """Repeats each step ``size`` times.

    Input shape:
        3-D tensor ``(batch_size, steps, features)``.

    Output shape:
        3-D tensor ``(batch_size, steps * size, features)``.
    """

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        self.size = standardize_tuple(size, 1, "size")[0]
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        n, steps, features = inputs.shape
        x = ops.broadcast_to(
            ops.reshape(inputs, (n, steps, 1, features)), (n, steps, self.size, features)
        )
        return ops.reshape(x, (n, steps * self.size, features))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], _times(input_shape[1], self.size), input_shape[2])

    def get_config(self):
        return {**super().get_config(), "size": self.size}


class UpSampling2D(Layer):
    """Repeats rows ``size[0]`` times and columns ``size[1]`` times.

    Args:
        size: int or ``(rows, cols)`` factors.
        data_format: ``"channels_last"``.
        interpolation: ``"nearest"`` or ``"bilinear"``.

    Input shape:
        4-D tensor ``(batch_size, rows, cols, channels)``.

    Output shape:
        4-D tensor ``(batch_size, rows * size[0], cols * size[1], channels)``.
    """

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = standardize_tuple(size, 2, "size")
        self.data_format = standardize_data_format(data_format)
        interpolation = str(interpolation).lower()
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(
                f"Layer {self.name}: interpolation must be 'nearest' or 'bilinear' here "
                f"(TFLite has no other resize kernel). Received: interpolation={interpolation!r}"
            )
        self.interpolation = interpolation
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        n, h, w, c = inputs.shape
        sh, sw = self.size
        if self.interpolation == "bilinear":
            return resize_images(inputs, h * sh, w * sw, "bilinear")
        x = ops.broadcast_to(ops.reshape(inputs, (n, h, 1, w, 1, c)), (n, h, sh, w, sw, c))
        return ops.reshape(x, (n, h * sh, w * sw, c))

    def compute_output_shape(self, input_shape):
        return (
            input_shape[0],
            _times(input_shape[1], self.size[0]),
            _times(input_shape[2], self.size[1]),
            input_shape[3],
        )

    def get_config(self):
        return {
            **super().get_config(),
            "size": self.size,
            "data_format": self.data_format,
            "interpolation": self.interpolation,
        }
