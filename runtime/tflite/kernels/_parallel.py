"""Chunk-level parallelism for the heavy kernels, and BLAS kept single-threaded meanwhile.

numpy releases the GIL in copies, ufuncs and matmul, so independent image chunks (im2col,
GEMM, requantization) run well on a small thread pool. OpenBLAS's own threads are switched to
1 for the duration: on small GEMMs they gain little, and on a busy machine their busy-waiting
can make a GEMM ten times slower. The previous BLAS thread count is restored afterwards.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import glob
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

_PREFIX = "tflite-kernel"
_threads = 1
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def _openblas():
    # numpy wheels vendor OpenBLAS under numpy.libs; the library is already loaded, so
    # dlopen returns the same handle.
    libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in glob.glob(os.path.join(libs, "*openblas*")):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in (
            ("scipy_openblas", "64_"),
            ("scipy_openblas", ""),
            ("openblas", "64_"),
            ("openblas", ""),
        ):
            get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
            set_ = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
            if get is not None and set_ is not None:
                return get, set_
    return None


_BLAS = _openblas()


def default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


_lock = threading.Lock()
_active = 0  # invokes in progress (BLAS is single-threaded while any runs)
_blas_before = None


@contextlib.contextmanager
def threads(n: int):
    """Run kernels with ``n`` chunk threads and single-threaded BLAS."""
    global _threads, _pool, _pool_size, _active, _blas_before
    with _lock:
        previous = _threads
        _threads = max(1, int(n))
        if _threads > 1 and _pool_size < _threads:
            _pool = ThreadPoolExecutor(max_workers=_threads, thread_name_prefix=_PREFIX)
            _pool_size = _threads
        if _active == 0 and _BLAS is not None:
            _blas_before = _BLAS[0]()
            _BLAS[1](1)
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _threads = previous
            _active -= 1
            if _active == 0 and _BLAS is not None and _blas_before is not None:
                _BLAS[1](_blas_before)


def _in_worker() -> bool:
    return threading.current_thread().name.startswith(_PREFIX)


def run_tasks(fn, items, max_parallel: int) -> None:
    """Call ``fn(item)`` for each item on up to ``max_parallel`` pool threads."""
    items = list(items)
    if max_parallel <= 1 or len(items) <= 1 or _pool is None or _in_worker():
        for item in items:
            fn(item)
        return
    # Each task runs in a copy of the caller's context, so it sees the run's budget.
    futures = [_pool.submit(contextvars.copy_context().run, fn, item) for item in items]
    for future in futures:
        future.result()


def run_chunks(fn, starts) -> None:
    """Call ``fn(start)`` for each chunk start, in parallel when threads are available."""
    starts = list(starts)
    # Inside a pool worker (a batch slice already runs in parallel) stay sequential: waiting
    # on the same pool from its own workers could deadlock it.
    if _threads <= 1 or len(starts) <= 1 or _pool is None or _in_worker():
        for s in starts:
            fn(s)
        return
    futures = [_pool.submit(contextvars.copy_context().run, fn, s) for s in starts]
    for future in futures:
        future.result()
