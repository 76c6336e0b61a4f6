"""The training engine's parallel work: everything ``fit``/``evaluate``/``predict`` do beyond one
thread, in one place.

This module owns:

- **How many workers.** ``keras.config.set_training_workers(n)``, else the environment variable
  ``KESTREL_TRAINING_WORKERS``, else the CPUs this process may use (``os.sched_getaffinity``,
  so ``taskset`` and container CPU sets count). ``1`` runs everything on the calling thread.
  BLAS's own variables (``OPENBLAS_NUM_THREADS``) are BLAS's business and are not read here.
- **Threads.** ``over_batch`` / ``over_chunks`` split one op's batch into parts that the caller
  and ``workers - 1`` pool threads take in turn (numpy and BLAS release the GIL in their loops).
  Each part writes its own rows or its own slot of partial results, summed in a fixed order:
  results do not depend on thread timing, and with one or two workers not on the worker count
  either (a batch is always cut in at least two parts); more workers cut more parts, which
  changes GEMM blocking and the grouping of those sums by float rounding only.
- **Processes.** Whether ``fit`` may split training steps over processes
  (``keras.config.set_training_processes``: ``"auto"``, ``"always"`` or ``"never"``, or
  ``KESTREL_TRAINING_PROCESSES``). ``"auto"`` uses them only for a model that qualifies (see
  ``_data_parallel.eligible``) and only where forking is safe: Linux, and no thread alive but
  the calling one, this module's pool and BLAS's (no other Python thread, none started by a
  native library such as JAX), since a forked child inherits every lock another thread might
  hold. Where it is not safe, the steps run in this process, on threads. ``"always"`` forks
  for a qualifying model even then; ``"never"`` keeps every step in this process (on
  threads).
- **BLAS thread limits.** During a call BLAS runs on the calling thread: the ops split work
  themselves, and BLAS's worker threads keep spinning after each call and fight with ours for
  the cores (measured on the 2-core machine: 31 CPU-s per epoch of the slide's model against
  20). Set through ``threadpoolctl`` for the duration of the call and restored when it returns.
- **glibc malloc tuning, opt-in only** (``keras.config.set_malloc_tuning(True)`` or
  ``KESTREL_MALLOC_TUNING=1``). Every training step allocates and frees the same
  few-megabyte arrays; glibc serves those with fresh mappings and hands them back, ~1,650 page
  faults per 28 ms step of the slide's model; raising the mmap threshold to 32 MiB and the trim
  threshold to 1 GiB keeps them in the heap (28 -> 19-23 ms per step). glibc has no way to read
  the thresholds back, and setting one turns its dynamic threshold off for good, so the change
  cannot be undone: it lasts for the rest of the process and is therefore never made unasked.
- **Clean shutdown.** Threads and processes live only within a call: ops outside
  ``fit``/``evaluate``/``predict`` (``model(x)``, ``keras.ops``) run their parts one after the
  other on the calling thread; the pool starts on first use inside a call and stops when the
  last call running returns; it is rebuilt when the worker count changes and in a forked child
  (which inherits the pool but not its threads); helper processes are joined by
  ``DataParallel.close`` when ``fit`` returns or raises.
"""

import contextlib
import ctypes
import functools
import itertools
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = [
    "training_workers",
    "set_training_workers",
    "training_processes",
    "set_training_processes",
    "malloc_tuning",
    "set_malloc_tuning",
    "thread_count",
    "one_thread",
    "over_batch",
    "over_chunks",
    "training_call",
    "processes_allowed",
]

WORKERS_VARIABLE = "KESTREL_TRAINING_WORKERS"
PROCESSES_VARIABLE = "KESTREL_TRAINING_PROCESSES"
MALLOC_VARIABLE = "KESTREL_MALLOC_TUNING"
_PROCESS_MODES = ("auto", "always", "never")
_POOL_PREFIX = "keras-ops"

# Below this many elements a pass takes ~0.1 ms and the thread hand-off would eat the gain.
_MIN_ELEMENTS = 1 << 18

_settings = {"workers": None, "processes": None, "malloc": None}


# ----------------------------------------------------------------------------- settings
def _check_workers(value, where):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where} must be a positive integer. Received: {value!r}")
    return value


def set_training_workers(workers: int | None) -> None:
    """Sets how many CPUs training, evaluation and prediction may use.

    Args:
        workers: a positive integer, or ``None`` for the default (``$KESTREL_TRAINING_WORKERS``
            when set, else the CPUs this process may use). ``1`` runs everything on the
            calling thread in this process.
    """
    if workers is not None:
        _check_workers(workers, "`workers`")
    _settings["workers"] = workers


def training_workers() -> int:
    """How many CPUs training, evaluation and prediction use (see ``set_training_workers``)."""
    if _settings["workers"] is not None:
        return _settings["workers"]
    text = os.environ.get(WORKERS_VARIABLE)
    if text is not None and text.strip():
        try:
            value = int(text)
        except ValueError:
            value = text
        return _check_workers(value, f"${WORKERS_VARIABLE}")
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def set_training_processes(mode: str | None) -> None:
    """Sets whether ``fit`` may split training steps over helper processes.

    Args:
        mode: ``"auto"`` (the default: for a model whose steps can be split without changing
            Keras's semantics, when forking is safe), ``"always"`` (for such a model, even
            when the process runs other threads), ``"never"``, or ``None`` for the default
            (``$KESTREL_TRAINING_PROCESSES`` when set, else ``"auto"``).
    """
    if mode is not None and mode not in _PROCESS_MODES:
        raise ValueError(f"`mode` must be one of {_PROCESS_MODES}. Received: mode={mode!r}")
    _settings["processes"] = mode


def training_processes() -> str:
    """``"auto"``, ``"always"`` or ``"never"`` (see ``set_training_processes``)."""
    if _settings["processes"] is not None:
        return _settings["processes"]
    text = os.environ.get(PROCESSES_VARIABLE, "").strip().lower() or "auto"
    if text not in _PROCESS_MODES:
        raise ValueError(
            f"${PROCESSES_VARIABLE} must be one of {_PROCESS_MODES}. Received: {text!r}"
        )
    return text


def set_malloc_tuning(enabled: bool | None) -> None:
    """Opts in to glibc malloc tuning for training (lasting for the rest of the process).

    Args:
        enabled: ``True`` to keep freed memory in the heap from the next ``fit``,
            ``evaluate`` or ``predict`` on, ``False`` not to, ``None`` for the default
            (``$KESTREL_MALLOC_TUNING=1`` opts in).
    """
    if enabled is not None and not isinstance(enabled, bool):
        raise ValueError(f"`enabled` must be a bool or None. Received: {enabled!r}")
    _settings["malloc"] = enabled


def malloc_tuning() -> bool:
    """Whether training tunes glibc's malloc (see ``set_malloc_tuning``)."""
    if _settings["malloc"] is not None:
        return _settings["malloc"]
    return os.environ.get(MALLOC_VARIABLE, "").strip() == "1"


# ----------------------------------------------------------------------------- threads
_LOCAL = threading.local()
_ONE_THREAD = [False]  # set in each process of a data-parallel training step
_POOL = {}  # {"executor": ThreadPoolExecutor, "size": threads}
_POOL_LOCK = threading.Lock()
_CALLS = [0]  # training calls running (under _POOL_LOCK): the pool lives while one does
# The worker count read once when the first call running began (~5 us a read: hundreds of op
# calls per training step), so that one call also sees one count throughout.
_CALL_WORKERS = [1]
# BLAS's pool threads, counted before the call limits BLAS to one thread (they stay alive).
_CALL_BLAS_THREADS = [0]
# A forked child inherits the pool but not its threads: work submitted there would wait
# forever. The child starts a fresh pool on first use.
os.register_at_fork(after_in_child=_POOL.clear)


@contextlib.contextmanager
def one_thread():
    """Ops run on the calling thread only for the duration."""
    previous, _ONE_THREAD[0] = _ONE_THREAD[0], True
    try:
        yield
    finally:
        _ONE_THREAD[0] = previous


def thread_count() -> int:
    """How many threads an op may split its work over here and now: the workers inside a
    ``training_call`` (one inside ``one_thread`` or on a pool thread), one outside, so that no
    thread outlives the call that started it."""
    if _ONE_THREAD[0] or getattr(_LOCAL, "pool_thread", False) or not _CALLS[0]:
        return 1
    return _CALL_WORKERS[0]


def _part_count():
    """How many parts a large batch is cut into: ``max(2, workers)`` wherever the op runs
    (inside a call or not, on threads or one after the other), so that ``model(x)`` and
    ``model.predict(x)`` agree bit for bit; two in a data-parallel process, which computes
    its own part of the batch on one thread."""
    if _ONE_THREAD[0]:
        return 2
    return max(2, _CALL_WORKERS[0] if _CALLS[0] else training_workers())


def _mark_pool_thread():
    _LOCAL.pool_thread = True


def _pool(threads):
    with _POOL_LOCK:
        if _POOL.get("size") != threads:
            old = _POOL.get("executor")
            if old is not None:
                old.shutdown(wait=False)
            _POOL["executor"] = ThreadPoolExecutor(
                threads, thread_name_prefix=_POOL_PREFIX, initializer=_mark_pool_thread
            )
            _POOL["size"] = threads
        return _POOL["executor"]


def _run(fn, parts, threads):
    """``fn(index, part)`` for every part; the caller and ``threads - 1`` pool threads each
    take the next part when free, so that one that starts late does not keep the rest waiting."""
    runners = min(threads, len(parts))
    if runners < 2:
        for index, part in enumerate(parts):
            fn(index, part)
        return
    counter = itertools.count()  # next() is atomic under the GIL

    def drain():
        for index in counter:
            if index >= len(parts):
                return
            fn(index, parts[index])

    futures = [_pool(threads - 1).submit(drain) for _ in range(runners - 1)]
    try:
        drain()
    finally:
        for future in futures:
            future.result()


def _even_parts(batch, count):
    """``count`` slices covering ``range(batch)``; the longer ones last (two parts of 5 rows:
    2 and 3, as the halves have always been cut)."""
    base, extra = divmod(batch, count)
    bounds = [0]
    for index in range(count):
        bounds.append(bounds[-1] + base + (index >= count - extra))
    return [slice(a, b) for a, b in itertools.pairwise(bounds)]


def over_batch(fn, batch, elements):
    """Runs ``fn(rows)`` over ``rows`` slices that cover ``range(batch)``.

    Work of at least ``_MIN_ELEMENTS`` elements is cut into ``max(2, workers)`` parts (two
    even on one worker, so that sums of per-part partials are the same with one worker or
    two; see ``_part_count``); smaller work is one call with ``slice(0, batch)``. ``fn`` must
    only write rows of its own slice, or partial results keyed by ``rows.start``.
    """
    if batch < 2 or elements < _MIN_ELEMENTS:
        fn(slice(0, batch))
        return
    parts = _even_parts(batch, min(batch, _part_count()))
    _run(lambda _, rows: fn(rows), parts, thread_count())


def over_chunks(fn, batch, per_chunk):
    """Runs ``fn(index, rows)`` for the ``per_chunk``-row slices ``rows`` covering
    ``range(batch)``, ``index`` numbering them from 0.

    ``fn`` must only write its own rows or results slot ``index``: then results do not depend
    on which thread ran which chunk, nor on the thread count.
    """
    chunks = [slice(start, min(start + per_chunk, batch)) for start in range(0, batch, per_chunk)]
    _run(fn, chunks, thread_count())


# ----------------------------------------------------------------------------- processes
def _library_threads():
    """The threads that BLAS / OpenMP pools keep: ``num_threads - 1`` each (the caller is the
    other). OpenBLAS stops them around a fork (``pthread_atfork``)."""
    return sum(max(0, info["num_threads"] - 1) for info in _blas_controller().info())


def _fork_is_safe():
    """No thread alive but this one, the op pool's idle threads and BLAS's pool: a forked child
    then inherits no lock that another thread holds.

    Python threads are known by name. Threads that native libraries start (JAX / XLA,
    TensorFlow, onnxruntime sessions: 16 for an imported JAX here) are not Python threads:
    they show as the process's threads (``/proc/self/task``) beyond the Python ones and BLAS's.
    """
    for thread in threading.enumerate():
        if thread is threading.current_thread():
            continue
        if not thread.name.startswith(_POOL_PREFIX):
            return False
    try:
        os_threads = len(os.listdir("/proc/self/task"))
    except OSError:  # no procfs: the Python threads are all that can be seen
        return True
    blas = _CALL_BLAS_THREADS[0] if _CALLS[0] else _library_threads()
    return os_threads - len(threading.enumerate()) - blas <= 0


def processes_allowed() -> bool:
    """Whether ``fit`` may fork helper processes now (the model's own conditions aside)."""
    mode = training_processes()
    # Linux only: elsewhere a forked child may not use the BLAS (macOS's Accelerate) safely.
    if mode == "never" or not sys.platform.startswith("linux") or training_workers() < 2:
        return False
    return mode == "always" or _fork_is_safe()


# ----------------------------------------------------------------------------- one call
@functools.cache
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@functools.cache
def _tune_malloc():
    """Applies the (irreversible) glibc settings once per process; returns whether glibc took
    them. Elsewhere (musl, macOS) nothing changes."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, 32 << 20) and mallopt(m_trim_threshold, 1 << 30))


@contextlib.contextmanager
def training_call():
    """The scope of one ``fit``/``evaluate``/``predict``: the ops' thread pool (started on first
    use, stopped when the last call running returns), BLAS on the calling thread (restored on
    exit), and malloc tuning when opted in.

    With several workers the ops split the work themselves; with one, BLAS's own threads would
    use CPUs that the setting withholds (and, measured on the loaded 2-core machine, made an
    epoch ten times slower spinning).
    """
    if malloc_tuning():
        _tune_malloc()
    workers = training_workers()
    with _POOL_LOCK:
        if not _CALLS[0]:
            _CALL_WORKERS[0] = workers
            _CALL_BLAS_THREADS[0] = _library_threads()
        _CALLS[0] += 1
    try:
        with _blas_controller().limit(limits=1, user_api="blas"):
            yield
    finally:
        with _POOL_LOCK:
            _CALLS[0] -= 1
            executor = _POOL.pop("executor", None) if not _CALLS[0] else None
            if executor is not None:
                _POOL.clear()
        if executor is not None:
            executor.shutdown(wait=True)  # idle threads: they leave at once
