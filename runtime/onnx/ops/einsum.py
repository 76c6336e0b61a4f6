"""Einsum (onnx.ai/onnx/operators/onnx__Einsum.html).

The equation is parsed and checked here (letters, one term per input, ranks, equal sizes per
letter, the output's size within the run's limit) before numpy computes it; numpy's contraction
path keeps every intermediate no larger than the largest input or the output, and the work of
that path is bounded too.
"""

import math
import re

import numpy as np

from runtime.errors import BudgetExceededError, InvalidModelError
from runtime.onnx.ops._common import check_size
from runtime.onnx.ops._exotic_types import involved

# About a minute of numpy's unblocked loop at worst; a BERT-large attention product is ~2**28.
_MAX_STEPS = 1 << 34

_TERM = re.compile(r"^(?:[A-Za-z]|\.\.\.)*$")


def Einsum(*Inputs, equation):
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(Inputs) or not Inputs:
        raise InvalidModelError(
            f"Einsum: equation {equation!r} has {len(terms)} terms for {len(Inputs)} inputs"
        )
    if not all(_TERM.match(t) for t in terms + [rhs]) or "->" in rhs:
        raise InvalidModelError(f"Einsum: equation {equation!r} is malformed")
    dims: dict[str, int] = {}
    ellipsis = None
    for term, x in zip(terms, Inputs, strict=True):
        letters = term.replace("...", "")
        if term.count("...") > 1:
            raise InvalidModelError(f"Einsum: term {term!r} has more than one ellipsis")
        extra = x.ndim - len(letters)
        if extra < 0 or (extra and "..." not in term):
            raise InvalidModelError(
                f"Einsum: term {term!r} does not match an input of rank {x.ndim}"
            )
        head = term.index("...") if "..." in term else len(letters)
        if "..." in term:
            shape = x.shape[head : head + extra]
            try:
                ellipsis = np.broadcast_shapes(ellipsis or (), shape)
            except ValueError:
                raise InvalidModelError(f"Einsum: ellipsis dims {shape} do not broadcast") from None
        sizes = x.shape[:head] + x.shape[head + extra :]
        for letter, size in zip(letters, sizes, strict=True):
            if dims.setdefault(letter, size) != size and 1 not in (size, dims[letter]):
                raise InvalidModelError(
                    f"Einsum: letter {letter!r} has sizes {dims[letter]} and {size}"
                )
            dims[letter] = max(dims[letter], size)
    if arrow:
        out_letters = rhs.replace("...", "")
        if rhs.count("...") > 1 or len(set(out_letters)) != len(out_letters):
            raise InvalidModelError(f"Einsum: output term {rhs!r} is malformed")
        if any(c not in dims for c in out_letters):
            raise InvalidModelError(f"Einsum: output term {rhs!r} names an unknown letter")
        out_shape = list(ellipsis or ()) + [dims[c] for c in out_letters]
    else:
        once = [c for c in dims if lhs.count(c) == 1]
        out_shape = list(ellipsis or ()) + [dims[c] for c in once]
    dtype = np.result_type(*Inputs)
    check_size(out_shape, "Einsum", dtype.itemsize)
    out_term = rhs if arrow else "..." * (ellipsis is not None) + "".join(sorted(once))
    xs = list(Inputs)
    if involved(dtype):  # np.einsum has no bfloat16 loop: sum in float32, round at the end
        xs = [x.astype(np.float32) for x in xs]
    terms, xs = _sum_private_letters(terms, xs, out_term)
    eq = ",".join(terms) + "->" + out_term
    path = np.einsum_path(eq, *xs, optimize="greedy")[0]
    _check_work(terms, out_term, path[1:], dims, math.prod(ellipsis or ()), equation)
    return np.asarray(np.einsum(eq, *xs, optimize=path), dtype=dtype)


def _sum_private_letters(terms, xs, out_term):
    """Each operand with the letters no other term uses summed out first (linear in its size):
    numpy would otherwise loop over them jointly with the other operands' letters ("ab,cd->"
    costs |ab|·|cd| steps, not |ab| + |cd|)."""
    terms = list(terms)
    for i, term in enumerate(terms):
        elsewhere = set(out_term).union(*(t for j, t in enumerate(terms) if j != i))
        letters = term.replace("...", "")
        kept = "".join(dict.fromkeys(c for c in letters if c in elsewhere))
        if len(kept) < len(letters):
            new = "..." * ("..." in term) + kept
            xs[i] = np.einsum(f"{term}->{new}", xs[i])
            terms[i] = new
    return terms, xs


def _check_work(terms, out_term, path, dims, ellipsis_size, equation):
    """Refuse a contraction order whose steps (the product of the letters each pairwise
    contraction loops over) exceed _MAX_STEPS: a file must not buy minutes of CPU with a few
    small tensors."""
    sizes = dict(dims, **{".": ellipsis_size})
    sets = [set(t.replace("...", ".")) for t in terms]
    out = set(out_term.replace("...", "."))
    steps = 0
    for contraction in path:
        picked = [sets.pop(i) for i in sorted(contraction, reverse=True)]
        union = set().union(*picked)
        steps += math.prod(sizes[c] for c in union)
        sets.append(union & out.union(*sets))
    if steps > _MAX_STEPS:
        raise BudgetExceededError(
            f"Einsum: {equation!r} on these shapes takes about {steps} multiply-adds, above this "
            f"runtime's limit of {_MAX_STEPS} for one Einsum"
        )
