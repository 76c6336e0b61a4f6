"""``einsum`` of two operands as a primitive (EinsumDense and MultiHeadAttention use it).

The gradient of ``out = einsum("A,B->O", a, b)`` with respect to ``a`` is
``einsum("O,B->A", g, b)``: every label of ``a`` that also occurs in ``O`` or ``B`` is read from
there; a label summed away from ``a`` alone has a gradient constant along its axis, so it is
broadcast back. Ellipses are spelled out as explicit labels first, so the rule stays one line.
"""

import string

from compiler.keras.backend import xp
from compiler.keras.ops._core import as_tensor, primitive

__all__ = ["einsum", "parse_einsum"]


def parse_einsum(equation: str, ranks: tuple[int, ...]) -> tuple[list[str], str]:
    """``(input specs, output spec)`` of ``equation`` with any ``...`` replaced by labels.

    Raises:
        ValueError: the equation is not ``X,Y->Z`` for ``len(ranks)`` operands, or a spec does
            not match its operand's rank, or an operand repeats a label (a diagonal).
    """
    if not isinstance(equation, str) or "->" not in equation:
        raise ValueError(f"einsum needs an explicit output ('X,Y->Z'). Received: {equation!r}")
    lhs, out = equation.replace(" ", "").split("->")
    specs = lhs.split(",")
    if len(specs) != len(ranks):
        raise ValueError(
            f"einsum equation {equation!r} names {len(specs)} operands; received {len(ranks)}"
        )
    used = set(equation) - set(".,->")
    free = [c for c in string.ascii_uppercase + string.ascii_lowercase if c not in used]
    ellipsis_rank = max(
        (rank - (len(spec) - 3) for spec, rank in zip(specs, ranks) if "..." in spec), default=0
    )
    dots = "".join(free[:ellipsis_rank])
    expanded = []
    for spec, rank in zip(specs, ranks):
        if "..." in spec:
            n = rank - (len(spec) - 3)
            spec = spec.replace("...", dots[ellipsis_rank - n :] if n else "")
        if len(spec) != rank or not (spec.isalpha() or spec == ""):
            raise ValueError(
                f"einsum equation {equation!r}: spec {spec!r} does not match an operand of rank "
                f"{rank}"
            )
        if len(set(spec)) != len(spec):
            raise ValueError(f"einsum equation {equation!r}: repeated label in {spec!r}")
        expanded.append(spec)
    out = out.replace("...", dots)
    if not out.isalpha() and out:
        raise ValueError(f"einsum equation {equation!r}: invalid output {out!r}")
    return expanded, out


def _operand_grad(g, out_spec, other, other_spec, spec, shape):
    kept = "".join(c for c in spec if c in out_spec or c in other_spec)
    grad = xp.einsum(f"{out_spec},{other_spec}->{kept}", g, other, optimize=True)
    if kept != spec:  # labels summed from this operand alone: broadcast back
        grad = grad.reshape([shape[i] if c in kept else 1 for i, c in enumerate(spec)])
        grad = xp.broadcast_to(grad, shape)
    return grad


@primitive("einsum")
def _einsum(a, b, equation):
    (sa, sb), so = parse_einsum(equation, (a.ndim, b.ndim))
    out = xp.einsum(f"{sa},{sb}->{so}", a, b, optimize=True)
    return out, (a, b, sa, sb, so)


@_einsum.defgrad
def _einsum_grad(ctx, g):
    a, b, sa, sb, so = ctx
    return (
        _operand_grad(g, so, b, sb, sa, a.shape).astype(a.dtype, copy=False),
        _operand_grad(g, so, a, sa, sb, b.shape).astype(b.dtype, copy=False),
    )


def einsum(subscripts, *operands):
    """``keras.ops.einsum`` of one or two operands (``"ij->ji"``, ``"abc,cd->abd"``).

    Raises:
        ValueError: three or more operands, or an equation that does not fit them.
    """
    if len(operands) == 1:  # one operand: times the scalar 1, which has no labels
        lhs, _, out = subscripts.replace(" ", "").partition("->")
        if not _:
            raise ValueError(f"einsum needs an explicit output ('X->Z'). Received: {subscripts!r}")
        a = as_tensor(operands[0])
        return _einsum(a, xp.ones((), dtype=a.dtype), equation=f"{lhs},->{out}")
    if len(operands) != 2:
        raise ValueError(f"einsum supports one or two operands; received {len(operands)}")
    return _einsum(operands[0], operands[1], equation=subscripts)
