"""Keras activations (by name) as IR ops: a TFLite builtin where one exists, else a
decomposition into builtins.

Builtins: relu RELU, relu6 RELU6, sigmoid LOGISTIC, tanh TANH, softmax SOFTMAX, leaky_relu
LEAKY_RELU (Keras's function default 0.2), elu ELU, gelu GELU (exact erf form, Keras's default
for the activation), hard_silu / hard_swish HARD_SWISH, log_softmax LOG_SOFTMAX,
exponential EXP. hard_sigmoid, softplus, mish and selu become HARD_SIGMOID, SOFTPLUS, MISH and
SELU, which ONNX has nodes for; ``DecomposeActivationsPass`` rewrites them as builtins for
TFLite and int8. Decomposed here:

* silu / swish: ``x * LOGISTIC(x)``;
* elu with alpha ``a`` != 1: ``elu(x) + (a - 1) * min(elu(x), 0)`` (ELU's negative side is
  ``expm1(x)``);
* softsign: ``x / (1 + |x|)``.
"""

from __future__ import annotations

from compiler.ir import Value

__all__ = ["lower_named_activation", "ACTIVATION_NAMES", "elu_with_alpha", "OpBuilder"]

_BUILTINS = {
    "relu": ("RELU", {}),
    "relu6": ("RELU6", {}),
    "sigmoid": ("LOGISTIC", {}),
    "tanh": ("TANH", {}),
    "softmax": ("SOFTMAX", {"beta": 1.0}),
    "leaky_relu": ("LEAKY_RELU", {"alpha": 0.2}),
    "elu": ("ELU", {}),
    "gelu": ("GELU", {"approximate": False}),
    "hard_silu": ("HARD_SWISH", {}),
    "hard_swish": ("HARD_SWISH", {}),
    "log_softmax": ("LOG_SOFTMAX", {}),
    "exponential": ("EXP", {}),
    "hard_sigmoid": ("HARD_SIGMOID", {}),
    "softplus": ("SOFTPLUS", {}),
    "mish": ("MISH", {}),
    "selu": ("SELU", {}),
}


class OpBuilder:
    """Adds ops named ``{name}/{step}``, the last one under ``name`` itself."""

    def __init__(self, ctx, name: str):
        self.ctx, self.name = ctx, name

    def op(self, type_: str, inputs, step: str | None, **attrs) -> Value:
        shape = inputs[0].shape
        name = self.name if step is None else f"{self.name}/{step}"
        return self.ctx.op(type_, inputs, shape, name, **attrs)

    def scalar(self, value: float) -> Value:
        return self.ctx.weight(f"{self.name}/const_{value:g}", float(value))


def _silu(b: OpBuilder, x: Value) -> Value:
    return b.op("MUL", [x, b.op("LOGISTIC", [x], "sigmoid")], None)


def elu_with_alpha(b: OpBuilder, x: Value, alpha: float, scale: float = 1.0) -> Value:
    """``scale * (x > 0 ? x : alpha * expm1(x))`` from ELU, MINIMUM, MUL and ADD."""
    elu = b.op("ELU", [x], "elu" if (alpha, scale) != (1.0, 1.0) else None)
    if (alpha, scale) == (1.0, 1.0):
        return elu
    negative = b.op("MINIMUM", [elu, b.scalar(0.0)], "negative_part")
    extra = b.op("MUL", [negative, b.scalar(scale * (alpha - 1.0))], "negative_scaled")
    if scale == 1.0:
        return b.op("ADD", [elu, extra], None)
    return b.op("ADD", [b.op("MUL", [elu, b.scalar(scale)], "scaled"), extra], None)


def _softsign(b: OpBuilder, x: Value) -> Value:
    denominator = b.op("ADD", [b.op("ABS", [x], "abs"), b.scalar(1.0)], "denominator")
    return b.op("DIV", [x, denominator], None, activation="NONE")


_DECOMPOSED = {
    "silu": _silu,
    "swish": _silu,
    "softsign": _softsign,
}

ACTIVATION_NAMES = ("linear", *_BUILTINS, *_DECOMPOSED)


def lower_named_activation(ctx, call, x: Value, activation, name: str) -> Value:
    """Applies Keras activation ``activation`` (a name or a serialized function) to ``x``."""
    if isinstance(activation, dict):  # {"class_name": "function", "config": "hard_silu"}
        inner = activation.get("config")
        activation = inner if isinstance(inner, str) else (inner or {}).get("name")
    if activation in (None, "linear"):
        return x
    if activation in _BUILTINS:
        type_, attrs = _BUILTINS[activation]
        if type_ in ("SOFTMAX", "LOG_SOFTMAX") and x.rank < 1:
            raise call.unsupported(f"activation {activation!r} needs an input with an axis")
        return ctx.op(type_, [x], x.shape, name, **attrs)
    if activation in _DECOMPOSED:
        return _DECOMPOSED[activation](OpBuilder(ctx, name), x)
    raise call.unsupported(
        f"activation {activation!r} is not supported; supported activations: "
        f"{', '.join(ACTIVATION_NAMES)}"
    )


# ----------------------------------------------------------------------------- layers
def lower_relu(ctx, call) -> list[Value]:
    """``ReLU(max_value, negative_slope, threshold)``: RELU, RELU6, or LEAKY_RELU / RELU
    followed by MINIMUM for a cap; a nonzero threshold (a jump at the threshold) is refused."""
    cfg, x = call.config, call.inputs[0]
    max_value = cfg.get("max_value")
    slope = float(cfg.get("negative_slope") or 0.0)
    threshold = float(cfg.get("threshold") or 0.0)
    if threshold != 0.0:
        raise call.unsupported(
            f"ReLU(threshold={threshold}) is not supported: only threshold=0 has a TFLite form"
        )
    b = OpBuilder(ctx, call.name)
    capped = max_value is not None
    if slope == 0.0 and capped and float(max_value) == 6.0:
        return [b.op("RELU6", [x], None)]
    step = "uncapped" if capped else None
    if slope == 0.0:
        y = b.op("RELU", [x], step)
    else:
        y = b.op("LEAKY_RELU", [x], step, alpha=slope)
    if capped:
        y = b.op("MINIMUM", [y, b.scalar(float(max_value))], None)
    return [y]


def lower_leaky_relu(ctx, call) -> list[Value]:
    x = call.inputs[0]
    alpha = call.config.get("negative_slope", call.config.get("alpha", 0.3))
    return [ctx.op("LEAKY_RELU", [x], x.shape, call.name, alpha=float(alpha))]


def lower_elu(ctx, call) -> list[Value]:
    """``ELU(alpha)``: TFLite's ELU has alpha 1; other alphas are decomposed."""
    alpha = float(call.config.get("alpha", 1.0))
    return [elu_with_alpha(OpBuilder(ctx, call.name), call.inputs[0], alpha)]


def lower_prelu(ctx, call) -> list[Value]:
    """``PReLU``: PRELU with the trained ``alpha`` ([sample dims], shared axes of size 1)."""
    x = call.inputs[0]
    alpha = ctx.weight(f"{call.name}/alpha", call.weights[0])
    return [ctx.op("PRELU", [x, alpha], x.shape, call.name)]
