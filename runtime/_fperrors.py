"""``quiet()``: numpy's floating-point error reports off for a ``with`` block, cheaply.

Kernels compute what the C kernels compute: exp overflowing to inf, 1/0, sqrt(-1) give inf or
NaN silently there, so numpy must not warn about them either. ``np.errstate(all="ignore")`` does
that, but builds its error-state object on each entry (about 2 us, more than a small kernel's
arithmetic). numpy 2 keeps that state in a ``ContextVar``; ``quiet`` sets it to an "ignore all"
state made once (per enclosing state, so a caller's ``np.setbufsize`` / ``np.seterrcall`` are
kept) and resets it on exit, as ``np.errstate`` does: a block leaves the state as it found it,
in this thread and context only. Where that variable is missing (another numpy) it falls back to
``np.errstate``.

The TFLite interpreter runs each invoke inside one ``quiet()`` (LiteRT's C arithmetic never
warns, whatever numpy's settings); a kernel's own ``quiet()`` inside it then costs a lookup.
"""

from __future__ import annotations

import numpy as np

try:
    from numpy._core._ufunc_config import _extobj_contextvar, _make_extobj
except ImportError:  # (numpy 1.x has neither: the public context manager instead)
    _extobj_contextvar = _make_extobj = None

__all__ = ["quiet"]

# The last enclosing state seen and its "ignore all" counterpart (one entry: the enclosing
# state is almost always numpy's default, and a dict keyed by states could grow without end).
_last = (None, None)


class _Quiet:
    __slots__ = ("_token",)

    def __enter__(self):
        global _last
        current = _extobj_contextvar.get()
        seen, ignoring = _last
        if seen is not current:
            ignoring = _make_extobj(all="ignore")  # keeps the current bufsize and callback
            _last = (current, ignoring)
        self._token = _extobj_contextvar.set(ignoring)
        return self

    def __exit__(self, *exc) -> bool:
        _extobj_contextvar.reset(self._token)
        return False


class _AlreadyQuiet:
    """``quiet()`` inside a ``quiet()`` block (a kernel within a run): nothing to change."""

    __slots__ = ()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> bool:
        return False


_ALREADY_QUIET = _AlreadyQuiet()


def quiet():
    """A context manager under which numpy reports no floating-point errors (like
    ``np.errstate(all="ignore")``), restoring the previous state on exit."""
    if _extobj_contextvar.get() is _last[1]:
        return _ALREADY_QUIET  # (the state of an enclosing ``quiet``: nothing to set)
    return _Quiet()


if _extobj_contextvar is None or _make_extobj is None:

    def quiet():  # noqa: F811 (the fallback)
        """``np.errstate(all="ignore")`` (this numpy keeps no error-state ContextVar)."""
        return np.errstate(all="ignore")
