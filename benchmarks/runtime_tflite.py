"""Speed of the numpy TFLite runtime against LiteRT on the slide CNN (prints figures).

256 real Fashion-MNIST test images (``/usr/share/datasets/fashion-mnist``; the fixture's
io.npz inputs tiled when the dataset is absent), batch 256, medians of several runs:

- int8 (``slide_cnn.int8.tflite``): ours vs LiteRT's reference kernels (BUILTIN_REF), checked
  bit-exact on the same run; LiteRT default kernels shown for information.
- float (``slide_cnn.float.tflite``): ours vs LiteRT's default kernels, max abs difference.

Run: ``python benchmarks/runtime_tflite.py [--repeats N]``.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runtime import Interpreter  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "keras3"
MNIST = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")


def load_images(n: int) -> tuple[np.ndarray, str]:
    if MNIST.exists():
        with gzip.open(MNIST, "rb") as f:
            raw = f.read()
        count, rows, cols = (int.from_bytes(raw[i : i + 4], "big") for i in (4, 8, 12))
        images = np.frombuffer(raw, np.uint8, offset=16).reshape(count, rows, cols, 1)
        return (images[:n].astype(np.float32) / 255.0), "Fashion-MNIST t10k"
    x = np.load(FIXTURES / "slide_cnn.io.npz")["x0"]
    return np.resize(x, (n,) + x.shape[1:]).astype(np.float32), "fixture io.npz tiled"


def prepared(make, feed):
    """An interpreter sized for ``feed``; returns (interpreter, input index, output index)."""
    it = make()
    inp = it.get_input_details()[0]
    it.resize_tensor_input(inp["index"], feed.shape)
    it.allocate_tensors()
    return it, inp["index"], it.get_output_details()[0]["index"]


def interleaved(makers: dict, feed, repeats: int) -> tuple[dict, dict]:
    """Median wall seconds, outputs and median CPU ms per runner, measured round-robin so
    machine load drifts evenly."""
    runners = {name: prepared(make, feed) for name, make in makers.items()}
    times = {name: [] for name in runners}
    cpu = {name: [] for name in runners}
    outputs = {}
    for _ in range(repeats + 1):  # the first round warms up and is dropped
        for name, (it, i, o) in runners.items():
            c0, t0 = time.process_time(), time.perf_counter()
            it.set_tensor(i, feed)
            it.invoke()
            outputs[name] = it.get_tensor(o)
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    # CPU time of all threads: less sensitive than wall time to other load on the machine.
    cpu_ms = {n: statistics.median(c[1:]) * 1000 for n, c in cpu.items()}
    return {n: statistics.median(t[1:]) for n, t in times.items()}, outputs, cpu_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--images", type=int, default=256)
    args = parser.parse_args()
    from ai_edge_litert.interpreter import Interpreter as LiteRT
    from ai_edge_litert.interpreter import OpResolverType

    images, source = load_images(args.images)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"numpy {np.__version__}, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}"
    )
    print(f"input: {len(images)} images from {source}; median of {args.repeats} runs")
    print(f"load average before: {os.getloadavg()[0]:.2f}\n")

    int8_path = str(FIXTURES / "slide_cnn.int8.tflite")
    probe = LiteRT(model_path=int8_path)
    scale, zp = probe.get_input_details()[0]["quantization"]
    q = np.clip(np.floor(images / scale + 0.5) + zp, -128, 127).astype(np.int8)
    t, y, cpu = interleaved(
        {
            "ours": lambda: Interpreter(model_path=int8_path),
            "ref": lambda: LiteRT(
                model_path=int8_path, experimental_op_resolver_type=OpResolverType.BUILTIN_REF
            ),
            "default": lambda: LiteRT(model_path=int8_path, num_threads=2),
        },
        q,
        args.repeats,
    )
    print("int8 slide_cnn.int8.tflite")
    print(f"  ours (numpy)            {t['ours'] * 1000:8.1f} ms   (CPU {cpu['ours']:.1f} ms)")
    print(f"  LiteRT BUILTIN_REF      {t['ref'] * 1000:8.1f} ms   (CPU {cpu['ref']:.1f} ms)")
    print(f"  ours/ref = {t['ours'] / t['ref']:.2f} (wall), {cpu['ours'] / cpu['ref']:.2f} (CPU)")
    print(
        f"  LiteRT default kernels  {t['default'] * 1000:8.1f} ms   (CPU {cpu['default']:.1f} ms)"
    )
    print(f"  bit-exact with BUILTIN_REF: {np.array_equal(y['ours'], y['ref'])}")

    float_path = str(FIXTURES / "slide_cnn.float.tflite")
    t, y, cpu = interleaved(
        {
            "ours": lambda: Interpreter(model_path=float_path),
            "default": lambda: LiteRT(model_path=float_path, num_threads=2),
        },
        images,
        args.repeats,
    )
    print("\nfloat slide_cnn.float.tflite")
    print(f"  ours (numpy)            {t['ours'] * 1000:8.1f} ms   (CPU {cpu['ours']:.1f} ms)")
    print(
        f"  LiteRT default kernels  {t['default'] * 1000:8.1f} ms   (CPU {cpu['default']:.1f} ms)"
    )
    print(
        f"  ours/LiteRT = {t['ours'] / t['default']:.2f} (wall), "
        f"{cpu['ours'] / cpu['default']:.2f} (CPU)"
    )
    print(f"  max |ours - LiteRT| = {np.abs(y['ours'] - y['default']).max():.2e}")


if __name__ == "__main__":
    main()
