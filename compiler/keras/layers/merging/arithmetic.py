"""Elementwise merge layers: ``Add``, ``Subtract``, ``Multiply``, ``Average``, ``Maximum``,
``Minimum`` (and their functional forms ``add``, ``subtract``...)."""

from compiler.keras import ops
from compiler.keras.layers.merging.base_merge import Merge

__all__ = [
    "Add",
    "Subtract",
    "Multiply",
    "Average",
    "Maximum",
    "Minimum",
    "add",
    "subtract",
    "multiply",
    "average",
    "maximum",
    "minimum",
]


def _fold(op, inputs):
    out = inputs[0]
    for x in inputs[1:]:
        out = op(out, x)
    return out


class Add(Merge):
    """Sum of a list of tensors of the same (or broadcastable) shape.

    Input shape:
        A list of tensors ``(batch_size, ...)``.

    Output shape:
        The broadcast shape.
    """

    def _merge_function(self, inputs):
        return _fold(ops.add, inputs)


class Subtract(Merge):
    """``inputs[0] - inputs[1]``: exactly two tensors.

    Input shape:
        A list of two tensors ``(batch_size, ...)``.

    Output shape:
        The broadcast shape.
    """

    def _check_list(self, shapes):
        super()._check_list(shapes)
        if len(shapes) != 2:
            raise ValueError(
                f"Layer {self.name} (Subtract) should be called on exactly 2 inputs. "
                f"Received {len(shapes)} inputs: input_shape={[tuple(s) for s in shapes]}"
            )

    def _merge_function(self, inputs):
        return ops.subtract(inputs[0], inputs[1])


class Multiply(Merge):
    """Elementwise product of a list of tensors.

    Input shape:
        A list of tensors ``(batch_size, ...)``.

    Output shape:
        The broadcast shape.
    """

    def _merge_function(self, inputs):
        return _fold(ops.multiply, inputs)


class Average(Merge):
    """Elementwise mean of a list of tensors.

    Input shape:
        A list of tensors ``(batch_size, ...)``.

    Output shape:
        The broadcast shape.
    """

    def _merge_function(self, inputs):
        return _fold(ops.add, inputs) * (1.0 / len(inputs))


class Maximum(Merge):
    """Elementwise maximum of a list of tensors.

    Input shape:
        A list of tensors ``(batch_size, ...)``.

    Output shape:
        The broadcast shape.
    """

    def _merge_function(self, inputs):
        return _fold(ops.maximum, inputs)


class Minimum(Merge):
    """Elementwise minimum of a list of tensors.

    Input shape:
        A list of tensors ``(batch_size, ...)``.

    Output shape:
        The broadcast shape.
    """

    def _merge_function(self, inputs):
        return _fold(ops.minimum, inputs)


def add(inputs, **kwargs):
    """Functional form of ``Add``."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """Functional form of ``Subtract``."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """Functional form of ``Multiply``."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """Functional form of ``Average``."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """Functional form of ``Maximum``."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """Functional form of ``Minimum``."""
    return Minimum(**kwargs)(inputs)
