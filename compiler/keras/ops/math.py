"""Elementwise primitives and their gradients (broadcasting is undone by the autodiff core)."""

from compiler.keras.backend import xp
from compiler.keras.ops._core import primitive

__all__ = [
    "add",
    "subtract",
    "multiply",
    "divide",
    "negative",
    "power",
    "exp",
    "log",
    "sqrt",
    "square",
    "abs",
    "sign",
    "maximum",
    "minimum",
    "clip",
    "where",
    "cast",
    "stop_gradient",
]


@primitive("add")
def add(a, b):
    return a + b, None


add.defgrad(lambda ctx, g: (g, g))


@primitive("subtract")
def subtract(a, b):
    return a - b, None


subtract.defgrad(lambda ctx, g: (g, -g))


@primitive("multiply")
def multiply(a, b):
    return a * b, (a, b)


multiply.defgrad(lambda ctx, g: (g * ctx[1], g * ctx[0]))


@primitive("divide")
def divide(a, b):
    return a / b, (a, b)


divide.defgrad(lambda ctx, g: (g / ctx[1], -g * ctx[0] / (ctx[1] * ctx[1])))


@primitive("negative")
def negative(a):
    return -a, None


negative.defgrad(lambda ctx, g: (-g,))


@primitive("power")
def power(a, b):
    out = a**b
    return out, (a, b, out)


@power.defgrad
def _power_grad(ctx, g):
    a, b, out = ctx
    grad_b = g * out * xp.log(xp.where(a > 0, a, 1))
    return g * b * a ** (b - 1), grad_b


@primitive("exp")
def exp(a):
    out = xp.exp(a)
    return out, out


exp.defgrad(lambda out, g: (g * out,))


@primitive("log")
def log(a):
    return xp.log(a), a


log.defgrad(lambda a, g: (g / a,))


@primitive("sqrt")
def sqrt(a):
    out = xp.sqrt(a)
    return out, out


sqrt.defgrad(lambda out, g: (g / (2 * out),))


@primitive("square")
def square(a):
    return a * a, a


square.defgrad(lambda a, g: (2 * a * g,))


@primitive("abs")
def abs(a):  # noqa: A001 - Keras's name
    return xp.abs(a), a


abs.defgrad(lambda a, g: (g * xp.sign(a),))


@primitive("sign")
def sign(a):
    return xp.sign(a), None


sign.defgrad(lambda ctx, g: (None,))


@primitive("maximum")
def maximum(a, b):
    return xp.maximum(a, b), (a >= b)


maximum.defgrad(lambda mask, g: (g * mask, g * ~mask))


@primitive("minimum")
def minimum(a, b):
    return xp.minimum(a, b), (a <= b)


minimum.defgrad(lambda mask, g: (g * mask, g * ~mask))


@primitive("clip")
def clip(a, lo, hi):
    return xp.clip(a, lo, hi), (a >= lo) & (a <= hi)


clip.defgrad(lambda inside, g: (g * inside, None, None))


@primitive("where")
def where(condition, a, b):
    condition = condition.astype(bool)
    return xp.where(condition, a, b), condition


where.defgrad(lambda c, g: (None, xp.where(c, g, 0), xp.where(c, 0, g)))


@primitive("cast")
def _cast(a, dtype):
    return a.astype(dtype), a.dtype


_cast.defgrad(lambda source, g: (g.astype(source) if source.kind == "f" else None,))


def cast(x, dtype):
    """Casts to ``dtype``; gradients flow back through float-to-float casts."""
    return _cast(x, dtype=xp.dtype(dtype))


@primitive("stop_gradient")
def stop_gradient(a):
    return a, None


stop_gradient.defgrad(lambda ctx, g: (None,))
