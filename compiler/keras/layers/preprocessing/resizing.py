"""``Resizing``: resize images to ``(height, width)``, optionally cropping or padding to the
target aspect ratio first."""

from compiler.keras import ops
from compiler.keras.layers._arguments import standardize_data_format
from compiler.keras.layers.layer import InputSpec, Layer
from compiler.keras.layers.preprocessing._resize import (
    INTERPOLATIONS,
    aspect_crop,
    aspect_pad,
    resize_images,
)

__all__ = ["Resizing"]


class Resizing(Layer):
    """Resizes a batch of NHWC images (Keras 3's ``Resizing``).

    Interpolation follows TFLite's half-pixel-center kernels, as Keras's ``ops.image.resize``
    with ``antialias=False``. With ``crop_to_aspect_ratio`` the largest centered window of the
    target aspect ratio is cut out first; with ``pad_to_aspect_ratio`` the images are padded
    with ``fill_value`` on both sides of one axis to reach it.

    Args:
        height, width: output size.
        interpolation: ``"bilinear"`` (default) or ``"nearest"``; Keras's other modes
            (bicubic, lanczos, area) have no TFLite kernel and are refused.
        crop_to_aspect_ratio, pad_to_aspect_ratio: at most one True.
        fill_mode: ``"constant"`` only; fill_value: the padding value, default 0.
        antialias: must be False (no TFLite kernel antialiases).
        data_format: ``"channels_last"``.

    Input shape:
        4-D tensor ``(batch_size, rows, cols, channels)``.

    Output shape:
        4-D tensor ``(batch_size, height, width, channels)``.
    """

    def __init__(
        self,
        height,
        width,
        interpolation="bilinear",
        crop_to_aspect_ratio=False,
        pad_to_aspect_ratio=False,
        fill_mode="constant",
        fill_value=0.0,
        antialias=False,
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for arg, value in (("height", height), ("width", width)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"`{arg}` must be a positive int. Received: {arg}={value!r}")
        if interpolation not in INTERPOLATIONS:
            raise ValueError(
                f"Layer {self.name}: interpolation={interpolation!r} is not supported; "
                f"supported: {', '.join(INTERPOLATIONS)} (the modes TFLite has kernels for)"
            )
        if fill_mode != "constant":
            raise ValueError(
                "Invalid value for argument `fill_mode`. Only `'constant'` is supported. "
                f"Received: fill_mode={fill_mode}"
            )
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError(
                "Only one of `pad_to_aspect_ratio` & `crop_to_aspect_ratio` can be `True`."
            )
        if antialias:
            raise ValueError(
                f"Layer {self.name}: antialias=True is not supported (no TFLite resize kernel "
                "antialiases). Received: antialias=True"
            )
        self.height, self.width = height, width
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.fill_mode = fill_mode
        self.fill_value = float(fill_value)
        self.antialias = False
        self.data_format = standardize_data_format(data_format)
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        if inputs.dtype.kind != "f":
            inputs = ops.cast(inputs, self.dtype)
        _, h, w, _ = inputs.shape
        x = inputs
        if self.crop_to_aspect_ratio:
            top, left, ch, cw = aspect_crop(h, w, self.height, self.width)
            x = x[:, top : top + ch, left : left + cw, :]
        elif self.pad_to_aspect_ratio:
            rows, cols = aspect_pad(h, w, self.height, self.width)
            if rows or cols:
                x = ops.pad(
                    x, ((0, 0), (rows, rows), (cols, cols), (0, 0)), constant_values=self.fill_value
                )
        return resize_images(x, self.height, self.width, self.interpolation)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[3])

    def get_config(self):
        return {
            **super().get_config(),
            "data_format": self.data_format,
            "height": self.height,
            "width": self.width,
            "interpolation": self.interpolation,
            "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
            "pad_to_aspect_ratio": self.pad_to_aspect_ratio,
            "fill_mode": self.fill_mode,
            "fill_value": self.fill_value,
            "antialias": self.antialias,
        }
