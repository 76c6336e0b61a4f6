"""Training speed and accuracy of LSTM / GRU / SimpleRNN against Keras 3 + TensorFlow CPU.

Task: 10,000 sequences of 50 steps with 8 standard-normal features (seeded); label 1 when the
sum of feature 0 over the sequence is positive. Model: ``<RNN>(64)`` then ``Dense(1,
sigmoid)``; Adam, binary cross-entropy, batch 128, 3 epochs.

Reference (Keras 3 + TensorFlow 2.21 CPU, 2-core machine): LSTM 1.13 s, GRU 1.90 s,
SimpleRNN 0.56 s per epoch; 95 / 96 / 90 % training accuracy after 3 epochs. When TensorFlow
is installed, the same run is repeated with it and printed alongside.

Usage::

    python benchmarks/train_rnn.py [--layers lstm,gru,simple_rnn] [--epochs 3] [--blas-threads N]

OpenBLAS reads its settings at import: ``--blas-threads N`` restarts the script with
``OPENBLAS_NUM_THREADS=N``; the settings in effect are printed. Per-step GEMMs here are small
(128 x 64 x 256): on a loaded machine, OpenBLAS threads that wait for a busy core can make them
10x slower, so the load average is printed, and the process CPU time next to the wall time
(with one BLAS thread, the CPU time is the single-core work whatever the load).
"""

import argparse
import os
import sys
import time

import numpy as np

KERAS_REFERENCE = {  # seconds per epoch, training accuracy after 3 epochs
    "lstm": (1.13, 0.95),
    "gru": (1.90, 0.96),
    "simple_rnn": (0.56, 0.90),
}
LAYER_CLASSES = {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "SimpleRNN"}


def make_data(n=10_000, steps=50, features=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, steps, features)).astype(np.float32)
    y = (x[:, :, 0].sum(axis=1) > 0).astype(np.float32)[:, None]
    return x, y


def train(keras, kind, x, y, epochs, batch_size=128, seed=1):
    """Trains one model with ``keras`` (ours or the real one); returns epoch times, accuracy."""
    if hasattr(keras, "utils") and hasattr(keras.utils, "set_random_seed"):
        keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input(x.shape[1:]),
            getattr(keras.layers, LAYER_CLASSES[kind])(64),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    times, cpu_times = [], []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start, self.cpu_start = time.perf_counter(), time.process_time()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)
            cpu_times.append(time.process_time() - self.cpu_start)

    history = model.fit(
        x, y, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=[EpochTimer()]
    )
    return times, cpu_times, float(history.history["accuracy"][-1])


def forward_backward_time(kind, x, y, batch_size=128, batches=20):
    """Without ``fit``: the time of forward + backward over ``batches`` batches, per epoch."""
    from compiler import keras
    from compiler.keras import ops

    model = keras.Sequential(
        [
            keras.Input(x.shape[1:]),
            getattr(keras.layers, LAYER_CLASSES[kind])(64),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    start = time.perf_counter()
    for b in range(batches):
        rows = slice(b * batch_size, (b + 1) * batch_size)
        p = model(x[rows], training=True)
        loss = -ops.mean(y[rows] * ops.log(p + 1e-7) + (1 - y[rows]) * ops.log(1 - p + 1e-7))
        loss.backward()
    per_batch = (time.perf_counter() - start) / batches
    return per_batch * int(np.ceil(len(x) / batch_size))


def real_keras():
    try:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras  # noqa: F401 - only to see whether Keras 3 + a backend are installed
        import tensorflow  # noqa: F401
    except ImportError:
        return None
    import keras

    return keras


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default="lstm,gru,simple_rnn")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="restart with OPENBLAS_NUM_THREADS set to this",
    )
    args = parser.parse_args()
    if args.blas_threads is not None and os.environ.get("OPENBLAS_NUM_THREADS") != str(
        args.blas_threads
    ):
        os.environ["OPENBLAS_NUM_THREADS"] = str(args.blas_threads)
        os.execv(sys.executable, [sys.executable, *sys.argv])
    kinds = [k.strip() for k in args.layers.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(LAYER_CLASSES))
    if unknown:
        parser.error(f"unknown layer kinds {unknown}; choose from {sorted(LAYER_CLASSES)}")

    from compiler import keras as ours

    settings = {
        k: os.environ.get(k, "(unset)")
        for k in ("OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    }
    load = os.getloadavg()
    print(f"cores: {os.cpu_count()}, load average: {load}, {settings}")
    if load[0] > (os.cpu_count() or 1) and settings["OPENBLAS_NUM_THREADS"] == "(unset)":
        print(
            "note: the machine is busy; OpenBLAS threads that wait for a core make the small "
            "per-step GEMMs many times slower. Compare with --blas-threads 1."
        )
    x, y = make_data()
    reference_keras = real_keras()
    has_fit = hasattr(ours.Model, "fit") and hasattr(ours, "callbacks")
    if not has_fit:
        print("fit() is not available: timing forward + backward only (no optimizer step)")
    for kind in kinds:
        ref_time, ref_acc = KERAS_REFERENCE[kind]
        if has_fit:
            times, cpu_times, acc = train(ours, kind, x, y, args.epochs)
            epoch_times = ", ".join(f"{t:.2f}" for t in times)
            print(
                f"{kind:>10}: ours {np.median(times):.2f} s/epoch wall (epochs: {epoch_times}; "
                f"CPU {np.median(cpu_times):.2f} s/epoch), train accuracy {acc:.1%} | "
                f"Keras reference {ref_time:.2f} s/epoch, {ref_acc:.0%}"
            )
        else:
            t = forward_backward_time(kind, x, y)
            print(
                f"{kind:>10}: ours forward+backward {t:.2f} s/epoch | Keras reference "
                f"{ref_time:.2f} s/epoch (full training step)"
            )
        if reference_keras is not None:
            times, _, acc = train(reference_keras, kind, x, y, args.epochs)
            print(
                f"{'':>10}  Keras {reference_keras.__version__} measured here: "
                f"{np.median(times[1:] or times):.2f} s/epoch, train accuracy {acc:.1%}"
            )
    if reference_keras is None:
        print("(TensorFlow / Keras not installed here: Keras figures are the reference ones)")


if __name__ == "__main__":
    main()
