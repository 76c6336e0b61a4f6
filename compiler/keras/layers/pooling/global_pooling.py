"""Global average / max pooling over all steps or all pixels."""

from compiler.keras import ops
from compiler.keras.layers._arguments import standardize_data_format
from compiler.keras.layers.layer import InputSpec, Layer

__all__ = [
    "BaseGlobalPooling",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
]


class BaseGlobalPooling(Layer):
    """Reduces the spatial axes (1 or 2) of a channels-last tensor.

    Args:
        pool_dimensions: number of spatial axes.
        data_format: ``"channels_last"``.
        keepdims: keep the reduced axes with length 1.
    """

    _reduce = None

    def __init__(self, pool_dimensions, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.pool_dimensions = pool_dimensions
        self.data_format = standardize_data_format(data_format)
        self.keepdims = keepdims
        self.input_spec = InputSpec(ndim=pool_dimensions + 2)
        self.built = True

    def _axes(self):
        return tuple(range(1, self.pool_dimensions + 1))

    def call(self, inputs):
        return type(self)._reduce(inputs, axis=self._axes(), keepdims=self.keepdims)

    def compute_output_shape(self, input_shape):
        if self.keepdims:
            return (input_shape[0], *(1,) * self.pool_dimensions, input_shape[-1])
        return (input_shape[0], input_shape[-1])

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling1D(BaseGlobalPooling):
    """Mean over steps; masked steps (from an input mask) are left out of the mean.

    Input shape:
        3-D tensor ``(batch_size, steps, features)``.

    Output shape:
        ``(batch_size, features)``, or ``(batch_size, 1, features)`` with ``keepdims``.
    """

    _reduce = staticmethod(ops.mean)

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(pool_dimensions=1, data_format=data_format, keepdims=keepdims, **kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.mean(inputs, axis=1, keepdims=self.keepdims)
        weights = ops.cast(ops.expand_dims(ops.as_tensor(mask), -1), inputs.dtype)
        total = ops.sum(inputs * weights, axis=1, keepdims=self.keepdims)
        return total / ops.sum(weights, axis=1, keepdims=self.keepdims)


class GlobalAveragePooling2D(BaseGlobalPooling):
    """Mean over height and width.

    Input shape:
        4-D tensor ``(batch_size, height, width, channels)``.

    Output shape:
        ``(batch_size, channels)``, or ``(batch_size, 1, 1, channels)`` with ``keepdims``.
    """

    _reduce = staticmethod(ops.mean)

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(pool_dimensions=2, data_format=data_format, keepdims=keepdims, **kwargs)


class GlobalMaxPooling1D(BaseGlobalPooling):
    """Max over steps.

    Input shape:
        3-D tensor ``(batch_size, steps, features)``.

    Output shape:
        ``(batch_size, features)``, or ``(batch_size, 1, features)`` with ``keepdims``.
    """

    _reduce = staticmethod(ops.max)

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(pool_dimensions=1, data_format=data_format, keepdims=keepdims, **kwargs)


class GlobalMaxPooling2D(BaseGlobalPooling):
    """Max over height and width.

    Input shape:
        4-D tensor ``(batch_size, height, width, channels)``.

    Output shape:
        ``(batch_size, channels)``, or ``(batch_size, 1, 1, channels)`` with ``keepdims``.
    """

    _reduce = staticmethod(ops.max)

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(pool_dimensions=2, data_format=data_format, keepdims=keepdims, **kwargs)
