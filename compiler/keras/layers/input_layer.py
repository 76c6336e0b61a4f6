"""``InputLayer`` and ``keras.Input``: the entry points of a functional graph."""

from compiler.keras.backend import floatx, xp
from compiler.keras.layers.layer import KerasTensor, Layer, Node

__all__ = ["InputLayer", "Input"]


class InputLayer(Layer):
    """A model input: holds the batch shape and dtype of what the model is fed.

    Args:
        shape: shape of one sample, without the batch dimension.
        batch_size: fixed batch size, default unknown (``None``).
        dtype: dtype of the input, default ``floatx()``.
        batch_shape: full shape including the batch dimension (instead of ``shape``).
        name: the input's name (also the model's input name in exported files).
    """

    def __init__(
        self,
        shape=None,
        batch_size=None,
        dtype=None,
        sparse=None,
        batch_shape=None,
        input_tensor=None,
        optional=False,
        name=None,
        **kwargs,
    ):
        kwargs.pop("ragged", None)
        if "input_shape" in kwargs and shape is None:
            shape = kwargs.pop("input_shape")
        if "batch_input_shape" in kwargs and batch_shape is None:
            batch_shape = kwargs.pop("batch_input_shape")
        super().__init__(name=name, dtype=dtype, **kwargs)
        if batch_shape is None:
            if shape is None:
                raise ValueError("You must pass a `shape` argument to Input or InputLayer.")
            batch_shape = (batch_size, *tuple(shape))
        self.batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
        for d in self.batch_shape:
            if d is not None and d < 0:
                raise ValueError(
                    f"Input shape dimensions must be positive. Received: {batch_shape}"
                )
        self.sparse = bool(sparse)
        self.optional = optional
        self.built = True
        self._dtype = str(xp.dtype(dtype or floatx()))
        output = KerasTensor(self.batch_shape, self._dtype, name=self.name)
        node = Node(self, (), {}, output)
        self._inbound_nodes.append(node)
        output._keras_history = (self, 0, 0)
        self._output_tensor = output

    def get_config(self):
        return {
            "batch_shape": list(self.batch_shape),
            "dtype": self._dtype,
            "sparse": self.sparse,
            "ragged": False,
            "name": self.name,
            "optional": self.optional,
        }


def _input_name():
    from compiler.keras.layers.layer import auto_name

    return auto_name("input_layer")


def Input(
    shape=None,
    batch_size=None,
    dtype=None,
    sparse=None,
    batch_shape=None,
    name=None,
    tensor=None,
    optional=False,
):
    """Returns a symbolic tensor that starts a functional model (``keras.Input``)."""
    layer = InputLayer(
        shape=shape,
        batch_size=batch_size,
        dtype=dtype,
        sparse=sparse,
        batch_shape=batch_shape,
        name=name or _input_name(),
        optional=optional,
    )
    return layer._output_tensor
