"""int8 quality and cost on the slide CNN (the issue's benchmark).

Trains the slide's model on Fashion-MNIST (``--epochs``, default 15; or ``--model m.keras``),
compiles it to int8 ``.tflite`` and QDQ ``.onnx`` with 500 calibration images, and prints:

* test accuracy on the 10,000 test images: float (frontend), int8 ``.tflite`` in LiteRT (and
  in our runtime), int8 ``.onnx`` in onnxruntime;
* top-1 agreement between the int8 ``.tflite`` and ``.onnx``;
* the ``.tflite`` size;
* wall time and peak RSS of the whole ``compile --quantize int8`` process (median of
  ``--runs``), as a subprocess, like a user runs it.

Reference (TFLiteConverter on the same model, same machine class): float 90.12 %, int8
90.15 %, 42,064 bytes, 3.5 s and 562 MB for the conversion.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _train(epochs, out):
    sys.path.insert(0, str(ROOT / "examples"))
    from slide_cnn_to_apps import build_model

    from compiler import keras

    keras.utils.set_random_seed(1337)
    (x, y), _ = keras.datasets.fashion_mnist.load_data()
    x = x.astype("float32")[..., None] / 255
    model = build_model()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x, y, batch_size=128, epochs=epochs, validation_split=0.1, verbose=2)
    model.save(out)


def _compile_process(model_path, calib, out_dir, runs):
    """Median wall seconds and peak RSS (MB) of ``compile`` run as a user runs it."""
    walls, rss = [], []
    probe = (
        "import resource, runpy, sys; sys.argv = ['compile'] + sys.argv[1:]; "
        "from compiler.cli import main; code = main(sys.argv[1:]); "
        "print('RSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); "
        "sys.exit(code)"
    )
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                probe,
                str(model_path),
                "--quantize",
                "int8",
                "--calibration",
                str(calib),
                "-o",
                str(out_dir),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        walls.append(time.perf_counter() - start)
        rss.append(int(done.stderr.split("RSS")[-1].split()[0]) / 1024)
    return statistics.median(walls), max(rss)


def _tflite_outputs(interpreter, x):
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    interpreter.resize_tensor_input(inp["index"], list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(out["index"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--model", help="an already trained .keras file (skips training)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    import runtime
    from compiler import keras

    work = Path(tempfile.mkdtemp(prefix="quantize_bench_"))
    model_path = Path(args.model) if args.model else work / "slide_cnn.keras"
    if not args.model:
        _train(args.epochs, model_path)
    (x_train, _), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    x_test = x_test.astype("float32")[..., None] / 255
    calib = work / "calib.npz"
    np.savez(calib, x=x_train[:500].astype("float32")[..., None] / 255)

    wall, rss = _compile_process(model_path, calib, work, args.runs)
    tflite_path = work / f"{model_path.stem}.int8.tflite"
    onnx_path = work / f"{model_path.stem}.int8.onnx"

    model = keras.models.load_model(model_path)
    results = {"float (frontend)": model.predict(x_test, batch_size=1000, verbose=0)}
    results["int8 .tflite (our runtime)"] = _tflite_outputs(
        runtime.Interpreter(model_path=str(tflite_path)), x_test
    )
    try:
        from ai_edge_litert.interpreter import Interpreter

        results["int8 .tflite (LiteRT)"] = _tflite_outputs(
            Interpreter(model_path=str(tflite_path)), x_test
        )
    except ImportError:
        print("ai-edge-litert not installed: LiteRT column skipped")
    try:
        from compiler.verify import onnxruntime_session

        session = onnxruntime_session(onnx_path)
        results["int8 .onnx (onnxruntime)"] = session.run(
            None, {session.get_inputs()[0].name: x_test}
        )[0]
    except ImportError:
        # In batches: one run over 10,000 images would hold ~0.9 GB, past the runtime's
        # default memory budget (runtime.Limits).
        session = runtime.InferenceSession(str(onnx_path))
        results["int8 .onnx (our runtime)"] = np.concatenate(
            [
                session.run(None, {"input_layer": x_test[i : i + 1000]})[0]
                for i in range(0, len(x_test), 1000)
            ]
        )

    accuracy = {k: float(np.mean(v.argmax(1) == y_test)) for k, v in results.items()}
    onnx_key = next(k for k in results if ".onnx" in k)
    agreement = float(
        np.mean(results["int8 .tflite (our runtime)"].argmax(1) == results[onnx_key].argmax(1))
    )
    for name, acc in accuracy.items():
        print(f"{name:<28} test accuracy {acc:.2%}")
    print(f"top-1 agreement .tflite vs .onnx: {agreement:.2%}")
    print(
        f"{tflite_path.name}: {tflite_path.stat().st_size:,} bytes "
        f"(TFLiteConverter: 42,064); {onnx_path.name}: {onnx_path.stat().st_size:,} bytes"
    )
    print(
        f"compile --quantize int8, whole process: median {wall:.2f} s wall over {args.runs} "
        f"runs, peak RSS {rss:.0f} MB (TFLiteConverter: 3.5 s, 562 MB)"
    )
    print(
        json.dumps(
            {
                "accuracy": accuracy,
                "agreement": agreement,
                "tflite_bytes": tflite_path.stat().st_size,
                "compile_wall_s": wall,
                "compile_rss_mb": rss,
            }
        )
    )


if __name__ == "__main__":
    main()
