"""Benchmark: where one training step of the seed slide's CNN spends its CPU time.

Trains the slide's model (batch 128, Adam, categorical cross-entropy, accuracy) on the first
``--samples`` Fashion-MNIST images for ``--repeats`` epochs and keeps the fastest epoch. Prints
process CPU milliseconds per training step, split by primitive (forward / backward), the rest
(loss bookkeeping, optimizer, metrics, batching, autodiff engine), and the CPU cost of the
validation pass of a full epoch (6,000 images) spread over its 422 steps.

CPU time, not wall time: on a shared machine other load inflates wall time much more than CPU
time. It runs on one training worker (``KESTREL_TRAINING_WORKERS=1``, set when unset: every
primitive on the calling thread, no helper process, so that all the work is this process's) and
one BLAS thread (``OPENBLAS_NUM_THREADS=1``, likewise), so that BLAS threads spinning on a busy
machine do not count.

    python benchmarks/profile_slide_cnn_step.py [--samples 3840] [--repeats 3]
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("KESTREL_TRAINING_WORKERS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FULL_STEPS = 422  # Fashion-MNIST, validation_split=0.1, batch 128
FULL_VALIDATION = 6000


def _timed_primitives(totals):
    """Wraps every registered primitive's rules so that their CPU time adds into ``totals``."""
    from compiler.keras.ops import _core

    clock = time.process_time

    def wrap(rule, key):
        def timed(*args, **kwargs):
            start = clock()
            result = rule(*args, **kwargs)
            totals[key] += clock() - start
            return result

        return timed

    for name, prim in _core.PRIMITIVES.items():
        prim.forward = wrap(prim.forward, f"{name} forward")
        if prim.backward is not None:
            prim.backward = wrap(prim.backward, f"{name} backward")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=3840, help="training images (x 128)")
    parser.add_argument("--repeats", type=int, default=3, help="epochs; the fastest is kept")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
    from slide_cnn_to_apps import build_model

    from compiler import keras

    totals = collections.defaultdict(float)
    _timed_primitives(totals)
    keras.utils.set_random_seed(0)
    (x, y), _ = keras.datasets.fashion_mnist.load_data()
    x = x[: args.samples].astype("float32")[..., None] / 255
    y = keras.utils.to_categorical(y[: args.samples], 10)
    model = build_model()
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x[:256], y[:256], batch_size=128, epochs=1, verbose=0)  # warm-up
    steps = -(-len(x) // 128)
    best = None
    for _ in range(args.repeats):
        totals.clear()
        start = time.process_time()
        model.fit(x, y, batch_size=128, epochs=1, verbose=0)
        total = time.process_time() - start
        if best is None or total < best[0]:
            best = (total, dict(totals))
    total, parts = best
    start = time.process_time()
    model.evaluate(x, y, batch_size=128, verbose=0)
    validation = (time.process_time() - start) * FULL_VALIDATION / len(x) / FULL_STEPS

    blas = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "KESTREL_"))}
    print(
        f"slide CNN, one training step (batch 128), CPU ms; BLAS env: {blas}; load average "
        f"{os.getloadavg()[0]:.2f}"
    )
    for key, seconds in sorted(parts.items(), key=lambda kv: -kv[1]):
        if seconds * 1000 / steps >= 0.05:
            print(f"  {key:32s} {seconds * 1000 / steps:7.2f}")
    print(
        f"  {'(engine, loss, optimizer, rest)':32s} "
        f"{(total - sum(parts.values())) * 1000 / steps:7.2f}"
    )
    print(f"  {'= training step':32s} {total * 1000 / steps:7.2f}")
    print(f"  {'+ validation share':32s} {validation * 1000:7.2f}")
    per_epoch = (total / steps + validation) * FULL_STEPS
    print(f"=> {per_epoch:.1f} CPU-s per full epoch ({FULL_STEPS} steps + validation)")


if __name__ == "__main__":
    main()
