"""Lowering of Keras operation nodes (``x + 3.0``, ``keras.ops.mean(x, axis=1)``...).

A node's arguments are its recorded call arguments: symbolic tensors (IR values here) and
Python constants (``3.0``, ``[slice(1, 3)]``), plus its config (``axis``, ``keepdims``...). Each
op becomes TFLite-style IR ops:

* Add / Subtract / Multiply / Maximum / Minimum: ADD, SUB, MUL, MAXIMUM, MINIMUM, constants as
  float32 constants; Divide: MUL by the reciprocal when the divisor is a constant (TFLite's int8
  kernels have no DIV), DIV otherwise; Power by 2, 3, 0.5, -1: MUL, SQRT, DIV;
* unary math: NEG, ABS, SQRT, RSQRT, SQUARE, EXP, LOG, TANH, DIV(1, x) for Reciprocal;
* activations as the named activations (``_activations``), Clip as RELU6 / RELU_N1_TO_1 or
  MAXIMUM / MINIMUM;
* Reshape / ExpandDims / Squeeze: RESHAPE; Transpose: TRANSPOSE; Concatenate: CONCATENATION;
  Stack: RESHAPE each, then CONCATENATION; GetItem (unit steps) and Split: SLICE (+ RESHAPE
  where an int index drops an axis); Mean / Sum / Max / Min: MEAN, SUM, REDUCE_MAX,
  REDUCE_MIN; Var / Std: MEAN, SUB, MUL, MEAN (, SQRT);
* Matmul: FULLY_CONNECTED when the right operand is a constant matrix, BATCH_MATMUL otherwise.
"""

from __future__ import annotations

import numpy as np

from compiler.ir import Value
from compiler.ir.ops import OPS
from compiler.lower._activations import OpBuilder, elu_with_alpha, lower_named_activation
from compiler.lower.context import LayerCall

__all__ = ["lower_operation", "is_operation_node"]


def is_operation_node(layer) -> bool:
    return bool(getattr(layer, "is_keras_operation", False))


def lower_operation(ctx, layer, node, inputs: list[Value]) -> list[Value]:
    """IR values of the outputs of Keras operation node ``node`` (see module docstring)."""
    values = {id(t): v for t, v in zip(node.input_tensors, inputs)}

    def bind(x):
        if isinstance(x, (list, tuple)):
            return [bind(v) for v in x]
        return values.get(id(x), x)

    config = layer.get_config()
    call = LayerCall(
        layer=layer,
        config=config,
        weights=[],
        inputs=inputs,
        out_shapes=[tuple(t.shape) for t in node.output_tensors],
    )
    args = [bind(a) for a in node.args]
    kind = type(layer).__name__
    fn = _LOWERINGS.get(kind)
    if fn is None:
        raise call.unsupported(
            f"Keras operation {kind} is not supported by the compiler; supported operations: "
            f"{', '.join(sorted(_LOWERINGS))}"
        )
    params = {k: v for k, v in config.items() if k != "name"}
    out = fn(_Op(ctx, call), *args, **params)
    return out if isinstance(out, list) else [out]


class _Op(OpBuilder):
    """A builder for one node: its call (for errors, output shapes) and constants."""

    def __init__(self, ctx, call: LayerCall):
        super().__init__(ctx, call.name)
        self.call = call
        self.out_shape = call.out_shapes[0]

    def value(self, x, tag: str) -> Value:
        if isinstance(x, Value):
            return x
        if isinstance(x, (bool, str)) or x is None:
            raise self.call.unsupported(f"argument {x!r} is not a number or a tensor")
        return self.ctx.weight(f"{self.name}/{tag}", np.asarray(x, dtype=np.float32))

    def shaped(self, type_: str, inputs, shape, step=None, **attrs) -> Value:
        name = self.name if step is None else f"{self.name}/{step}"
        return self.ctx.op(type_, inputs, shape, name, **attrs)

    def int_const(self, tag: str, data) -> Value:
        return self.ctx.const(f"{self.name}/{tag}", np.asarray(data, dtype=np.int32))

    def rank(self) -> int:
        return len(self.call.inputs[0].shape)


def _binary(type_):
    def lower(b: _Op, x, y):
        return b.shaped(type_, [b.value(x, "x"), b.value(y, "y")], b.out_shape, activation="NONE")

    return lower


def _binary_plain(type_):
    def lower(b: _Op, x, y):
        return b.shaped(type_, [b.value(x, "x"), b.value(y, "y")], b.out_shape)

    return lower


def _divide(b: _Op, x, y):
    if not isinstance(y, Value):  # x / c == x * (1 / c) up to one rounding
        reciprocal = 1.0 / np.asarray(y, dtype=np.float64)
        return b.shaped("MUL", [b.value(x, "x"), b.value(reciprocal, "reciprocal")], b.out_shape)
    return b.shaped("DIV", [b.value(x, "x"), y], b.out_shape)


def _power(b: _Op, x, y):
    if isinstance(y, Value) or not isinstance(x, Value) or np.ndim(y) != 0:
        raise b.call.unsupported("only a tensor to a constant scalar power is supported")
    p = float(y)
    if p == 1.0:
        return b.shaped("IDENTITY", [x], b.out_shape)
    if p == 2.0:
        return b.shaped("MUL", [x, x], b.out_shape)
    if p == 3.0:
        return b.shaped("MUL", [b.shaped("MUL", [x, x], x.shape, "square"), x], b.out_shape)
    if p == 0.5:
        return b.shaped("SQRT", [x], b.out_shape)
    if p == -1.0:
        return b.shaped("DIV", [b.value(1.0, "one"), x], b.out_shape)
    raise b.call.unsupported(f"power {p} is not supported; supported: 0.5, 1, 2, 3, -1")


def _unary(type_):
    return lambda b, x: b.shaped(type_, [x], b.out_shape)


def _activation(name):
    return lambda b, x: lower_named_activation(b.ctx, b.call, x, name, b.name)


def _clip(b: _Op, x, x_min, x_max):
    if (x_min, x_max) == (0, 6):
        return b.shaped("RELU6", [x], b.out_shape)
    if (x_min, x_max) == (-1, 1):
        return b.shaped("RELU_N1_TO_1", [x], b.out_shape)
    low = b.shaped("MAXIMUM", [x, b.value(x_min, "min")], b.out_shape, "max")
    return b.shaped("MINIMUM", [low, b.value(x_max, "max")], b.out_shape)


def _last_axis(name):
    def lower(b: _Op, x, axis=-1):
        if axis not in (-1, b.rank() - 1):
            raise b.call.unsupported(f"{name} over axis={axis} is not supported; only the last")
        return lower_named_activation(b.ctx, b.call, x, name, b.name)

    return lower


def _reshape_to_output(b: _Op, x, **_):
    out = b.out_shape
    if any(d is None for d in out[1:]):
        raise b.call.unsupported(f"the output shape {out} has unknown non-batch dimensions")
    shape = b.int_const("shape", [-1 if out[0] is None else out[0], *out[1:]])
    return b.shaped("RESHAPE", [x, shape], out)


def _reshape(b: _Op, x, newshape):
    dims = [int(d) for d in newshape]
    if sum(d == -1 for d in dims) > 1:
        raise b.call.unsupported(f"newshape {dims} has more than one -1")
    return b.shaped("RESHAPE", [x, b.int_const("shape", dims)], b.out_shape)


def _transpose(b: _Op, x, axes=None):
    perm = list(range(b.rank()))[::-1] if axes is None else [int(a) % b.rank() for a in axes]
    return b.shaped("TRANSPOSE", [x, b.int_const("perm", perm)], b.out_shape)


def _axes(b: _Op, axis) -> list[int]:
    if axis is None:
        return list(range(b.rank()))
    axis = axis if isinstance(axis, (list, tuple)) else [axis]
    return sorted(int(a) % b.rank() for a in axis)


def _reduce(type_):
    def lower(b: _Op, x, axis=None, keepdims=False, initial=None):
        if initial is not None:
            raise b.call.unsupported(f"initial={initial} is not supported")
        axes = b.int_const("axes", _axes(b, axis))
        return b.shaped(type_, [x, axes], b.out_shape, keep_dims=bool(keepdims))

    return lower


def _var(b: _Op, x, axis=None, keepdims=False, root=False):
    axes = _axes(b, axis)
    kept = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
    mean = b.shaped("MEAN", [x, b.int_const("axes", axes)], kept, "mean", keep_dims=True)
    centered = b.shaped("SUB", [x, mean], x.shape, "centered", activation="NONE")
    squared = b.shaped("MUL", [centered, centered], x.shape, "squared", activation="NONE")
    step = "var" if root else None
    mean_axes = b.int_const("axes", axes)
    var = b.shaped("MEAN", [squared, mean_axes], b.out_shape, step, keep_dims=bool(keepdims))
    return b.shaped("SQRT", [var], b.out_shape) if root else var


def _concatenate(b: _Op, xs, axis=0):
    values = [b.value(x, f"part{i}") for i, x in enumerate(xs)]
    return b.shaped("CONCATENATION", values, b.out_shape, axis=int(axis) % len(b.out_shape))


def _stack(b: _Op, xs, axis=0):
    out = b.out_shape
    axis = int(axis) % len(out)
    piece = tuple(1 if i == axis else d for i, d in enumerate(out))
    if any(d is None for d in piece[1:]):
        raise b.call.unsupported(f"the output shape {out} has unknown non-batch dimensions")
    dims = b.int_const("shape", [-1 if piece[0] is None else piece[0], *piece[1:]])
    parts = [
        b.shaped("RESHAPE", [b.value(x, f"part{i}"), dims], piece, f"expand{i}")
        for i, x in enumerate(xs)
    ]
    return b.shaped("CONCATENATION", parts, out, axis=axis)


def _slice(b: _Op, x, begin, size, shape, step=None):
    tag = step or "slice"
    begin_v = b.int_const(f"{tag}/begin", begin)
    size_v = b.int_const(f"{tag}/size", size)
    return b.shaped("SLICE", [x, begin_v, size_v], shape, step)


def _getitem(b: _Op, x, key):
    key = list(key) if isinstance(key, (list, tuple)) else [key]
    if any(k is None or k is Ellipsis for k in key) or len(key) > x.rank:
        raise b.call.unsupported(f"index {key!r}: only ints and slices, one per axis")
    begin, size, dropped = [], [], False
    for axis, dim in enumerate(x.shape):
        k = key[axis] if axis < len(key) else slice(None)
        if isinstance(k, int):
            if dim is None:
                raise b.call.unsupported("an int index into the batch axis is not supported")
            begin.append(k % dim)
            size.append(1)
            dropped = True
            continue
        if k.step not in (None, 1):
            raise b.call.unsupported(f"slice step {k.step} is not supported; only 1")
        if dim is None:
            if (k.start, k.stop) not in ((None, None), (0, None)):
                raise b.call.unsupported("slicing the batch axis is not supported")
            begin.append(0)
            size.append(-1)
            continue
        start, stop, _ = k.indices(dim)
        begin.append(start)
        size.append(max(stop - start, 0))
    if not dropped:
        return _slice(b, x, begin, size, b.out_shape)
    # The slice keeps rank (size 1 where an int indexed); RESHAPE then drops those axes.
    kept = tuple(d if n == -1 else n for d, n in zip(x.shape, size))
    sliced = _slice(b, x, begin, size, kept, "slice")
    return _reshape_to_output(b, sliced)


def _split(b: _Op, x, indices_or_sections, axis=0):
    axis = int(axis) % x.rank
    n = x.shape[axis]
    if n is None:
        raise b.call.unsupported("splitting the batch axis is not supported")
    if isinstance(indices_or_sections, int):
        bounds = list(range(0, n + 1, n // indices_or_sections))
    else:
        bounds = [0, *[int(i) for i in indices_or_sections], n]
    outs = []
    for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        begin = [lo if a == axis else 0 for a in range(x.rank)]
        size = [hi - lo if a == axis else -1 for a in range(x.rank)]
        outs.append(_slice(b, x, begin, size, b.call.out_shapes[i], f"part{i}"))
    return outs


def _matmul(b: _Op, x, y):
    if isinstance(y, Value) and y.is_const:
        y = y.data
    if not isinstance(y, Value):
        w = np.asarray(y, dtype=np.float32)
        if w.ndim != 2:
            raise b.call.unsupported("a constant right operand must be a matrix")
        weights = b.ctx.weight(f"{b.name}/kernel", w.T)
        keep = x.rank > 2
        return b.shaped(
            "FULLY_CONNECTED", [x, weights], b.out_shape, activation="NONE", keep_num_dims=keep
        )
    if "BATCH_MATMUL" not in OPS:
        raise b.call.unsupported("a product of two computed tensors needs BATCH_MATMUL")
    return b.shaped("BATCH_MATMUL", [b.value(x, "x"), y], b.out_shape)


def _cast(b: _Op, x, dtype):
    if str(dtype) != "float32":
        raise b.call.unsupported(f"cast to {dtype} is not supported; the compiled model is float32")
    return b.shaped("IDENTITY", [x], b.out_shape)


_LOWERINGS = {
    "Add": _binary("ADD"),
    "Subtract": _binary("SUB"),
    "Multiply": _binary("MUL"),
    "Divide": _divide,
    "TrueDivide": _divide,
    "Maximum": _binary_plain("MAXIMUM"),
    "Minimum": _binary_plain("MINIMUM"),
    "Power": _power,
    "Negative": _unary("NEG"),
    "Absolute": _unary("ABS"),
    "Abs": _unary("ABS"),
    "Sqrt": _unary("SQRT"),
    "Rsqrt": _unary("RSQRT"),
    "Square": _unary("SQUARE"),
    "Exp": _unary("EXP"),
    "Log": _unary("LOG"),
    "Tanh": _unary("TANH"),
    "Reciprocal": lambda b, x: b.shaped("DIV", [b.value(1.0, "one"), x], b.out_shape),
    "Relu": _activation("relu"),
    "Relu6": _activation("relu6"),
    "Sigmoid": _activation("sigmoid"),
    "HardSigmoid": _activation("hard_sigmoid"),
    "HardSilu": _activation("hard_silu"),
    "Silu": _activation("silu"),
    "Selu": _activation("selu"),
    "Softplus": _activation("softplus"),
    "Gelu": lambda b, x, approximate=True: b.shaped(
        "GELU", [x], b.out_shape, approximate=bool(approximate)
    ),
    "LeakyRelu": lambda b, x, negative_slope=0.2: b.shaped(
        "LEAKY_RELU", [x], b.out_shape, alpha=float(negative_slope)
    ),
    "Elu": lambda b, x, alpha=1.0: elu_with_alpha(b, x, float(alpha)),
    "Softmax": _last_axis("softmax"),
    "LogSoftmax": _last_axis("log_softmax"),
    "Clip": _clip,
    "Reshape": _reshape,
    "ExpandDims": _reshape_to_output,
    "Squeeze": _reshape_to_output,
    "Transpose": _transpose,
    "Mean": _reduce("MEAN"),
    "Sum": _reduce("SUM"),
    "Max": _reduce("REDUCE_MAX"),
    "Min": _reduce("REDUCE_MIN"),
    "Var": _var,
    "Std": lambda b, x, axis=None, keepdims=False: _var(b, x, axis, keepdims, root=True),
    "Concatenate": _concatenate,
    "Stack": _stack,
    "GetItem": _getitem,
    "Split": _split,
    "Matmul": _matmul,
    "Cast": _cast,
}
