"""Reverse-mode autodiff: the ``Tensor`` and the ``Primitive`` every op is built from.

A primitive has one forward rule (numpy arrays in, array and saved context out) and one gradient
rule (saved context and output gradient in, one gradient per tensor input out). Composite ops
(softmax cross-entropy, activations, losses) are written with primitives and need no gradient
code. ``Tensor.backward()`` is a topological sort plus the chain rule, as in micrograd.
"""

import contextlib
import threading

from compiler.keras.backend import xp
from compiler.keras.ops._operators import OperatorMethods

__all__ = ["Tensor", "Primitive", "primitive", "as_tensor", "no_grad", "is_grad_enabled"]

_STATE = threading.local()


def is_grad_enabled() -> bool:
    return getattr(_STATE, "grad_enabled", True)


@contextlib.contextmanager
def no_grad():
    """Runs ops without recording them for ``backward()`` (inference, metrics)."""
    previous = is_grad_enabled()
    _STATE.grad_enabled = False
    try:
        yield
    finally:
        _STATE.grad_enabled = previous


class Tensor(OperatorMethods):
    """An array that remembers the primitive that made it, for ``backward()``."""

    __array_priority__ = 100
    __slots__ = ("data", "grad", "requires_grad", "_parents", "_op", "_ctx", "_keras_mask")

    def __init__(self, data, requires_grad=False, _parents=(), _op=None, _ctx=None):
        self.data = data
        self.grad = None
        self.requires_grad = requires_grad
        self._parents = _parents
        self._op = _op
        self._ctx = _ctx
        self._keras_mask = None

    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)

    def numpy(self):
        return self.data

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        return f"Tensor(shape={self.shape}, dtype={self.dtype})"

    def backward(self, grad=None):
        """Accumulates d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad."""
        if grad is None:
            grad = xp.ones_like(self.data)
        order = _topological_order(self)
        grads = {id(self): grad}
        for node in reversed(order):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if node._op is None:
                node.grad = g if node.grad is None else node.grad + g
                continue
            parent_grads = node._op.backward(node._ctx, g)
            for parent, pg in zip(node._parents, parent_grads, strict=True):
                if pg is None or not parent.requires_grad:
                    continue
                pg = _unbroadcast(pg, parent.data.shape)
                key = id(parent)
                grads[key] = pg if key not in grads else grads[key] + pg

    # Comparisons give boolean constants: masks and conditions carry no gradient.
    def __gt__(self, other):
        return Tensor(self.data > _raw(other))

    def __ge__(self, other):
        return Tensor(self.data >= _raw(other))

    def __lt__(self, other):
        return Tensor(self.data < _raw(other))

    def __le__(self, other):
        return Tensor(self.data <= _raw(other))


def _raw(value):
    return value.data if isinstance(value, Tensor) else value


def _topological_order(root):
    # Iterative DFS: recurrent layers unrolled over hundreds of steps would overflow recursion.
    order, visited, stack = [], set(), [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in node._parents:
            if parent.requires_grad and id(parent) not in visited:
                stack.append((parent, False))
    return order


def _unbroadcast(grad, shape):
    """Sums ``grad`` over the axes that broadcasting added or stretched to reach ``shape``."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def as_tensor(value, dtype=None):
    """Wraps arrays and Python numbers as constant tensors; returns tensors unchanged."""
    if isinstance(value, Tensor):
        return value
    return Tensor(xp.asarray(value, dtype=dtype))


class Primitive:
    """One op with a forward rule and a gradient rule.

    ``forward(*arrays, **attrs) -> (out, ctx)``; ``backward(ctx, grad_out) -> grads``, one per
    tensor argument (``None`` where no gradient flows).
    """

    def __init__(self, name, forward):
        self.name = name
        self.forward = forward
        self.backward = None

    def defgrad(self, backward):
        self.backward = backward
        return backward

    def __call__(self, *args, **attrs):
        tensors = _lift_scalars(args)
        out, ctx = self.forward(*(t.data for t in tensors), **attrs)
        if is_grad_enabled() and any(t.requires_grad for t in tensors):
            return Tensor(out, True, tensors, self, ctx)
        return Tensor(out)

    def __repr__(self):
        return f"Primitive({self.name})"


PRIMITIVES: dict[str, Primitive] = {}


def primitive(name):
    """Decorator registering a forward rule as a primitive; attach its gradient with defgrad."""

    def register(forward):
        prim = Primitive(name, forward)
        PRIMITIVES[name] = prim
        return prim

    return register


def _lift_scalars(args):
    # Python numbers and arrays take the dtype of the first float tensor argument, so a float32
    # model never silently computes in float64 because of a literal like 0.5.
    like = next(
        (a.data.dtype for a in args if isinstance(a, Tensor) and a.data.dtype.kind == "f"), None
    )
    out = []
    for a in args:
        if isinstance(a, Tensor):
            out.append(a)
        else:
            arr = xp.asarray(a)
            python_number = not isinstance(a, xp.ndarray) and arr.ndim == 0
            if (
                like is not None
                and arr.dtype != like
                and (arr.dtype.kind == "f" or (python_number and arr.dtype.kind in "iu"))
            ):
                arr = arr.astype(like)
            out.append(Tensor(arr))
    return tuple(out)
