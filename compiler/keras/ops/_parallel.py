"""Batch-sliced numpy work on two threads: numpy and BLAS release the GIL inside their loops.

A big op runs on the calling thread and one worker: as two halves of the batch
(``over_batch``: a convolution's im2col, GEMM, bias and ReLU; a pool) or as chunks of a few
images that each thread takes in turn (``over_chunks``: ``conv_max_pool``). Each part writes
its own rows of a preallocated output or its own slot of partial results, summed in a fixed
order, so that results do not depend on thread timing or count.

BLAS would rather spread each GEMM over the cores itself, but its worker threads keep spinning
after every call and fight with ours for the two cores: measured on the 2-core machine, the
slide's training step took 31 CPU-s per epoch that way against 20 on one thread.
``one_blas_thread()`` (entered by ``fit``, ``evaluate`` and ``predict``) therefore pins BLAS to
the calling thread while the ops split the work themselves.

The thread count follows ``OPENBLAS_NUM_THREADS`` when set (``1``: everything on the calling
thread, as profiling runs want), else the CPUs this process may use; at most two. Inside
``one_thread()`` (each process of a data-parallel training step) it is one.
"""

import contextlib
import functools
import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["over_batch", "over_chunks", "one_blas_thread", "one_thread", "two_threads"]

# Below this many elements a pass takes ~0.1 ms and the thread hand-off would eat the gain.
_MIN_ELEMENTS = 1 << 18

_STATE = threading.local()
_EXECUTOR = []
_LOCK = threading.Lock()
# A forked child inherits the executor but not its thread: work submitted there would wait
# forever. The child starts a fresh one on first use.
os.register_at_fork(after_in_child=_EXECUTOR.clear)


_ONE_THREAD = [False]  # set for a data-parallel training step (see keras/_data_parallel.py)


@contextlib.contextmanager
def one_thread():
    """Ops run on the calling thread only for the duration."""
    previous, _ONE_THREAD[0] = _ONE_THREAD[0], True
    try:
        yield
    finally:
        _ONE_THREAD[0] = previous


def two_threads():
    """Whether ops split their work over two threads here (two CPUs, not held to one)."""
    if _ONE_THREAD[0]:
        return False
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


@functools.cache
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextlib.contextmanager
def one_blas_thread():
    """BLAS on the calling thread for the duration, when the ops split work over two threads."""
    if not two_threads():
        yield
        return
    with _blas_controller().limit(limits=1, user_api="blas"):
        yield


def _worker():
    with _LOCK:
        if not _EXECUTOR:
            _EXECUTOR.append(
                ThreadPoolExecutor(1, thread_name_prefix="keras-ops", initializer=_mark_worker)
            )
        return _EXECUTOR[0]


def _mark_worker():
    _STATE.worker = True


def over_batch(fn, batch, elements):
    """Runs ``fn(rows)`` over ``rows`` slices that cover ``range(batch)``.

    When ``elements`` (the size of the work) is large enough, two halves: on two threads when
    there are two CPUs, one after the other otherwise, so that results (sums of per-half
    partials included) do not depend on the thread count. Small work is one call with
    ``slice(0, batch)``. ``fn`` must only write rows of its own slice.
    """
    if batch < 2 or elements < _MIN_ELEMENTS:
        fn(slice(0, batch))
        return
    half = batch // 2
    if getattr(_STATE, "worker", False) or not two_threads():
        fn(slice(0, half))
        fn(slice(half, batch))
        return
    future = _worker().submit(fn, slice(half, batch))
    try:
        fn(slice(0, half))
    finally:
        future.result()


def over_chunks(fn, batch, per_chunk):
    """Runs ``fn(index, rows)`` for the ``per_chunk``-row slices ``rows`` covering
    ``range(batch)``, ``index`` numbering them from 0.

    On two threads (two CPUs, two chunks or more) each thread takes the next chunk when it is
    free, so that a thread that starts late or runs slow does not keep the other waiting at
    the end. ``fn`` must only write its own rows or results slot ``index``: then results do not
    depend on which thread ran which chunk, nor on the thread count.
    """
    chunks = [slice(start, min(start + per_chunk, batch)) for start in range(0, batch, per_chunk)]
    if len(chunks) < 2 or getattr(_STATE, "worker", False) or not two_threads():
        for index, rows in enumerate(chunks):
            fn(index, rows)
        return
    counter = itertools.count()  # next() is atomic under the GIL

    def drain():
        for index in counter:
            if index >= len(chunks):
                return
            fn(index, chunks[index])

    future = _worker().submit(drain)
    try:
        drain()
    finally:
        future.result()
