"""``Variable``: a layer's weight, a leaf tensor that the optimizer updates in place."""

from compiler.keras.backend import floatx, xp
from compiler.keras.ops._core import Tensor

__all__ = ["Variable"]


class Variable(Tensor):
    """A named, assignable tensor owned by a layer (or an optimizer or a metric).

    Args:
        initializer: an initializer (callable ``(shape, dtype) -> array``) or an initial value.
        shape: the variable's shape; taken from the value when ``initializer`` is an array.
        dtype: dtype name, default ``floatx()``.
        trainable: whether gradients flow to it and optimizers update it.
        name: short name, e.g. ``"kernel"``; ``path`` is ``"<owner>/<name>"``.
        regularizer: callable ``value -> scalar`` whose result training adds to the loss.
        constraint: callable ``value -> value`` the optimizer applies after each update.
    """

    __slots__ = ("name", "path", "trainable", "regularizer", "constraint")

    def __init__(
        self,
        initializer,
        shape=None,
        dtype=None,
        trainable=True,
        name="variable",
        regularizer=None,
        constraint=None,
    ):
        dtype = xp.dtype(dtype or floatx())
        if callable(initializer):
            value = initializer(tuple(shape), dtype=dtype)
        else:
            value = xp.asarray(initializer, dtype=dtype)
            if shape is not None and tuple(value.shape) != tuple(shape):
                value = xp.broadcast_to(value, tuple(shape))
        super().__init__(xp.array(value, dtype=dtype), requires_grad=trainable)
        self.name = name
        self.path = name
        self.trainable = trainable
        self.regularizer = regularizer
        self.constraint = constraint

    @property
    def value(self):
        return self.data

    def assign(self, value):
        value = xp.asarray(value.data if isinstance(value, Tensor) else value)
        if value.shape != self.data.shape:
            raise ValueError(
                f"The shape of the target variable and the shape of the target value in "
                f"`variable.assign(value)` must match. variable.shape={self.data.shape}, "
                f"Received: value.shape={value.shape}. Target variable: {self.path}"
            )
        # A fresh array, not an in-place write: tensors recorded in the autodiff graph of the
        # current step may still reference the old value.
        self.data = value.astype(self.data.dtype, copy=True)

    def assign_add(self, delta):
        self.assign(self.data + xp.asarray(getattr(delta, "data", delta)))

    def assign_sub(self, delta):
        self.assign(self.data - xp.asarray(getattr(delta, "data", delta)))

    def __repr__(self):
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}>"
