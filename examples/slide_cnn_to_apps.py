"""The main job: the seed slide's CNN, from training to the demo apps.

1. trains the slide's model on Fashion-MNIST (the slide's program, imports changed);
2. compiles it to a full-int8 ``.tflite`` (int8 input and output, as the apps feed it) and a
   QDQ ``.onnx`` (float input x/255), calibrated on training images;
3. verifies both on the 10,000 test images: our runtime against LiteRT's reference kernels
   (bit for bit) and default kernels, and against onnxruntime; accuracies against the float
   model;
4. writes the models, ``contract.json``, ``labels.txt`` and real test images into
   ``android_demo/`` and ``ios_demo/``, and prints a summary table.

Usage, with the project installed (the README's set-up command)::

    .venv/bin/python examples/slide_cnn_to_apps.py [--epochs 15] [--out build]

``--train-size`` and ``--test-size`` take the first N images only (quick checks; the tests run
the job that way on generated data through ``$KERAS_FASHION_MNIST_DIR``).
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

import compiler
import runtime
from compiler import keras
from compiler.bundle import bundle_apps
from compiler.keras import layers
from compiler.quantize.params import round_half_away

# This script lives in the repository; its outputs go beside it unless told otherwise.
ROOT = Path(__file__).resolve().parents[1]


def build_model(input_shape=(28, 28, 1), num_classes=10):
    """The model of the seed slide, unchanged."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="slide_cnn",
    )


def run_tflite(interpreter, x, batch=1000):
    """int8 outputs of a one-input int8 model for float images ``x`` (quantized as TFLite)."""
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    scale, zero_point = inp["quantization"]
    results = []
    for i in range(0, len(x), batch):
        chunk = x[i : i + batch]
        q = np.clip(round_half_away(chunk / np.float32(scale)) + zero_point, -128, 127)
        interpreter.resize_tensor_input(inp["index"], list(chunk.shape))
        interpreter.allocate_tensors()
        interpreter.set_tensor(inp["index"], q.astype(np.int8))
        interpreter.invoke()
        results.append(interpreter.get_tensor(out["index"]).copy())
    return np.concatenate(results)


def run_onnx(session, x, batch=1000):
    name = session.get_inputs()[0].name
    return np.concatenate(
        [session.run(None, {name: x[i : i + batch]})[0] for i in range(0, len(x), batch)]
    )


class Timer:
    def __init__(self):
        self.times = {}

    def __call__(self, name):
        timer = self

        class _Span:
            def __enter__(self):
                self.start = time.perf_counter()

            def __exit__(self, *exc):
                timer.times[name] = time.perf_counter() - self.start

        return _Span()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=15, help="training epochs (default 15)")
    parser.add_argument("--out", default=str(ROOT / "build"), help="output directory")
    parser.add_argument("--calibration-size", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--train-size", type=int, help="train on the first N images only")
    parser.add_argument("--test-size", type=int, help="verify on the first N test images only")
    parser.add_argument("--android-dir", default=str(ROOT / "android_demo"))
    parser.add_argument("--ios-dir", default=str(ROOT / "ios_demo"))
    args = parser.parse_args(argv)
    timer = Timer()
    out = Path(args.out)

    keras.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    x_train, y_train = x_train[: args.train_size], y_train[: args.train_size]
    raw_test, y_test = x_test[: args.test_size], y_test[: args.test_size]
    labels_test = y_test.copy()
    x_train = x_train.astype("float32")[..., None] / 255
    x_test = raw_test.astype("float32")[..., None] / 255
    y_train = keras.utils.to_categorical(y_train, 10)
    y_test = keras.utils.to_categorical(y_test, 10)

    print(f"== training the slide CNN for {args.epochs} epoch(s)")
    model = build_model()
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    with timer("train"):
        model.fit(x_train, y_train, batch_size=128, epochs=args.epochs, validation_split=0.1)
    float_probs = model.predict(x_test, batch_size=1000, verbose=0)
    float_acc = float(np.mean(float_probs.argmax(1) == labels_test))
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "slide_cnn.keras")

    calibration = x_train[: args.calibration_size]
    print(f"== compiling to int8 (calibration on {len(calibration)} training images)")
    bar = keras.utils.Progbar(len(calibration), unit_name="image")
    with timer("compile"):
        tflite = compiler.compile(
            model,
            to="tflite",
            out_dir=out,
            quantize="int8",
            calibration=calibration,
            io="int8",
            stem="slide_cnn",
            progress=lambda done, total: bar.update(done),
        )
        onnx = compiler.compile(
            model,
            to="onnx",
            out_dir=out,
            quantize="int8",
            calibration=calibration,
            io="float",
            stem="slide_cnn",
        )
    tflite_path, onnx_path = tflite.files["tflite"], onnx.files["onnx"]
    report = tflite.quantization_report
    print(
        f"quantization error of the int8 .tflite against the float model, measured on the "
        f"first {report.samples} of the {len(calibration)} calibration images:"
    )
    print(report.table())

    print(f"== verifying on {len(x_test):,} test images")
    results = {}
    with timer("verify"):
        ours = run_tflite(runtime.Interpreter(model_path=str(tflite_path)), x_test)
        results["int8 .tflite (our runtime)"] = ours
        results["int8 .onnx (our runtime)"] = run_onnx(
            runtime.InferenceSession(str(onnx_path)), x_test
        )
        try:
            from ai_edge_litert.interpreter import Interpreter, OpResolverType

            reference = run_tflite(
                Interpreter(
                    model_path=str(tflite_path),
                    experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                ),
                x_test,
            )
            results["int8 .tflite (LiteRT reference)"] = reference
            results["int8 .tflite (LiteRT default)"] = run_tflite(
                Interpreter(model_path=str(tflite_path)), x_test
            )
            exact = np.array_equal(reference, ours)
            print(
                f"our runtime vs LiteRT reference kernels: "
                f"{'bit-exact' if exact else 'DIFFERENT'} on {len(x_test)} images"
            )
            if not exact:
                raise SystemExit("int8 outputs of our runtime differ from LiteRT's reference")
        except ImportError:
            print("(ai-edge-litert not installed: LiteRT cross-check skipped)")
        try:
            from compiler.verify import onnxruntime_session

            results["int8 .onnx (onnxruntime)"] = run_onnx(onnxruntime_session(onnx_path), x_test)
        except ImportError:
            print("(onnxruntime not installed: onnxruntime cross-check skipped)")

    print(f"== bundling into {args.android_dir} and {args.ios_dir}")
    # One test image per class present (all ten on the real test set).
    picks = [int(np.flatnonzero(labels_test == c)[0]) for c in np.unique(labels_test)]
    bundled = bundle_apps(
        tflite_path,
        onnx_path,
        raw_test[picks],
        labels_test[picks],
        android_dir=args.android_dir,
        ios_dir=args.ios_dir,
    )
    for path in bundled.files:
        print(f"  wrote {os.path.relpath(path)}")

    tflite_top1 = ours.argmax(1)
    onnx_top1 = results["int8 .onnx (our runtime)"].argmax(1)
    print("\n== summary")
    print(f"  {'model':<34} {'test accuracy':>13}")
    print(f"  {'float (frontend)':<34} {float_acc:>12.2%}")
    for name, outputs in results.items():
        print(f"  {name:<34} {np.mean(outputs.argmax(1) == labels_test):>12.2%}")
    print(f"  top-1 agreement int8 .tflite vs .onnx: {np.mean(tflite_top1 == onnx_top1):.2%}")
    print(
        f"  {tflite_path.name}: {tflite_path.stat().st_size:,} bytes; "
        f"{onnx_path.name}: {onnx_path.stat().st_size:,} bytes"
    )
    print("  " + ", ".join(f"{k} {v:.1f} s" for k, v in timer.times.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
