"""Python's operators on eager tensors and symbolic Keras tensors alike.

Each operator is the Keras op of the same meaning (``x + 3.0`` is ``ops.add(x, 3.0)``): on an
eager ``Tensor`` it computes through the primitives (with their gradients), on a symbolic
``KerasTensor`` it records the Keras operation node that Keras 3 saves.
"""


def _ops():
    import compiler.keras.ops as ops

    return ops


class OperatorMethods:
    """Mixin giving a tensor class Python's arithmetic, matmul and indexing operators."""

    __slots__ = ()

    def __add__(self, other):
        return _ops().add(self, other)

    def __radd__(self, other):
        return _ops().add(other, self)

    def __sub__(self, other):
        return _ops().subtract(self, other)

    def __rsub__(self, other):
        return _ops().subtract(other, self)

    def __mul__(self, other):
        return _ops().multiply(self, other)

    def __rmul__(self, other):
        return _ops().multiply(other, self)

    def __truediv__(self, other):
        return _ops().divide(self, other)

    def __rtruediv__(self, other):
        return _ops().divide(other, self)

    def __neg__(self):
        return _ops().negative(self)

    def __pow__(self, exponent):
        return _ops().power(self, exponent)

    def __matmul__(self, other):
        return _ops().matmul(self, other)

    def __rmatmul__(self, other):
        return _ops().matmul(other, self)

    def __getitem__(self, index):
        return _ops().getitem(self, index)
