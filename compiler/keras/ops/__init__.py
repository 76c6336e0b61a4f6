"""The frontend's op set (``keras.ops``): primitives with gradients, and ops composed of them.

Every op accepts ``Tensor``s, numpy arrays or Python numbers and returns a ``Tensor``.
Convolution and pooling primitives live in ``compiler.keras.ops.conv`` / ``pool``.
"""

from compiler.keras.ops._core import (
    PRIMITIVES,
    Primitive,
    Tensor,
    as_tensor,
    is_grad_enabled,
    no_grad,
    primitive,
)
from compiler.keras.ops.conv import conv, depthwise_conv, separable_conv
from compiler.keras.ops.conv_pool import conv_max_pool
from compiler.keras.ops.einsum import einsum
from compiler.keras.ops.gru import gru_scan
from compiler.keras.ops.lstm import lstm_scan
from compiler.keras.ops.math import (
    abs,
    add,
    cast,
    clip,
    divide,
    exp,
    log,
    maximum,
    minimum,
    multiply,
    negative,
    power,
    sign,
    sqrt,
    square,
    stop_gradient,
    subtract,
    where,
)
from compiler.keras.ops.nn import (
    elu,
    gelu,
    hard_sigmoid,
    hard_silu,
    leaky_relu,
    log_softmax,
    matmul,
    mish,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from compiler.keras.ops.normalization import fused_batch_norm
from compiler.keras.ops.pool import average_pool, max_pool
from compiler.keras.ops.reduce import argmax, logsumexp, max, mean, min, sum
from compiler.keras.ops.rnn import simple_rnn_scan
from compiler.keras.ops.shape import (
    broadcast_to,
    concatenate,
    expand_dims,
    flip,
    getitem,
    pad,
    reshape,
    split,
    squeeze,
    stack,
    take,
    transpose,
)

# Keras's aliases.
hard_swish = hard_silu
swish = silu


def convert_to_tensor(x, dtype=None):
    return as_tensor(x, dtype=dtype)


def convert_to_numpy(x):
    return x.data if isinstance(x, Tensor) else x


def ones_like(x):
    from compiler.keras.backend import xp

    return Tensor(xp.ones_like(as_tensor(x).data))


def zeros_like(x):
    from compiler.keras.backend import xp

    return Tensor(xp.zeros_like(as_tensor(x).data))


__all__ = [
    "PRIMITIVES",
    "Primitive",
    "Tensor",
    "as_tensor",
    "is_grad_enabled",
    "no_grad",
    "primitive",
    "abs",
    "add",
    "cast",
    "clip",
    "divide",
    "exp",
    "log",
    "maximum",
    "minimum",
    "multiply",
    "negative",
    "power",
    "sign",
    "sqrt",
    "square",
    "stop_gradient",
    "subtract",
    "where",
    "elu",
    "gelu",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "mish",
    "selu",
    "swish",
    "leaky_relu",
    "log_softmax",
    "matmul",
    "relu",
    "relu6",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "tanh",
    "argmax",
    "logsumexp",
    "max",
    "mean",
    "min",
    "sum",
    "broadcast_to",
    "concatenate",
    "expand_dims",
    "flip",
    "getitem",
    "pad",
    "reshape",
    "split",
    "squeeze",
    "stack",
    "take",
    "transpose",
    "convert_to_tensor",
    "convert_to_numpy",
    "ones_like",
    "zeros_like",
    "conv",
    "einsum",
    "conv_max_pool",
    "depthwise_conv",
    "separable_conv",
    "average_pool",
    "max_pool",
    "fused_batch_norm",
    "simple_rnn_scan",
    "lstm_scan",
    "gru_scan",
]

# On symbolic tensors (a functional model being built) these ops record Keras operation
# nodes instead of computing (``_symbolic``).
from compiler.keras.ops._symbolic import symbolic_ops  # noqa: E402

globals().update(symbolic_ops(globals()))
