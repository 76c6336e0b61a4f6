"""Batch-sliced numpy work on two threads: numpy releases the GIL inside its loops.

BLAS already spreads the GEMMs over the cores; the memory-bound passes around them (im2col,
col2im, pooling, bias and ReLU) would otherwise run on one core. Measured on the 2-core
machine, quiet: the slide's first max pool 4.0 -> 2.0 ms wall. Each half writes its own rows
of a preallocated output, so results do not depend on the split or on thread timing.

The thread count follows ``OPENBLAS_NUM_THREADS`` when set (``1``: everything on the calling
thread, as profiling runs want), else the CPUs this process may use; at most two halves.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["over_batch"]

# Below this many elements a pass takes ~0.1 ms and the thread hand-off would eat the gain.
_MIN_ELEMENTS = 1 << 18

_STATE = threading.local()
_EXECUTOR = []
_LOCK = threading.Lock()
# A forked child inherits the executor but not its thread: work submitted there would wait
# forever. The child starts a fresh one on first use.
os.register_at_fork(after_in_child=_EXECUTOR.clear)


def _two_threads():
    setting = os.environ.get("OPENBLAS_NUM_THREADS")
    if setting is not None:
        try:
            return int(setting) >= 2
        except ValueError:
            return False
    try:
        return len(os.sched_getaffinity(0)) >= 2
    except AttributeError:  # not Linux
        return (os.cpu_count() or 1) >= 2


def _worker():
    with _LOCK:
        if not _EXECUTOR:
            _EXECUTOR.append(ThreadPoolExecutor(1, thread_name_prefix="keras-ops",
                                                initializer=_mark_worker))
        return _EXECUTOR[0]


def _mark_worker():
    _STATE.worker = True


def over_batch(fn, batch, elements):
    """Runs ``fn(rows)`` over ``rows`` slices that cover ``range(batch)``.

    Two halves on two threads when there are two CPUs and ``elements`` (the size of the work)
    is large enough; otherwise one call with ``slice(0, batch)``. ``fn`` must only write rows
    of its own slice.
    """
    if (batch < 2 or elements < _MIN_ELEMENTS or getattr(_STATE, "worker", False)
            or not _two_threads()):
        fn(slice(0, batch))
        return
    half = batch // 2
    future = _worker().submit(fn, slice(half, batch))
    try:
        fn(slice(0, half))
    finally:
        future.result()
