"""The training engine's parallel work (compiler/keras/_parallelism.py): its settings, results
that do not depend on the worker count, forking only when safe, and no process-wide change
that outlives a ``fit``.

Oracles: the same training on one worker (histories and weights to float rounding, dropout
included); ``threadpoolctl``'s view of BLAS and glibc's own chunk headers (whether a block of
a given size is served by mmap) read in fresh interpreters before and after ``fit``.
"""

import importlib
import json
import os
import platform
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest

from compiler import keras
from compiler.keras import layers

parallelism = importlib.import_module("compiler.keras._parallelism")
data_parallel = importlib.import_module("compiler.keras._data_parallel")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


@pytest.fixture
def settings(monkeypatch):
    """Every setting back to its default, and back again after the test."""
    for key in parallelism._settings:
        monkeypatch.setitem(parallelism._settings, key, None)
    for variable in ("KESTREL_TRAINING_WORKERS", "KESTREL_TRAINING_PROCESSES"):
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


@pytest.fixture
def helpers(monkeypatch):
    """Records the helper processes every data-parallel ``fit`` starts."""
    started = []
    original = data_parallel.DataParallel.__init__

    def recording(self, *args, **kwargs):
        original(self, *args, **kwargs)
        started.append(list(self.pids))

    monkeypatch.setattr(data_parallel.DataParallel, "__init__", recording)
    return started


# ----------------------------------------------------------------------------- settings
def test_workers_default_to_the_cpus_this_process_may_use(settings):
    settings.setenv("OPENBLAS_NUM_THREADS", "1")  # BLAS's variable, not ours
    assert keras.config.training_workers() == len(os.sched_getaffinity(0))


def test_workers_from_the_setting_then_the_environment(settings):
    settings.setenv("KESTREL_TRAINING_WORKERS", "3")
    assert keras.config.training_workers() == 3
    keras.config.set_training_workers(5)
    assert keras.config.training_workers() == 5
    keras.config.set_training_workers(None)
    assert keras.config.training_workers() == 3


@pytest.mark.parametrize("value", [0, -2, 1.5, True, "2"])
def test_a_bad_worker_count_is_refused(settings, value):
    with pytest.raises(ValueError, match="workers"):
        keras.config.set_training_workers(value)


@pytest.mark.parametrize("text", ["0", "two", "-1"])
def test_a_bad_worker_variable_names_itself(settings, text):
    settings.setenv("KESTREL_TRAINING_WORKERS", text)
    with pytest.raises(ValueError, match="KESTREL_TRAINING_WORKERS"):
        keras.config.training_workers()


def test_process_modes(settings):
    assert keras.config.training_processes() == "auto"
    settings.setenv("KESTREL_TRAINING_PROCESSES", "never")
    assert keras.config.training_processes() == "never"
    keras.config.set_training_processes("always")
    assert keras.config.training_processes() == "always"
    with pytest.raises(ValueError, match="mode"):
        keras.config.set_training_processes("fork")
    keras.config.set_training_processes(None)
    settings.setenv("KESTREL_TRAINING_PROCESSES", "sometimes")
    with pytest.raises(ValueError, match="KESTREL_TRAINING_PROCESSES"):
        keras.config.training_processes()


@pytest.mark.parametrize("batch, count", [(5, 2), (7, 3), (8, 4), (3, 3), (33, 5)])
def test_parts_cover_the_batch_longer_ones_last(batch, count):
    parts = parallelism._even_parts(batch, count)
    assert len(parts) == count and parts[0].start == 0 and parts[-1].stop == batch
    sizes = [p.stop - p.start for p in parts]
    assert sizes == sorted(sizes) and max(sizes) - min(sizes) <= 1
    assert all(a.stop == b.start for a, b in zip(parts, parts[1:]))


def test_ops_split_over_more_threads_give_the_same_numbers(settings):
    """Four threads cut four parts, not two: smaller GEMMs and other groupings of the summed
    partials, so the same numbers to float rounding (one and two workers: bit for bit, see
    test_ops_fast_paths)."""
    settings.setattr(parallelism, "_MIN_ELEMENTS", 0)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((9, 12, 12, 3)).astype(np.float32)
    kernel = rng.standard_normal((3, 3, 3, 8)).astype(np.float32)
    bias = rng.standard_normal(8).astype(np.float32)
    results = {}
    for workers in (1, 4):
        keras.config.set_training_workers(workers)
        tx, tk, tb = (keras.ops.Tensor(a.copy(), requires_grad=True) for a in (x, kernel, bias))
        out = keras.ops.conv(tx, tk, bias=tb, fuse_relu=True)
        pooled = keras.ops.max_pool(out, 2)
        keras.ops.sum(pooled * np.float32(1.5)).backward()
        results[workers] = [out.data, pooled.data, tx.grad, tk.grad, tb.grad]
    for got, expected in zip(results[4], results[1], strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def _pool_threads():
    return [t for t in threading.enumerate() if t.name.startswith(parallelism._POOL_PREFIX)]


def test_op_threads_live_only_within_a_call(settings):
    settings.setattr(parallelism, "_MIN_ELEMENTS", 0)
    keras.config.set_training_workers(2)
    x = np.random.default_rng(0).standard_normal((8, 8, 8, 2)).astype(np.float32)
    keras.ops.max_pool(x, 2)  # outside fit/evaluate/predict: on the calling thread
    assert _pool_threads() == []
    seen = []

    class Probe(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(len(_pool_threads()))

    keras.config.set_training_processes("never")  # the ops' threads, not helper processes
    model = keras.Sequential([keras.Input((8, 8, 2)), layers.MaxPooling2D(2), layers.Flatten()])
    model.compile(loss="mse", optimizer="sgd")
    model.fit(x, np.zeros((8, 32), np.float32), batch_size=8, verbose=0, callbacks=[Probe()])
    assert seen == [1]  # one pool thread beside the caller while fit ran
    assert _pool_threads() == []


# ----------------------------------------------------------------------------- determinism
def _cnn(dropout):
    keras.utils.set_random_seed(7)
    model = keras.Sequential(
        [
            keras.Input((10, 10, 1)),
            layers.Conv2D(4, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dropout(dropout),
            layers.Dense(16, activation="relu"),
            layers.Dropout(dropout, seed=3),  # a generator of its own
            layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def _data(n=150):
    rng = np.random.default_rng(8)
    x = rng.random((n, 10, 10, 1)).astype(np.float32)
    y = keras.utils.to_categorical(rng.integers(0, 3, n), 3)
    return x, y


def _train(workers, dropout=0.5, batch_size=48):
    keras.config.set_training_workers(workers)
    model = _cnn(dropout)
    x, y = _data()
    history = model.fit(x, y, batch_size=batch_size, epochs=3, verbose=0, validation_split=0.2)
    return history.history, model.get_weights()


def test_same_seed_same_training_with_one_two_or_three_workers(settings, helpers):
    keras.config.set_training_processes("always")  # even if JAX's threads run here (xdist)
    one, one_weights = _train(1)
    assert helpers == []
    for workers in (2, 3):
        history, weights = _train(workers)
        assert len(helpers[-1]) == workers - 1  # helper processes: the parent is a worker too
        for key, values in one.items():
            np.testing.assert_allclose(history[key], values, rtol=2e-5, atol=1e-6)
        for got, expected in zip(weights, one_weights, strict=True):
            np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


def test_never_keeps_every_step_in_this_process(settings, helpers):
    keras.config.set_training_processes("never")
    history, _ = _train(2)
    assert helpers == []
    reference, _ = _train(1)
    for key, values in reference.items():
        np.testing.assert_allclose(history[key], values, rtol=2e-5, atol=1e-6)


def test_no_fork_while_another_thread_runs_unless_asked(settings, helpers):
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, name="users-thread")
    other.start()
    try:
        _train(2)
        assert helpers == []  # "auto": forking now could copy a lock that thread holds
        keras.config.set_training_processes("always")
        _train(2)
        assert len(helpers) == 1
    finally:
        stop.set()
        other.join()


_NATIVE_THREADS = """
import json
import jax.numpy as jnp
from compiler import keras
from compiler.keras import _data_parallel
from tests.compiler.keras.test_parallelism import _cnn, _data
jnp.ones(3) + 1  # JAX / XLA start their thread pools: native threads, not Python ones
started = []
original = _data_parallel.DataParallel.__init__
def recording(self, *args, **kwargs):
    original(self, *args, **kwargs)
    started.append(len(self.pids))
_data_parallel.DataParallel.__init__ = recording
keras.config.set_training_workers(2)
x, y = _data(96)
_cnn(0.0).fit(x, y, batch_size=48, epochs=1, verbose=0)
keras.config.set_training_processes("always")
_cnn(0.0).fit(x, y, batch_size=48, epochs=1, verbose=0)
print(json.dumps(started))
"""


def test_no_fork_while_a_native_library_runs_threads_unless_asked():
    pytest.importorskip("jax")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KESTREL_")}
    done = subprocess.run(
        [sys.executable, "-c", _NATIVE_THREADS],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**env, "JAX_PLATFORMS": "cpu"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == [1]  # "auto": none; "always": one


_SCRIPT = """
import json, sys
import numpy as np
from compiler import keras
from tests.compiler.keras.test_parallelism import _cnn, _data
model = _cnn(0.5)
x, y = _data()
history = model.fit(x, y, batch_size=48, epochs=2, verbose=0)
print(json.dumps({"workers": keras.config.training_workers(),
                  "loss": history.history["loss"],
                  "weights": [w.tolist() for w in model.get_weights()]}))
"""


@pytest.mark.skipif(shutil.which("taskset") is None, reason="needs util-linux's taskset")
def test_one_cpu_under_taskset_trains_as_two_workers():
    env = {k: v for k, v in os.environ.items() if not k.startswith("KESTREL_")}
    runs = []
    for prefix, extra in ((["taskset", "-c", "0"], {}), ([], {"KESTREL_TRAINING_WORKERS": "2"})):
        done = subprocess.run(
            [*prefix, sys.executable, "-c", _SCRIPT],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**env, **extra},
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        runs.append(json.loads(done.stdout.splitlines()[-1]))
    assert [run["workers"] for run in runs] == [1, 2]
    np.testing.assert_allclose(runs[1]["loss"], runs[0]["loss"], rtol=2e-5)
    for got, expected in zip(runs[1]["weights"], runs[0]["weights"], strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


# ----------------------------------------------------------------------------- side effects
_PROBE = """
import ctypes, json, sys
import numpy as np
import threadpoolctl
from compiler import keras
from tests.compiler.keras.test_parallelism import _cnn, _data

libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, (ctypes.c_size_t,)
libc.free.argtypes = (ctypes.c_void_p,)


def served_by_mmap(size):
    # glibc's chunk header, one size_t before the block: bit 1 is IS_MMAPPED.
    block = libc.malloc(size)
    header = ctypes.c_size_t.from_address(block - ctypes.sizeof(ctypes.c_size_t)).value
    libc.free(block)
    return bool(header & 2)


def blas_threads():
    return [pool["num_threads"] for pool in threadpoolctl.threadpool_info()
            if pool["user_api"] == "blas"]


inside = []


class Probe(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        inside.append(blas_threads())


if sys.argv[1] == "opt-in":
    keras.config.set_malloc_tuning(True)
model = _cnn(0.0)
x, y = _data(96)
before = blas_threads()
if sys.argv[1] != "no-fit":
    model.fit(x, y, batch_size=48, epochs=1, verbose=0, callbacks=[Probe()])
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
print(json.dumps({"before": before, "inside": inside, "after": blas_threads(),
                  "mmap": served_by_mmap(16 << 20)}))
"""


def _probe(mode):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KESTREL_", "OPENBLAS_"))}
    env.update(OPENBLAS_NUM_THREADS="2", KESTREL_TRAINING_WORKERS="2")
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, mode],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_blas_threads_are_limited_inside_fit_and_restored_after():
    run = _probe("fit")
    assert run["before"] and all(n == 2 for n in run["before"])
    assert run["inside"] and all(threads == [1] * len(run["before"]) for threads in run["inside"])
    assert run["after"] == run["before"]


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's malloc"
)
def test_malloc_is_left_as_it_was_unless_the_user_opts_in():
    untouched, trained, opted_in = _probe("no-fit"), _probe("fit"), _probe("opt-in")
    assert untouched["mmap"] is True  # glibc's default: 16 MiB blocks are mappings of their own
    assert trained["mmap"] is True
    assert opted_in["mmap"] is False  # the opt-in keeps them in the heap (threshold 32 MiB)
