"""Activation functions by Keras name: ``get("relu")`` or the functions themselves."""

from compiler.keras import ops

__all__ = [
    "relu",
    "relu6",
    "sigmoid",
    "tanh",
    "softmax",
    "linear",
    "elu",
    "selu",
    "softplus",
    "softsign",
    "swish",
    "silu",
    "gelu",
    "leaky_relu",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "mish",
    "exponential",
    "log_softmax",
    "get",
    "serialize",
]


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    return ops.relu(x, negative_slope=negative_slope, max_value=max_value, threshold=threshold)


def relu6(x):
    return ops.relu6(x)


def leaky_relu(x, negative_slope=0.2):
    return ops.leaky_relu(x, negative_slope)


def sigmoid(x):
    return ops.sigmoid(x)


def tanh(x):
    return ops.tanh(x)


def softmax(x, axis=-1):
    return ops.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    return ops.log_softmax(x, axis=axis)


def linear(x):
    return ops.as_tensor(x)


def elu(x, alpha=1.0):
    return ops.elu(x, alpha)


def selu(x):
    return ops.selu(x)


def softplus(x):
    return ops.softplus(x)


def softsign(x):
    return x / (1 + ops.abs(x))


def silu(x):
    return ops.silu(x)


swish = silu


def gelu(x, approximate=False):
    return ops.gelu(x, approximate=approximate)


def hard_sigmoid(x):
    """Keras 3's ``relu6(x + 3) / 6`` (not Keras 2's ``0.2 * x + 0.5``)."""
    return ops.hard_sigmoid(x)


def hard_silu(x):
    """``x * hard_sigmoid(x)``, MobileNetV3's hard swish."""
    return ops.hard_silu(x)


hard_swish = hard_silu


def mish(x):
    """``x * tanh(softplus(x))``."""
    return ops.mish(x)


def exponential(x):
    return ops.exp(x)


_BY_NAME = {
    f.__name__: f
    for f in (
        relu,
        relu6,
        sigmoid,
        tanh,
        softmax,
        linear,
        elu,
        selu,
        softplus,
        softsign,
        silu,
        gelu,
        leaky_relu,
        hard_sigmoid,
        hard_silu,
        mish,
        exponential,
        log_softmax,
    )
}
# Keras's aliases: the config always carries the canonical name (``silu``, ``hard_silu``).
_ALIASES = {"swish": "silu", "hard_swish": "hard_silu"}
_BY_NAME.update({alias: _BY_NAME[name] for alias, name in _ALIASES.items()})


def get(identifier):
    """Returns the activation function for a name, ``None`` (linear) or a callable."""
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    if isinstance(identifier, dict):
        identifier = identifier.get("config", identifier.get("class_name"))
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]
    raise ValueError(
        f"Could not interpret activation function identifier: {identifier!r}. "
        f"Valid names: {sorted(_BY_NAME)}"
    )


def serialize(activation):
    """The name Keras writes in a layer config (``"relu"``), or the function's own name."""
    for name, fn in _BY_NAME.items():
        if fn is activation:
            return _ALIASES.get(name, name)
    name = getattr(activation, "__name__", None)
    if name is None:
        raise ValueError(f"Cannot serialize activation {activation!r}: it has no name")
    return name
