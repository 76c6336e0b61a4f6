"""``ZeroPadding1D`` / ``ZeroPadding2D``: zeros around steps or images."""

from compiler.keras import ops
from compiler.keras.layers._arguments import standardize_data_format, standardize_tuple
from compiler.keras.layers.layer import InputSpec, Layer

__all__ = ["ZeroPadding1D", "ZeroPadding2D"]


def _add(size, amounts):
    return None if size is None else size + sum(amounts)


class ZeroPadding1D(Layer):
    """Adds zeros before and after the steps axis.

    Args:
        padding: int (both sides) or ``(before, after)``.
        data_format: ``"channels_last"``.

    Input shape:
        3-D tensor ``(batch_size, steps, features)``.

    Output shape:
        3-D tensor ``(batch_size, padded_steps, features)``.
    """

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.padding = standardize_tuple(padding, 2, "padding", allow_zero=True)
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        return ops.pad(inputs, ((0, 0), self.padding, (0, 0)))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], _add(input_shape[1], self.padding), input_shape[2])

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}


class ZeroPadding2D(Layer):
    """Adds rows and columns of zeros around images.

    Args:
        padding: int (all sides), ``(rows, cols)`` (symmetric), or
            ``((top, bottom), (left, right))``.
        data_format: ``"channels_last"``.

    Input shape:
        4-D tensor ``(batch_size, rows, cols, channels)``.

    Output shape:
        4-D tensor ``(batch_size, padded_rows, padded_cols, channels)``.
    """

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        if isinstance(padding, int):
            self.padding = ((padding, padding), (padding, padding))
        elif hasattr(padding, "__len__") and len(padding) == 2:
            if all(isinstance(p, int) for p in padding):
                self.padding = tuple((p, p) for p in padding)
            else:
                self.padding = tuple(
                    standardize_tuple(p, 2, "padding", allow_zero=True) for p in padding
                )
        else:
            raise ValueError(
                "`padding` should be either an int, a tuple of 2 ints (symmetric_height_pad, "
                "symmetric_width_pad), or a tuple of 2 tuples of 2 ints ((top_pad, bottom_pad), "
                f"(left_pad, right_pad)). Received: padding={padding}."
            )
        if any(p < 0 for pair in self.padding for p in pair):
            raise ValueError(f"`padding` must be non-negative. Received: padding={padding}.")
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        return ops.pad(inputs, ((0, 0), *self.padding, (0, 0)))

    def compute_output_shape(self, input_shape):
        return (
            input_shape[0],
            _add(input_shape[1], self.padding[0]),
            _add(input_shape[2], self.padding[1]),
            input_shape[3],
        )

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}
