"""Keras 3 operations recorded as nodes of functional graphs (``keras.src.ops.*``).

Real Keras writes an op applied to symbolic tensors as a graph node of its own: the mask of
``Embedding(mask_zero=True)`` is a ``NotEqual`` node (``{"module": "keras.src.ops.numpy",
"class_name": "NotEqual", "config": {"name": "not_equal"}}``) whose output goes to the next
layer's ``mask``. These nodes are rebuilt as weightless layers from the fixed table below (never
from the file); they are not saved in the weights file and are not among ``model.layers`` in
Keras, so the weights walk skips them.
"""

from compiler.keras import ops
from compiler.keras.layers.layer import Layer
from compiler.keras.ops import Tensor

__all__ = ["KerasOperation", "OPERATIONS", "is_operation"]


def _compare(fn):
    def compare(x, y):
        x = x.data if isinstance(x, Tensor) else x
        y = y.data if isinstance(y, Tensor) else y
        return Tensor(fn(x, y))  # a boolean mask: no gradient flows through comparisons

    return compare


class KerasOperation(Layer):
    """A weightless node applying one Keras op to its arguments (see module docstring)."""

    keras_module = "keras.src.ops.numpy"

    def __init__(self, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.built = True

    def call(self, *args):
        return type(self).function(*args)

    def get_config(self):
        return {"name": self.name}


def _operation(name, function):
    return type(
        name,
        (KerasOperation,),
        {"function": staticmethod(function), "__doc__": f"Keras's ``{name}`` graph node."},
    )


OPERATIONS = {
    name: _operation(name, function)
    for name, function in {
        "NotEqual": _compare(lambda x, y: x != y),
        "Equal": _compare(lambda x, y: x == y),
        "Greater": _compare(lambda x, y: x > y),
        "GreaterEqual": _compare(lambda x, y: x >= y),
        "Less": _compare(lambda x, y: x < y),
        "LessEqual": _compare(lambda x, y: x <= y),
        "Add": ops.add,
        "Subtract": ops.subtract,
        "Multiply": ops.multiply,
        "Divide": ops.divide,
        "Maximum": ops.maximum,
        "Minimum": ops.minimum,
    }.items()
}


def is_operation(obj):
    return isinstance(obj, KerasOperation)
