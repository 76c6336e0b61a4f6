"""``Cropping1D`` / ``Cropping2D``: drop steps or rows and columns at the borders."""

from compiler.keras.layers._arguments import standardize_data_format, standardize_tuple
from compiler.keras.layers.layer import InputSpec, Layer

__all__ = ["Cropping1D", "Cropping2D"]


def _crop_length(layer, size, amounts, axis_name, shape):
    if size is None:
        return None
    if size - sum(amounts) <= 0:
        raise ValueError(
            f"Layer {layer.name}: cropping {amounts} removes all of the {axis_name} axis. "
            f"Received: input_shape={tuple(shape)}, cropping={layer.cropping}"
        )
    return size - sum(amounts)


class Cropping1D(Layer):
    """Removes steps at the start and end of sequences.

    Args:
        cropping: int (both ends) or ``(start, end)``.

    Input shape:
        3-D tensor ``(batch_size, steps, features)``.

    Output shape:
        3-D tensor ``(batch_size, cropped_steps, features)``.
    """

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = standardize_tuple(cropping, 2, "cropping", allow_zero=True)
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        self.compute_output_shape(inputs.shape)
        start, end = self.cropping
        return inputs[:, start : inputs.shape[1] - end, :]

    def compute_output_shape(self, input_shape):
        steps = _crop_length(self, input_shape[1], self.cropping, "steps", input_shape)
        return (input_shape[0], steps, input_shape[2])

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping}


class Cropping2D(Layer):
    """Removes rows and columns at the borders of images.

    Args:
        cropping: int (all sides), ``(rows, cols)`` (symmetric), or
            ``((top, bottom), (left, right))``.
        data_format: ``"channels_last"``.

    Input shape:
        4-D tensor ``(batch_size, rows, cols, channels)``.

    Output shape:
        4-D tensor ``(batch_size, cropped_rows, cropped_cols, channels)``.
    """

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        if isinstance(cropping, int):
            self.cropping = ((cropping, cropping), (cropping, cropping))
        elif hasattr(cropping, "__len__") and len(cropping) == 2:
            if all(isinstance(c, int) for c in cropping):
                self.cropping = tuple((c, c) for c in cropping)
            else:
                self.cropping = tuple(
                    standardize_tuple(c, 2, "cropping", allow_zero=True) for c in cropping
                )
        else:
            raise ValueError(
                "`cropping` should be either an int, a tuple of 2 ints (symmetric_height_crop, "
                "symmetric_width_crop), or a tuple of 2 tuples of 2 ints ((top_crop, "
                f"bottom_crop), (left_crop, right_crop)). Received: cropping={cropping}."
            )
        if any(c < 0 for pair in self.cropping for c in pair):
            raise ValueError(f"`cropping` must be non-negative. Received: cropping={cropping}.")
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        self.compute_output_shape(inputs.shape)
        (top, bottom), (left, right) = self.cropping
        return inputs[:, top : inputs.shape[1] - bottom, left : inputs.shape[2] - right, :]

    def compute_output_shape(self, input_shape):
        rows = _crop_length(self, input_shape[1], self.cropping[0], "rows", input_shape)
        cols = _crop_length(self, input_shape[2], self.cropping[1], "cols", input_shape)
        return (input_shape[0], rows, cols, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping, "data_format": self.data_format}
