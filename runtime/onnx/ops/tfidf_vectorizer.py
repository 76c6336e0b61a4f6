"""TfIdfVectorizer (onnx.ai/onnx/operators/onnx__TfIdfVectorizer.html, opset 9), as
scikit-learn's text pipelines export it.

Each row of X ([C] or [N, C] of int or string tokens) is scanned for the pool's n-grams of
lengths min_gram_length..max_gram_length whose items lie ``skip`` apart, skip = 1 ..
max_skip_count + 1 (unigrams are counted in the first pass only, as onnxruntime). The pool
holds the (k+1)-grams from ``ngram_counts[k]`` on; ``ngram_indexes`` gives each pool n-gram its
output column. ``mode``: TF the counts, IDF ``weight`` (default 1) where the count is positive,
TFIDF count times weight, the weight of a column being its pool n-gram's (as onnxruntime).
The scan's size (rows x tokens x skips x lengths) is checked against a cap before it starts.
"""

import numpy as np

from runtime.errors import BudgetExceededError, InvalidModelError

# Python-level n-gram lookups one node may do (~10 s of CPU).
MAX_LOOKUPS = 1 << 24


def TfIdfVectorizer(
    X, *, max_gram_length=None, max_skip_count=None, min_gram_length=None, mode=None,
    ngram_counts=None, ngram_indexes=None, pool_int64s=None, pool_strings=None, weights=None,
):  # fmt: skip
    op = "TfIdfVectorizer"
    if None in (max_gram_length, max_skip_count, min_gram_length, mode, ngram_counts,
                ngram_indexes):  # fmt: skip
        raise InvalidModelError(f"{op}: a required attribute is missing")
    if mode not in ("TF", "IDF", "TFIDF"):
        raise InvalidModelError(f"{op}: mode {mode!r}; expected TF, IDF or TFIDF")
    if not 1 <= min_gram_length <= max_gram_length or max_skip_count < 0:
        raise InvalidModelError(
            f"{op}: gram lengths {min_gram_length}..{max_gram_length} or max_skip_count "
            f"{max_skip_count} are invalid"
        )
    if (pool_int64s is None) == (pool_strings is None):
        raise InvalidModelError(f"{op}: exactly one of pool_int64s and pool_strings is needed")
    pool = list(pool_int64s if pool_int64s is not None else pool_strings)
    table, prefixes = _grams(pool, ngram_counts, ngram_indexes, min_gram_length, max_gram_length)
    width = max(ngram_indexes) + 1 if ngram_indexes else 0
    if weights and len(weights) != len(ngram_indexes):
        raise InvalidModelError(
            f"{op}: {len(weights)} weights for {len(ngram_indexes)} pool n-grams"
        )
    if X.ndim not in (1, 2):
        raise InvalidModelError(f"{op}: input {list(X.shape)} must be [C] or [N, C]")
    rows = X.reshape(1, -1) if X.ndim == 1 else X
    tokens = rows.shape[1]
    skips = min(max_skip_count + 1, max(tokens, 1))
    lookups = rows.shape[0] * tokens * skips * min(max_gram_length, tokens)
    if lookups > MAX_LOOKUPS:
        raise BudgetExceededError(f"{op}: {lookups} n-gram lookups exceed the cap {MAX_LOOKUPS}")
    as_key = str if pool_strings is not None else int
    counts = np.zeros((rows.shape[0], width), np.float32)
    for r, row in enumerate(rows):
        items = [as_key(v) for v in row]
        shortest = min_gram_length
        for skip in range(1, skips + 1):
            for start in range(tokens):
                if start + skip * (shortest - 1) >= tokens:
                    break
                gram = ()
                for at in range(start, min(tokens, start + skip * max_gram_length), skip):
                    gram += (items[at],)
                    if gram not in prefixes:
                        break
                    column = table.get(gram)
                    if column is not None and len(gram) >= shortest:
                        counts[r, column] += 1
            if shortest == 1:  # unigrams only in the first pass
                shortest = 2
                if shortest > max_gram_length:
                    break
    # A weight belongs to a pool n-gram and applies to that n-gram's output column.
    w = np.ones(width, np.float32)
    if weights:
        w[np.asarray(ngram_indexes)] = np.asarray(weights, np.float32)
    if mode == "IDF":
        counts = np.where(counts > 0, w, np.float32(0))
    elif mode == "TFIDF":
        counts = counts * w
    return counts.reshape(width) if X.ndim == 1 else counts


def _grams(pool, starts, indexes, shortest, longest):
    """{n-gram tuple: output column} of the pool's n-grams of the wanted lengths, and the set
    of every prefix of them."""
    table, prefixes, gram_id = {}, set(), 0
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(pool)
        n = k + 1
        if not 0 <= start <= end <= len(pool) or (end - start) % n:
            raise InvalidModelError(
                f"TfIdfVectorizer: ngram_counts {list(starts)} do not cut the pool of {len(pool)}"
            )
        for g in range(start, end, n):
            if gram_id >= len(indexes):
                raise InvalidModelError("TfIdfVectorizer: fewer ngram_indexes than pool n-grams")
            if shortest <= n <= longest:
                gram = tuple(pool[g : g + n])
                if indexes[gram_id] < 0:
                    raise InvalidModelError("TfIdfVectorizer: a negative ngram index")
                table[gram] = indexes[gram_id]
                prefixes.update(gram[:i] for i in range(1, n + 1))
            gram_id += 1
    return table, prefixes
