"""Keras ops called on symbolic tensors record operation nodes, as in Keras 3.

``keras.ops.add(x, 3.0)``, ``x + 3.0`` or ``keras.ops.mean(x, axis=1)`` on a ``KerasTensor``
(a functional model being built) make a node of the matching Keras operation class
(``compiler.keras.saving._operations``: ``Add``, ``Mean``...), the node real Keras writes in
``config.json``. The call's arguments are bound to the frontend function's signature (its
defaults included, so the node computes what the eager call computes); the tensor arguments
are the node's call arguments, the others its config. On real tensors the ops run as before:
the wrapper only looks for a ``KerasTensor`` among the arguments.
"""

from __future__ import annotations

import functools
import inspect

__all__ = ["symbolic_ops", "register_symbolic_type"]

# frontend op -> (Keras operation class, its call arguments, renamed config arguments)
_NODES = {
    "add": ("Add", ("a", "b"), {}),
    "subtract": ("Subtract", ("a", "b"), {}),
    "multiply": ("Multiply", ("a", "b"), {}),
    "divide": ("Divide", ("a", "b"), {}),
    "maximum": ("Maximum", ("a", "b"), {}),
    "minimum": ("Minimum", ("a", "b"), {}),
    "power": ("Power", ("a", "b"), {}),
    "matmul": ("Matmul", ("a", "b"), {}),
    "negative": ("Negative", ("a",), {}),
    "abs": ("Absolute", ("a",), {}),
    "sqrt": ("Sqrt", ("a",), {}),
    "square": ("Square", ("a",), {}),
    "exp": ("Exp", ("a",), {}),
    "log": ("Log", ("a",), {}),
    "tanh": ("Tanh", ("a",), {}),
    "sigmoid": ("Sigmoid", ("a",), {}),
    "relu": ("Relu", ("x",), {}),
    "relu6": ("Relu6", ("x",), {}),
    "hard_sigmoid": ("HardSigmoid", ("a",), {}),
    "hard_silu": ("HardSilu", ("a",), {}),
    "hard_swish": ("HardSilu", ("a",), {}),
    "silu": ("Silu", ("x",), {}),
    "swish": ("Silu", ("x",), {}),
    "selu": ("Selu", ("x",), {}),
    "softplus": ("Softplus", ("a",), {}),
    "gelu": ("Gelu", ("x",), {}),
    "leaky_relu": ("LeakyRelu", ("x",), {}),
    "elu": ("Elu", ("x",), {}),
    "softmax": ("Softmax", ("x",), {}),
    "log_softmax": ("LogSoftmax", ("x",), {}),
    "clip": ("Clip", ("a",), {"lo": "x_min", "hi": "x_max"}),
    "reshape": ("Reshape", ("x",), {"new_shape": "newshape"}),
    "transpose": ("Transpose", ("x",), {}),
    "mean": ("Mean", ("x",), {}),
    "sum": ("Sum", ("x",), {}),
    "max": ("Max", ("x",), {}),
    "min": ("Min", ("x",), {}),
    "concatenate": ("Concatenate", ("xs",), {}),
    "stack": ("Stack", ("xs",), {}),
    "expand_dims": ("ExpandDims", ("x",), {}),
    "squeeze": ("Squeeze", ("x",), {}),
    "split": ("Split", ("x",), {}),
    "getitem": ("GetItem", ("x", "index"), {}),  # Keras writes the index as a call argument
}


# The symbolic tensor class (``KerasTensor``), registered by ``layers.layer`` when it defines it
# (that module imports this package, so this one cannot import it at load time). A set checked
# by type keeps the eager path to a few tens of nanoseconds per argument.
_SYMBOLIC_TYPES: set = set()


def register_symbolic_type(cls) -> None:
    _SYMBOLIC_TYPES.add(cls)


def _is_symbolic(value) -> bool:
    kind = type(value)
    if kind in _SYMBOLIC_TYPES:
        return True
    return (kind is list or kind is tuple) and any(type(v) in _SYMBOLIC_TYPES for v in value)


def _signature(fn):
    # Primitives wrap their forward rule; functions are their own signature.
    return inspect.signature(getattr(fn, "forward", fn))


def _wrap(fn, class_name: str, call_args: tuple, renames: dict):
    signature = _signature(fn)
    symbolic = _SYMBOLIC_TYPES
    label = getattr(fn, "__name__", None) or getattr(fn, "name", class_name)

    def record(args, kwargs):
        from compiler.keras.saving._operations import OPERATIONS

        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        values = dict(bound.arguments)
        inputs = [values.pop(name) for name in call_args]
        node = OPERATIONS[class_name]
        params = {}
        for key, value in values.items():
            default = signature.parameters[key].default
            if renames.get(key, key) in node.params:
                params[renames.get(key, key)] = value
            elif value is not default and value != default:
                # e.g. ops.relu(x, max_value=6): Keras's Relu node has no such argument.
                raise TypeError(
                    f"keras.ops.{label} on a symbolic tensor: argument {key}={value!r} has no "
                    f"place in Keras's {class_name} node"
                )
        return node(**params)(*inputs)

    @functools.wraps(fn)
    def op(*args, **kwargs):
        for a in args:
            kind = type(a)
            if kind in symbolic or ((kind is list or kind is tuple) and _is_symbolic(a)):
                return record(args, kwargs)
        if kwargs and any(_is_symbolic(v) for v in kwargs.values()):
            return record(args, kwargs)
        return fn(*args, **kwargs)

    op.__name__ = op.__qualname__ = label  # a primitive has no __name__ for wraps to copy
    return op


def symbolic_ops(namespace: dict) -> dict:
    """The ops of ``namespace`` (``compiler.keras.ops``) that have a Keras operation class,
    wrapped so that symbolic arguments record a node."""
    return {
        name: _wrap(namespace[name], *_NODES[name])
        for name in _NODES
        if name in namespace and callable(namespace[name])
    }
