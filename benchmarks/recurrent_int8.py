"""Full-int8 recurrent classifiers on real data: LSTM(64) and GRU(64) on Fashion-MNIST.

Each image is read as 28 time steps of 28 features (its rows). The model, trained with the
project's frontend: ``Input((28, 28))`` -> ``LSTM(64)`` or ``GRU(64)`` -> ``Dense(10,
softmax)``; Adam, sparse categorical cross-entropy, batch 128. Then ``compiler.compile(...,
quantize="int8", io="int8")`` with 500 training images as calibration data, and:

* float test accuracy (the frontend's ``predict``) vs full-int8 test accuracy (LiteRT's
  reference kernels, ``BUILTIN_REF``, on the whole test set), and the ONNX QDQ file's accuracy
  (onnxruntime);
* file sizes: float ``.tflite``, int8 ``.tflite``, int8 ``.onnx``;
* our runtime vs LiteRT's reference kernels on the int8 file: outputs compared on the whole
  test set (bit-exact expected) and the time of 256 images (median of 5 runs, one thread).

Usage::

    python benchmarks/recurrent_int8.py [--epochs 3] [--train 60000] [--layers lstm,gru]

Needs the Debian package ``dataset-fashion-mnist`` (or ``$KERAS_FASHION_MNIST_DIR``),
``ai-edge-litert`` and ``onnxruntime``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TIMED_IMAGES = 256


def load_data(train: int):
    from compiler.keras.datasets import fashion_mnist

    (x, y), (xt, yt) = fashion_mnist.load_data()
    x = (x[:train].astype(np.float32) / 255.0).reshape(-1, 28, 28)
    xt = (xt.astype(np.float32) / 255.0).reshape(-1, 28, 28)
    return x, y[:train].astype(np.int64), xt, yt.astype(np.int64)


def train(kind: str, x, y, epochs: int):
    from compiler import keras

    keras.utils.set_random_seed(0)
    layer = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[kind]
    model = keras.Sequential(
        [keras.Input((28, 28)), layer(64), keras.layers.Dense(10, activation="softmax")]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x, y, batch_size=128, epochs=epochs, verbose=0)
    return model, time.perf_counter() - start


def litert(content: bytes):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    return Interpreter(
        model_content=content,
        experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
        num_threads=1,
    )


def run_int8(interpreter, x: np.ndarray) -> np.ndarray:
    detail = interpreter.get_input_details()[0]
    scale, zp = detail["quantization"]
    xq = np.clip(np.floor(x / np.float32(scale) + 0.5) + zp, -128, 127).astype(np.int8)
    interpreter.resize_tensor_input(detail["index"], list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(detail["index"], xq)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def median_time(make, x, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        interpreter = make()
        start = time.perf_counter()
        run_int8(interpreter, x)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def onnx_accuracy(path: Path, x, y, input_detail) -> float:
    from compiler.verify import onnxruntime_session

    session = onnxruntime_session(str(path))
    scale, zp = input_detail["quantization"]
    xq = np.clip(np.floor(x / np.float32(scale) + 0.5) + zp, -128, 127).astype(np.int8)
    out = session.run(None, {session.get_inputs()[0].name: xq})[0]
    return float(np.mean(out.argmax(axis=1) == y))


def measure(kind: str, data, epochs: int) -> dict:
    import compiler
    import runtime

    x, y, xt, yt = data
    model, fit_seconds = train(kind, x, y, epochs)
    float_accuracy = float(np.mean(model.predict(xt, verbose=0).argmax(axis=1) == yt))
    out = Path(tempfile.mkdtemp(prefix=f"recurrent_int8_{kind}_"))
    compiler.compile(model, to="tflite", out_dir=out, stem=kind)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        result = compiler.compile(
            model,
            to="tflite,onnx",
            out_dir=out,
            stem=kind,
            quantize="int8",
            calibration=x[:500],
            io="int8",
        )
        compile_seconds = time.perf_counter() - start
    recurrent_warnings = [str(w.message) for w in caught if "recurrent" in str(w.message)]
    content = result.files["tflite"].read_bytes()
    from runtime.tflite.model import read_model

    (subgraph,) = read_model(content).subgraphs
    floats = sum(t.dtype.kind == "f" for t in subgraph.tensors)
    ref = litert(content)
    reference = run_int8(ref, xt)
    ours_out = run_int8(runtime.Interpreter(model_content=content), xt)
    int8_accuracy = float(np.mean(reference.argmax(axis=1) == yt))
    timed = xt[:TIMED_IMAGES]
    return {
        "kind": kind,
        "fit_s": fit_seconds,
        "float_acc": float_accuracy,
        "int8_acc": int8_accuracy,
        "onnx_acc": onnx_accuracy(result.files["onnx"], xt, yt, ref.get_input_details()[0]),
        "float_tensors": floats,
        "ops": sorted({op.name for op in subgraph.operators}),
        "bytes_float": (out / f"{kind}.tflite").stat().st_size,
        "bytes_int8": len(content),
        "bytes_onnx": result.files["onnx"].stat().st_size,
        "bit_exact": bool(np.array_equal(ours_out, reference)),
        "differing": int(np.sum(ours_out != reference)),
        "compile_s": compile_seconds,
        "ours_s": median_time(lambda: runtime.Interpreter(model_content=content), timed),
        "litert_s": median_time(lambda: litert(content), timed),
        "warnings": recurrent_warnings,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train", type=int, default=60_000, help="training images used")
    parser.add_argument("--layers", default="lstm,gru")
    args = parser.parse_args(argv)
    data = load_data(args.train)
    print(f"Fashion-MNIST as 28 steps x 28 features: {len(data[0])} training images, "
          f"{len(data[2])} test images, {args.epochs} epochs")  # fmt: skip
    rows = [measure(kind, data, args.epochs) for kind in args.layers.split(",")]
    for r in rows:
        print(f"\n{r['kind'].upper()}(64) -> Dense(10): trained in {r['fit_s']:.0f} s")
        print(f"  test accuracy: float {100 * r['float_acc']:.2f} %, int8 (LiteRT reference "
              f"kernels) {100 * r['int8_acc']:.2f} % ({100 * (r['int8_acc'] - r['float_acc']):+.2f}"
              f" points), int8 ONNX QDQ (onnxruntime) {100 * r['onnx_acc']:.2f} %")  # fmt: skip
        print(f"  int8 .tflite: {r['float_tensors']} float tensors; ops {', '.join(r['ops'])}")
        print(f"  files: float .tflite {r['bytes_float']:,} B, "
              f"int8 .tflite {r['bytes_int8']:,} B "
              f"({r['bytes_int8'] / r['bytes_float']:.2f}x), "
              f"int8 .onnx {r['bytes_onnx']:,} B")  # fmt: skip
        print(f"  compile to int8 (both formats, 500 calibration images): {r['compile_s']:.2f} s")
        exact = "bit-exact" if r["bit_exact"] else f"{r['differing']} outputs differ"
        print(f"  ours vs LiteRT BUILTIN_REF on {len(data[2])} test images: {exact}")
        print(f"  {TIMED_IMAGES} images, one thread (median of 5): ours {r['ours_s']:.3f} s, "
              f"LiteRT reference kernels {r['litert_s']:.3f} s "
              f"({r['ours_s'] / r['litert_s']:.2f}x)")  # fmt: skip
        for w in r["warnings"]:
            print(f"  warning: {w}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
