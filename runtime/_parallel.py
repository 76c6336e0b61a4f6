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


_blas = None  # (threadpoolctl's controller, its thread-count reader) per loaded BLAS library


def _reader(lib):
    """A cheap reader of ``lib``'s thread count: OpenBLAS's own C getter where threadpoolctl
    would call it anyway (its pthreads build: ``get_num_threads`` looks the symbol up on each
    call, ~0.7 us; the function itself takes 0.1), else the controller's method."""
    if lib.internal_api == "openblas" and getattr(lib, "threading_layer", None) != "openmp":
        get_symbol = getattr(lib, "_get_symbol", None)
        if get_symbol is not None:
            try:
                getter = get_symbol("openblas_get_num_threads")
            except Exception:  # noqa: BLE001 (a threadpoolctl without it: the method)
                getter = None
            if getter is not None:
                return getter
    return lib.get_num_threads


def _blas_readers():
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        controller = ThreadpoolController()
        _blas = [
            (lib, _reader(lib)) for lib in controller.lib_controllers if lib.user_api == "blas"
        ]
    return _blas


def _single_threaded_blas():
    """Holds every loaded BLAS to one thread (the caller holds ``_lock``). Returns what
    ``_restore_blas`` gives back (``_blas_limit``): None when every one already ran on one
    thread (the usual case, read in ~0.1 us each), else the (library, previous count) pairs
    changed. (threadpoolctl's ``limit()`` does the same through its generic machinery in
    about 25 us, a tenth of a TFLite Micro-sized model's invoke.)"""
    global _blas_limit
    # Published before any count is set (the caller holds ``_lock``): ``hold_blas``'s lock-free
    # test reads the counts, then this, so it cannot see a count set here with no change held.
    _blas_limit = changed = []
    for lib, read in _blas_readers():
        n = read()
        if n is not None and n != 1:
            changed.append((lib, n))
            lib.set_num_threads(1)
    return changed or None


def _restore_blas() -> None:
    """Give back the counts ``_blas_limit`` holds (the caller holds ``_lock``), counted in
    ``_generation`` before ``_blas_limit`` is cleared (see ``hold_blas``)."""
    global _blas_limit, _generation
    for lib, n in _blas_limit:
        lib.set_num_threads(n)
    _generation += 1
    _blas_limit = None


def default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


_lock = threading.Lock()
_active = 0  # invokes in progress (BLAS is single-threaded while any runs)
_blas_limit = None
_generation = 0  # restores so far


def hold_blas() -> bool:
    """Hold BLAS to one thread until the matching ``release_blas``, to be called only when
    this returns True (calls nest, from any thread: the first that finds BLAS on more than one
    thread sets it to one, the last restores what it found).

    The common case takes no lock: every BLAS already reads one thread, no run holds a change
    (``_blas_limit`` is None) and none was restored meanwhile (``_generation``). Such a run
    changes nothing and has nothing to restore. A run that changes a count publishes
    ``_blas_limit`` before it sets it, and one that restores it counts ``_generation`` before it
    clears ``_blas_limit``: a run that read a count of one that another set sees either, takes
    the lock and is counted (or, after the restore, finds the restored count).

    The ONNX session's ``run`` calls these two directly: its kernels use no chunk threads,
    and the ``threads`` context manager's object and calls are a visible part of a small
    model's run.
    """
    global _active, _blas_limit
    generation = _generation
    for _, read in _blas if _blas is not None else _blas_readers():
        if read() != 1:
            break
    else:
        if _blas_limit is None and _generation == generation:
            return False
    with _lock:
        if _active == 0:
            _blas_limit = _single_threaded_blas()
        _active += 1
    return True


def release_blas() -> None:
    """End one ``hold_blas`` that returned True; the last one restores every BLAS's previous
    thread count."""
    global _active
    with _lock:
        _active -= 1
        if _active == 0 and _blas_limit is not None:
            _restore_blas()


class threads:  # noqa: N801 (used as a function: ``with threads(n):``)
    """Run kernels with ``n`` chunk threads and single-threaded BLAS (``with threads(n):``).

    A class rather than a generator context manager: it is entered on every invoke, and on a
    TFLite Micro-sized model the generator machinery alone is a visible part of the call.
    """

    __slots__ = ("_held", "_n", "_previous")

    def __init__(self, n: int):
        self._n = max(1, int(n))

    def __enter__(self):
        global _threads, _pool, _pool_size
        # (the chunk count is one global: overlapping calls with different counts from
        # several threads get whichever was set last, with or without a lock)
        self._previous = _threads
        _threads = n = self._n
        if n > 1 and _pool_size < n:
            with _lock:
                if _pool_size < n:
                    _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix=_PREFIX)
                    _pool_size = n
        self._held = hold_blas()
        return self

    def __exit__(self, *exc):
        global _threads
        _threads = self._previous
        if self._held:
            release_blas()
        return False


def _in_worker() -> bool:
    return threading.current_thread().name.startswith(_PREFIX)


def run_tasks(fn, items, max_parallel: int) -> None:
    """Call ``fn(item)`` for each item on up to ``max_parallel`` pool threads."""
    items = list(items)
    # Inside a pool worker (a batch slice already runs in parallel) stay sequential: waiting
    # on the same pool from its own workers could deadlock it.
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
    run_tasks(fn, starts, _threads)
