"""SKIP_GRAM: the skip-grams of a sentence, as a 1-D STRING tensor.

Reference: ``tflite/kernels/skip_gram.cc``. The first string of the input is split into words
at ASCII whitespace (C's ``isspace``; its first byte is never a separator). Each n-gram joins
with single spaces words ``w[i0] < w[i1] < ...`` where each next index is at most
``max_skip_size + 1`` after the previous one; only n-grams of ``ngram_size`` words, or of 1 to
``ngram_size`` words with ``include_all_ngrams``. The enumeration order is LiteRT's iterative
depth-first walk over a stack of word indices (whose first index starts at word 0 without
being stepped into), reproduced step for step, so the output order is LiteRT's. Fewer words
than ``ngram_size`` give no n-grams. The walk is charged to the run's ``max_loop_iterations``
(one per ``STEPS_PER_CHARGE`` steps).
"""

from __future__ import annotations

import numpy as np

from runtime import _budget
from runtime.tflite import _strings
from runtime.tflite.kernels import _common as c
from runtime.tflite.schema import TensorType

_SPACE = frozenset(b" \t\n\v\f\r")
# The walk's steps count against the run's loop iterations, this many per iteration: the number
# of n-grams grows combinatorially with the sentence, so a file cannot make it run unbounded.
STEPS_PER_CHARGE = 64


def _words(s: bytes) -> list[bytes]:
    words, prev = [], 0
    for i in range(1, len(s)):
        if s[i] in _SPACE:
            if i > prev and s[prev] not in _SPACE:
                words.append(s[prev:i])
            prev = i + 1
    if len(s) > prev:
        words.append(s[prev:])
    return words


def skip_grams(
    sentence: bytes, n: int, max_skip: int, include_all: bool, charge=lambda: None
) -> list[bytes]:
    """The n-grams ``skip_gram.cc`` writes, in its order; ``charge()`` is called every
    ``STEPS_PER_CHARGE`` steps of the walk."""
    words = _words(sentence)
    if len(words) < n or n < 1:
        return []
    stack = [0] * n
    depth, out, steps = 1, [], 0
    while depth >= 0:
        steps += 1
        if steps % STEPS_PER_CHARGE == 0:
            charge()
        step = (
            depth < n
            and stack[depth] + 1 < len(words)
            and (depth == 0 or stack[depth] - stack[depth - 1] <= max_skip)
        )
        if step:
            stack[depth] += 1
            depth += 1
            if depth < n:
                stack[depth] = stack[depth - 1]
        else:
            if depth > 0 and (depth <= n if include_all else depth == n):
                out.append(b" ".join(words[stack[k]] for k in range(depth)))
            depth -= 1
    return out


def prepare(ctx: c.OpContext) -> c.Eval:
    ctx.check_arity(1)
    if ctx.in_type(0) != TensorType.STRING or ctx.out_type() != TensorType.STRING:
        raise ctx.fail("input and output must be STRING tensors")
    n = int(ctx.options["ngram_size"])
    max_skip = int(ctx.options["max_skip_size"])
    include_all = bool(ctx.options["include_all_ngrams"])
    if n < 0:
        raise ctx.fail(f"ngram_size {n} is negative")

    def run(x):
        if x.size == 0:
            raise ctx.fail("input holds no string")
        sentence = _strings.as_bytes(x.reshape(-1)[:1])[0]
        budget = _budget.active()
        grams = skip_grams(sentence, n, max_skip, include_all, lambda: budget.iterate(ctx.where))
        c.check_alloc(ctx, (sum(map(len, grams)) + 8 * len(grams),), "output", 1)
        out = np.empty(len(grams), _strings.OBJECT)
        out[:] = grams
        return [out]

    return run
