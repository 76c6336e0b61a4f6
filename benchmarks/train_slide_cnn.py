"""Benchmark: the seed slide's CNN trained on the full Fashion-MNIST set with our frontend.

Batch 128, ``validation_split=0.1`` (54,000 training images, 422 steps per epoch), Adam,
categorical cross-entropy, exactly as the slide. Prints the median seconds per epoch, the peak
resident memory of the process and the test accuracy. Targets (2-core machine, DESIGN.md):
<= 9.1 s per epoch (Keras 3 + TensorFlow CPU on that machine), >= 90 % test accuracy after 15
epochs, peak RSS < 1.5 GB. When TensorFlow/Keras is importable the same model is trained there
too, after ours, and the ratio of seconds per epoch is printed.

    python benchmarks/train_slide_cnn.py [--epochs 15] [--train-limit N] [--verbose 2]
        [--no-keras] [--seed 0]

Figures depend on BLAS threading: say which OPENBLAS_* settings were used when quoting them.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_S_PER_EPOCH = 9.1
TARGET_ACCURACY = 0.90
TARGET_RSS_GB = 1.5


def _prepare(keras, limit):
    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    if limit:
        x_train, y_train = x_train[:limit], y_train[:limit]
    x_train = x_train.astype("float32")[..., None] / 255
    x_test = x_test.astype("float32")[..., None] / 255
    y_train = keras.utils.to_categorical(y_train, 10)
    y_test = keras.utils.to_categorical(y_test, 10)
    return x_train, y_train, x_test, y_test


def _slide_model(keras, layers):
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])


def _train(keras, layers, epochs, limit, verbose, seed):
    keras.utils.set_random_seed(seed)
    x_train, y_train, x_test, y_test = _prepare(keras, limit)
    model = _slide_model(keras, layers)
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    times, cpu_times = [], []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()
            self.cpu_start = time.process_time()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)
            cpu_times.append(time.process_time() - self.cpu_start)

    model.fit(x_train, y_train, batch_size=128, epochs=epochs, validation_split=0.1,
              callbacks=[EpochTimer()], verbose=verbose)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return times, cpu_times, float(loss), float(accuracy)


def _peak_rss_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--train-limit", type=int, default=None,
                        help="use only the first N training images (quick runs)")
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-keras", action="store_true", help="skip the TensorFlow run")
    args = parser.parse_args(argv)

    from compiler import keras
    from compiler.keras import layers

    blas = {k: os.environ[k] for k in sorted(os.environ) if k.startswith("OPENBLAS")}
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"BLAS env: {blas or 'default'}")
    times, cpu_times, loss, accuracy = _train(keras, layers, args.epochs, args.train_limit,
                                              args.verbose, args.seed)
    ours = statistics.median(times)
    rss = _peak_rss_gb()
    print(f"ours: {ours:.2f} s/epoch (median of {len(times)}; first {times[0]:.2f} s; process "
          f"CPU {statistics.median(cpu_times):.2f} s/epoch, which other load on the machine "
          f"does not inflate), test accuracy {accuracy:.4f}, test loss {loss:.4f}, peak RSS "
          f"{rss:.2f} GB")
    full = args.train_limit is None
    speed = ("ok" if ours <= TARGET_S_PER_EPOCH else "MISSED") if full else "n/a (subset)"
    judged = args.epochs >= 15 and full
    quality = "ok" if accuracy >= TARGET_ACCURACY else ("MISSED" if judged else "n/a")
    print(f"targets: <= {TARGET_S_PER_EPOCH} s/epoch [{speed}], "
          f">= {TARGET_ACCURACY:.0%} accuracy after 15 epochs [{quality}], "
          f"RSS < {TARGET_RSS_GB} GB [{'ok' if rss < TARGET_RSS_GB else 'MISSED'}]")

    if args.no_keras:
        return
    try:
        import keras as real_keras
        from keras import layers as real_layers
    except ImportError:
        print("TensorFlow/Keras not importable: no side-by-side run")
        return
    k_times, _, _, k_accuracy = _train(real_keras, real_layers, args.epochs, args.train_limit,
                                       args.verbose, args.seed)
    theirs = statistics.median(k_times)
    print(f"keras {real_keras.__version__}: {theirs:.2f} s/epoch, test accuracy "
          f"{k_accuracy:.4f}; ours / keras = {ours / theirs:.2f}x")


if __name__ == "__main__":
    main()
