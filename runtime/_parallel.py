"""Chunk-level parallelism for the heavy kernels, and BLAS kept single-threaded meanwhile
(shared by both runtimes: the TFLite interpreter and the ONNX session).

numpy releases the GIL in copies, ufuncs and matmul, so independent image chunks (im2col,
GEMM, requantization) run well on a small thread pool. BLAS's own threads are held to 1
(through threadpoolctl) for the duration: on small GEMMs they gain little, and on a busy
machine their busy-waiting can make a GEMM ten times slower. The previous BLAS thread count is
restored afterwards.
"""

from __future__ import annotations

import contextvars
import os
import threading
from concurrent.futures import ThreadPoolExecutor

_PREFIX = "runtime-kernel"
_threads = 1
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


_blas_libs = None  # threadpoolctl's controllers of the loaded BLAS libraries


class _BlasLimit:
    """Every loaded BLAS held to one thread; ``restore_original_limits()`` gives each its own
    count back. (threadpoolctl's ``limit()`` does the same through its generic machinery in
    about 25 us, which is a tenth of a TFLite Micro-sized model's invoke; this takes 2-3 us.)
    """

    def __init__(self, libs):
        self._previous = [(lib, lib.get_num_threads()) for lib in libs]
        for lib, n in self._previous:
            if n is not None and n != 1:
                lib.set_num_threads(1)

    def restore_original_limits(self):
        for lib, n in self._previous:
            if n is not None and n != 1:
                lib.set_num_threads(n)


def _single_threaded_blas() -> _BlasLimit:
    """Holds every loaded BLAS to one thread; ``restore_original_limits()`` undoes it.

    threadpoolctl's controller finds the BLAS libraries once (numpy's is loaded with numpy);
    each call then only reads and sets their thread counts.
    """
    global _blas_libs
    if _blas_libs is None:
        from threadpoolctl import ThreadpoolController

        controller = ThreadpoolController()
        _blas_libs = [lib for lib in controller.lib_controllers if lib.user_api == "blas"]
    return _BlasLimit(_blas_libs)


def default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


_lock = threading.Lock()
_active = 0  # invokes in progress (BLAS is single-threaded while any runs)
_blas_limit = None


class threads:  # noqa: N801 (used as a function: ``with threads(n):``)
    """Run kernels with ``n`` chunk threads and single-threaded BLAS (``with threads(n):``).

    A class rather than a generator context manager: it is entered on every invoke, and on a
    TFLite Micro-sized model the generator machinery alone is a visible part of the call.
    """

    __slots__ = ("_n", "_previous")

    def __init__(self, n: int):
        self._n = max(1, int(n))

    def __enter__(self):
        global _threads, _pool, _pool_size, _active, _blas_limit
        with _lock:
            self._previous = _threads
            _threads = self._n
            if _threads > 1 and _pool_size < _threads:
                _pool = ThreadPoolExecutor(max_workers=_threads, thread_name_prefix=_PREFIX)
                _pool_size = _threads
            if _active == 0:
                _blas_limit = _single_threaded_blas()
            _active += 1
        return self

    def __exit__(self, *exc):
        global _threads, _active, _blas_limit
        with _lock:
            _threads = self._previous
            _active -= 1
            if _active == 0 and _blas_limit is not None:
                _blas_limit.restore_original_limits()
                _blas_limit = None
        return False


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
