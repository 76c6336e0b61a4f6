"""``CenterCrop``: the central ``(height, width)`` window of each image."""

from compiler.keras import ops
from compiler.keras.layers._arguments import standardize_data_format
from compiler.keras.layers.layer import InputSpec, Layer
from compiler.keras.layers.preprocessing._resize import aspect_crop, resize_images

__all__ = ["CenterCrop"]


class CenterCrop(Layer):
    """Crops the center of each image to ``(height, width)``.

    The window starts at ``((rows - height) // 2, (cols - width) // 2)``. An image smaller
    than the target on either axis is instead cropped to the target aspect ratio and resized
    (bilinear), as Keras's ``smart_resize`` does.

    Args:
        height, width: output size.
        data_format: ``"channels_last"``.

    Input shape:
        4-D tensor ``(batch_size, rows, cols, channels)``.

    Output shape:
        4-D tensor ``(batch_size, height, width, channels)``.
    """

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(**kwargs)
        for arg, value in (("height", height), ("width", width)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"`{arg}` must be a positive int. Received: {arg}={value!r}")
        self.height, self.width = height, width
        self.data_format = standardize_data_format(data_format)
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        if inputs.dtype.kind != "f":
            inputs = ops.cast(inputs, self.dtype)
        _, h, w, _ = inputs.shape
        if h >= self.height and w >= self.width:
            top, left = (h - self.height) // 2, (w - self.width) // 2
            return inputs[:, top : top + self.height, left : left + self.width, :]
        top, left, ch, cw = aspect_crop(h, w, self.height, self.width)
        cropped = inputs[:, top : top + ch, left : left + cw, :]
        return resize_images(cropped, self.height, self.width, "bilinear")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[3])

    def get_config(self):
        return {
            **super().get_config(),
            "data_format": self.data_format,
            "height": self.height,
            "width": self.width,
        }
