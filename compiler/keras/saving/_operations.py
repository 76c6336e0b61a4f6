"""Keras 3 operations recorded as nodes of functional graphs (``keras.src.ops.*``).

Real Keras writes an op applied to symbolic tensors as a graph node of its own: ``x + 3.0`` in
MobileNetV3's hard sigmoid is ``{"module": "keras.src.ops.numpy", "class_name": "Add",
"config": {"name": "add"}}`` called with ``args: [<tensor>, 3.0]``; ``ops.mean(x, axis=1)`` is
a ``Mean`` node whose config holds the constructor arguments (``{"name", "axis",
"keepdims"}``), and the mask of ``Embedding(mask_zero=True)`` is a ``NotEqual`` node. Keras
makes each config from the op's ``__init__`` arguments with their defaults, in order; the table
below lists them the same way, so our files load in Keras and Keras's load here.

These nodes are rebuilt as weightless layers from the fixed table (never from names in the
file); they are not saved in the weights file, so the weights walk skips them. Each runs the
frontend op of the same name, so training flows through it.
"""

import math

from compiler.keras import ops
from compiler.keras.backend import xp
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
    """A weightless node applying one Keras op to its arguments (see module docstring).

    Subclasses set ``function`` (the frontend op), ``params`` (constructor argument names and
    defaults, in Keras's order) and ``keras_module``.
    """

    keras_module = "keras.src.ops.numpy"
    params: dict = {}
    is_keras_operation = True

    def __init__(self, *args, name=None, **kwargs):
        names = list(self.params)
        if len(args) > len(names):
            raise TypeError(
                f"{type(self).__name__} takes at most {len(names)} positional arguments "
                f"({names}). Received: {args!r}"
            )
        unknown = sorted(set(kwargs) - set(names))
        if unknown:
            raise TypeError(
                f"Unrecognized arguments for Keras operation {type(self).__name__}: {unknown}; "
                f"it takes {names}"
            )
        values = dict(self.params, **dict(zip(names, args)), **kwargs)
        missing = [k for k, v in values.items() if v is _REQUIRED]
        if missing:
            raise TypeError(f"Keras operation {type(self).__name__} needs arguments {missing}")
        super().__init__(name=name)
        self.arguments = values
        self.built = True

    def call(self, *args):
        return type(self).function(*args, **self.arguments)

    def compute_output_spec(self, *args, **kwargs):
        # Shapes come from running the op on zeros: log(0) or 1/0 there are expected.
        with xp.errstate(all="ignore"):
            return super().compute_output_spec(*args, **kwargs)

    def get_config(self):
        return {"name": self.name, **self.arguments}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


_REQUIRED = object()


def _reduce(fn):
    def reduce(x, axis=None, keepdims=False, initial=None):
        if initial is not None:
            raise ValueError(f"`initial` of a max/min node is not supported. Received: {initial}")
        return fn(x, axis=_axis(axis), keepdims=keepdims)

    return reduce


def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def _var(x, axis=None, keepdims=False):
    x = ops.as_tensor(x)
    centered = x - ops.mean(x, axis=_axis(axis), keepdims=True)
    return ops.mean(ops.square(centered), axis=_axis(axis), keepdims=keepdims)


def _getitem(x, key):
    key = tuple(key) if isinstance(key, list) else key
    for part in key if isinstance(key, tuple) else (key,):
        if not (part is None or part is Ellipsis or isinstance(part, (int, slice))):
            # Basic indexing only: a file never makes us gather with arrays it supplies.
            raise ValueError(f"GetItem node: unsupported index {part!r}; use ints and slices")
    return ops.getitem(x, key)


def _normal_cdf_erf(x):
    # erf(x) = 2 * Phi(x * sqrt(2)) - 1, through the normal CDF primitive of exact GELU.
    from compiler.keras.ops.nn import _normal_cdf

    return 2.0 * _normal_cdf(ops.as_tensor(x) * math.sqrt(2.0)) - 1.0


# class name -> (Keras module, frontend function, constructor params with defaults)
_NUMPY, _NN, _MATH, _CORE = (f"keras.src.ops.{m}" for m in ("numpy", "nn", "math", "core"))
_TABLE = {
    "NotEqual": (_NUMPY, _compare(lambda x, y: x != y), {}),
    "Equal": (_NUMPY, _compare(lambda x, y: x == y), {}),
    "Greater": (_NUMPY, _compare(lambda x, y: x > y), {}),
    "GreaterEqual": (_NUMPY, _compare(lambda x, y: x >= y), {}),
    "Less": (_NUMPY, _compare(lambda x, y: x < y), {}),
    "LessEqual": (_NUMPY, _compare(lambda x, y: x <= y), {}),
    "Add": (_NUMPY, ops.add, {}),
    "Subtract": (_NUMPY, ops.subtract, {}),
    "Multiply": (_NUMPY, ops.multiply, {}),
    "Divide": (_NUMPY, ops.divide, {}),
    "TrueDivide": (_NUMPY, ops.divide, {}),
    "Maximum": (_NUMPY, ops.maximum, {}),
    "Minimum": (_NUMPY, ops.minimum, {}),
    "Power": (_NUMPY, ops.power, {}),
    "Negative": (_NUMPY, ops.negative, {}),
    "Absolute": (_NUMPY, ops.abs, {}),
    "Abs": (_NUMPY, ops.abs, {}),
    "Sqrt": (_NUMPY, ops.sqrt, {}),
    "Square": (_NUMPY, ops.square, {}),
    "Exp": (_NUMPY, ops.exp, {}),
    "Log": (_NUMPY, ops.log, {}),
    "Tanh": (_NUMPY, ops.tanh, {}),
    "Reciprocal": (_NUMPY, lambda x: 1.0 / ops.as_tensor(x), {}),
    "Clip": (
        _NUMPY,
        lambda x, x_min, x_max: ops.clip(x, x_min, x_max),
        {"x_min": _REQUIRED, "x_max": _REQUIRED},
    ),
    "Matmul": (_NUMPY, ops.matmul, {}),
    "Transpose": (_NUMPY, lambda x, axes: ops.transpose(x, _axis(axes)), {"axes": None}),
    "Reshape": (
        _NUMPY,
        lambda x, newshape: ops.reshape(x, tuple(newshape)),
        {"newshape": _REQUIRED},
    ),
    "Mean": (
        _NUMPY,
        lambda x, axis, keepdims: ops.mean(x, _axis(axis), keepdims),
        {"axis": None, "keepdims": False},
    ),
    "Sum": (
        _NUMPY,
        lambda x, axis, keepdims: ops.sum(x, _axis(axis), keepdims),
        {"axis": None, "keepdims": False},
    ),
    "Max": (_NUMPY, _reduce(ops.max), {"axis": None, "keepdims": False, "initial": None}),
    "Min": (_NUMPY, _reduce(ops.min), {"axis": None, "keepdims": False, "initial": None}),
    "Var": (_NUMPY, _var, {"axis": None, "keepdims": False}),
    "Std": (
        _NUMPY,
        lambda x, axis, keepdims: ops.sqrt(_var(x, axis, keepdims)),
        {"axis": None, "keepdims": False},
    ),
    "Concatenate": (_NUMPY, lambda xs, axis: ops.concatenate(list(xs), axis=axis), {"axis": 0}),
    "Stack": (_NUMPY, lambda xs, axis: ops.stack(list(xs), axis=axis), {"axis": 0}),
    "ExpandDims": (_NUMPY, ops.expand_dims, {"axis": _REQUIRED}),
    "Squeeze": (_NUMPY, lambda x, axis: ops.squeeze(x, _axis(axis)), {"axis": None}),
    "Split": (_NUMPY, ops.split, {"indices_or_sections": _REQUIRED, "axis": 0}),
    "GetItem": (_NUMPY, _getitem, {}),
    "Relu": (_NN, ops.relu, {}),
    "Relu6": (_NN, ops.relu6, {}),
    "Sigmoid": (_NN, ops.sigmoid, {}),
    "HardSigmoid": (_NN, ops.hard_sigmoid, {}),
    "HardSilu": (_NN, ops.hard_silu, {}),
    "Silu": (_NN, ops.silu, {}),
    "Gelu": (_NN, ops.gelu, {"approximate": True}),
    "LeakyRelu": (_NN, ops.leaky_relu, {"negative_slope": 0.2}),
    "Elu": (_NN, ops.elu, {"alpha": 1.0}),
    "Selu": (_NN, ops.selu, {}),
    "Softplus": (_NN, ops.softplus, {}),
    "Softmax": (_NN, ops.softmax, {"axis": -1}),
    "LogSoftmax": (_NN, ops.log_softmax, {"axis": -1}),
    "Rsqrt": (_MATH, lambda x: 1.0 / ops.sqrt(x), {}),
    "Erf": (_MATH, _normal_cdf_erf, {}),
    "Cast": (_CORE, ops.cast, {"dtype": _REQUIRED}),
}


def _operation(name, module, function, params):
    return type(
        name,
        (KerasOperation,),
        {
            "function": staticmethod(function),
            "params": params,
            "keras_module": module,
            "__doc__": f"Keras's ``{name}`` graph node ({module}).",
        },
    )


OPERATIONS = {name: _operation(name, *entry) for name, entry in _TABLE.items()}


def is_operation(obj):
    return isinstance(obj, KerasOperation)
