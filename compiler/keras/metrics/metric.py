"""``Metric``: a stateful measure updated batch by batch (``update_state`` / ``result``)."""

from compiler.keras.backend import floatx, xp
from compiler.keras.variables import Variable

__all__ = ["Metric"]


class Metric:
    """Base class of metrics (Keras 3's ``keras.metrics.Metric``).

    Subclasses create their state with ``add_variable`` in ``__init__`` and implement
    ``update_state(y_true, y_pred, sample_weight=None)``, ``result()`` and, when the state is
    not all zeros initially, ``reset_state()``.

    Args:
        name: the name shown in logs (``"accuracy"``).
        dtype: dtype of the state and result, default ``floatx()``.
    """

    # "up" / "down" / None: whether larger values are better (EarlyStopping's mode="auto").
    _direction = None

    def __init__(self, name=None, dtype=None):
        self.name = name or _snake(type(self).__name__)
        self._dtype = str(xp.dtype(dtype or floatx()))
        self._variables = []

    @property
    def dtype(self):
        return self._dtype

    @property
    def variables(self):
        return list(self._variables)

    def add_variable(self, shape=(), initializer="zeros", dtype=None, name=None):
        value = xp.zeros(shape) if initializer == "zeros" else initializer
        variable = Variable(
            value,
            shape=shape,
            dtype=dtype or self._dtype,
            trainable=False,
            name=name or f"variable_{len(self._variables)}",
        )
        variable.path = f"{self.name}/{variable.name}"
        self._variables.append(variable)
        return variable

    def update_state(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement `update_state`.")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must implement `result`.")

    def reset_state(self):
        for variable in self._variables:
            variable.assign(xp.zeros(variable.shape, dtype=variable.dtype))

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self._dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def _snake(name):
    import re

    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()
