"""Einsum (onnx.ai/onnx/operators/onnx__Einsum.html).

The equation is parsed and checked here (letters, one term per input, ranks, equal sizes per
letter, the output's size within the run's limit) before numpy computes it; numpy's contraction
path keeps every intermediate no larger than the largest input or the output.
"""

import re

import numpy as np

from runtime.errors import InvalidModelError
from runtime.onnx.ops._common import check_size

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
    return np.asarray(np.einsum(eq, *Inputs, optimize=True), dtype=dtype)
