"""String ops on numpy object arrays of Python str (onnx.ai/onnx/operators): StringConcat (20),
StringSplit (20), StringNormalizer (10), RegexFullMatch (20).

StringConcat joins X and Y elementwise with broadcasting. StringSplit splits each string at
``delimiter`` (unset or empty: at runs of spaces, the ends trimmed, as onnxruntime) at most
``maxsplit`` times, padding the pieces with "" to the longest count; Z counts them.
StringNormalizer, as onnxruntime: a [C] or [1, C] tensor of words loses those equal to a
stopword (compared without case unless ``is_case_sensitive``) and has ``case_change_action``
applied (NONE, LOWER, UPPER; ASCII letters only in the "C" locale); nothing left gives one "".
RegexFullMatch matches each whole string with RE2 syntax.

RegexFullMatch runs Python's ``re`` (ASCII classes, as RE2), which backtracks where RE2 runs in
linear time: a pattern that could take exponential time is refused (UnsupportedOpError) before
anything is matched — a quantifier over a group that itself holds a variable quantifier or
an alternation, e.g. ``(a+)+`` or ``(a|aa)*`` (a fixed count, ``(\\d{3})+``, is fine); also
refused, as RE2 refuses them, backreferences and lookaround. The remaining patterns run in
polynomial time in the string length.
"""

import re

import numpy as np

from runtime.errors import InvalidModelError, UnsupportedOpError
from runtime.onnx.ops._common import broadcast_size

try:  # Python 3.11+ keeps the parser private
    from re import _constants as _sre_constants
    from re import _parser as _sre_parse
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as _sre_constants
    import sre_parse as _sre_parse


def _strings(x, op, name="X"):
    if x.dtype != object or not all(isinstance(v, str) for v in x.flat):
        raise InvalidModelError(f"{op}: {name} must be a tensor of strings")
    return x


def StringConcat(X, Y):
    _strings(X, "StringConcat")
    _strings(Y, "StringConcat", "Y")
    shape = broadcast_size("StringConcat", X, Y, itemsize=8)
    out = np.empty(shape, object)
    for index, (a, b) in zip(np.ndindex(*shape), np.broadcast(X, Y)):
        out[index] = a + b
    return out


def StringSplit(X, *, delimiter="", maxsplit=None):
    _strings(X, "StringSplit")
    sep = delimiter or None
    limit = -1 if maxsplit is None else int(maxsplit)
    if limit < -1:
        raise InvalidModelError(f"StringSplit: maxsplit {maxsplit} must be non-negative")
    pieces = [_split(s, sep, limit) for s in X.flat]
    counts = np.array([len(p) for p in pieces], np.int64).reshape(X.shape)
    width = int(counts.max(initial=0))
    out = np.full((X.size, width), "", object)
    for i, p in enumerate(pieces):
        out[i, : len(p)] = p
    return out.reshape(*X.shape, width), counts


def _split(text, sep, limit):
    """onnxruntime's pieces: "" has none; without a delimiter, the text trimmed of spaces and
    split at runs of spaces (not tabs or newlines), at most ``limit`` times (-1: no limit)."""
    if not text:
        return []
    if sep is not None:
        return text.split(sep, limit)
    text = text.strip(" ")
    if not text:
        return []
    if limit == 0:
        return [text]
    return re.split(" +", text, maxsplit=max(limit, 0))


def StringNormalizer(
    X, *, case_change_action="NONE", is_case_sensitive=0, locale="", stopwords=None
):
    op = "StringNormalizer"
    _strings(X, op)
    if case_change_action not in ("NONE", "LOWER", "UPPER"):
        raise InvalidModelError(f"{op}: case_change_action {case_change_action!r}")
    if not (X.ndim == 1 or (X.ndim == 2 and X.shape[0] == 1)):
        raise InvalidModelError(f"{op}: input {list(X.shape)} must be [C] or [1, C]")
    if is_case_sensitive:
        stops = set(stopwords or ())
        kept = [w for w in X.flat if w not in stops]
    else:
        stops = {w.lower() for w in stopwords or ()}
        kept = [w for w in X.flat if w.lower() not in stops]
    if case_change_action != "NONE":
        change = str.lower if case_change_action == "LOWER" else str.upper
        if locale in ("C", "POSIX"):  # the C locale changes the case of ASCII letters only
            kept = ["".join(change(c) if c.isascii() else c for c in w) for w in kept]
        else:
            kept = [change(w) for w in kept]
    out = np.array(kept or [""], dtype=object)
    return out.reshape(1, -1) if X.ndim == 2 else out


def RegexFullMatch(X, *, pattern=""):
    op = "RegexFullMatch"
    _strings(X, op)
    compiled = _safe_regex(pattern)
    out = np.array([compiled.fullmatch(s) is not None for s in X.flat], bool)
    return out.reshape(X.shape)


_REPEATS = (_sre_constants.MAX_REPEAT, _sre_constants.MIN_REPEAT)
_POSSESSIVE = getattr(_sre_constants, "POSSESSIVE_REPEAT", None)
_ATOMIC = getattr(_sre_constants, "ATOMIC_GROUP", None)
_NEVER = {
    _sre_constants.GROUPREF: "a backreference",
    _sre_constants.GROUPREF_EXISTS: "a conditional backreference",
    _sre_constants.ASSERT: "a lookahead or lookbehind",
    _sre_constants.ASSERT_NOT: "a negative lookahead or lookbehind",
}


def _safe_regex(pattern: str):
    try:
        parsed = _sre_parse.parse(pattern, re.ASCII)
        compiled = re.compile(pattern, re.ASCII)
    except (re.error, RecursionError, OverflowError) as e:
        raise InvalidModelError(f"RegexFullMatch: pattern {pattern!r} is invalid: {e}") from None
    _check(parsed, pattern, inside_repeat=False)
    return compiled


def _check(items, pattern, inside_repeat):
    """Refuse what RE2 refuses and what makes Python's backtracking exponential."""
    for op, arg in items:
        if op in _NEVER:
            raise UnsupportedOpError(
                f"RegexFullMatch: pattern {pattern!r} uses {_NEVER[op]}, which RE2 (and so "
                "onnxruntime) does not support"
            )
        if op in _REPEATS or (_POSSESSIVE is not None and op == _POSSESSIVE):
            low, high, body = arg
            if inside_repeat and low != high:  # a fixed count, as in (\d{3})+, stays linear
                _exponential(pattern)
            _check(body, pattern, inside_repeat=high > 1)
        elif op == _sre_constants.BRANCH:
            if inside_repeat:
                _exponential(pattern)
            for branch in arg[1]:
                _check(branch, pattern, inside_repeat)
        elif op == _sre_constants.SUBPATTERN:
            _check(arg[-1], pattern, inside_repeat)
        elif _ATOMIC is not None and op == _ATOMIC:
            _check(arg, pattern, inside_repeat)


def _exponential(pattern):
    raise UnsupportedOpError(
        f"RegexFullMatch: pattern {pattern!r} repeats a group that holds a quantifier or an "
        "alternation; Python's backtracking re can take exponential time on it (onnxruntime's "
        "RE2 does not), so this runtime refuses it"
    )
