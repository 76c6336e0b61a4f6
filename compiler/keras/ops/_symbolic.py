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

__all__ = ["symbolic_ops"]

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


def _is_symbolic(value) -> bool:
    from compiler.keras.layers.layer import KerasTensor

    if isinstance(value, KerasTensor):
        return True
    return isinstance(value, (list, tuple)) and any(_is_symbolic(v) for v in value)


def _signature(fn):
    # Primitives wrap their forward rule; functions are their own signature.
    return inspect.signature(getattr(fn, "forward", fn))


def _wrap(fn, class_name: str, call_args: tuple, renames: dict):
    signature = _signature(fn)

    @functools.wraps(fn)
    def op(*args, **kwargs):
        if not (
            any(_is_symbolic(a) for a in args) or any(_is_symbolic(v) for v in kwargs.values())
        ):
            return fn(*args, **kwargs)
        from compiler.keras.saving._operations import OPERATIONS

        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        values = dict(bound.arguments)
        inputs = [values.pop(name) for name in call_args]
        node = OPERATIONS[class_name]
        params = {}
        for key, value in values.items():
            if renames.get(key, key) in node.params:
                params[renames.get(key, key)] = value
            elif value is not signature.parameters[key].default and value != (
                signature.parameters[key].default
            ):
                # e.g. ops.relu(x, max_value=6): Keras's Relu node has no such argument.
                raise TypeError(
                    f"keras.ops.{fn.__name__ if hasattr(fn, '__name__') else class_name} on a "
                    f"symbolic tensor: argument {key}={value!r} has no Keras {class_name} node"
                )
        return node(**params)(*inputs)

    return op


def symbolic_ops(namespace: dict) -> dict:
    """The ops of ``namespace`` (``compiler.keras.ops``) that have a Keras operation class,
    wrapped so that symbolic arguments record a node."""
    return {
        name: _wrap(namespace[name], *_NODES[name])
        for name in _NODES
        if name in namespace and callable(namespace[name])
    }
