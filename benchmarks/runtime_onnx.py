"""Speed of the numpy ONNX runtime against onnx's ReferenceEvaluator and onnxruntime.

256 real Fashion-MNIST test images (``/usr/share/datasets/fashion-mnist``; the fixture's
io.npz inputs tiled when the dataset is absent), one batch of 256, medians of several runs,
all three runtimes in the same process:

- float: ``slide_cnn.tf2onnx.onnx``
- QDQ int8: ``slide_cnn.ort_qdq.onnx`` (onnxruntime shown with graph optimizations disabled,
  the literal semantics we match exactly, and with its default fusions)

The target is ours >= 50x faster than ReferenceEvaluator on the float model (DESIGN.md
measured ReferenceEvaluator at 2.57 s). Outputs are checked against onnxruntime on the run.

Run: ``python benchmarks/runtime_onnx.py [--repeats N] [--reference-repeats N]
[--blas-threads N]``. ``--blas-threads`` sets ``OPENBLAS_NUM_THREADS`` before numpy loads: on
a machine shared with other work, OpenBLAS's spinning worker threads can make a skinny
matmul 10-30x slower, which says more about the neighbours than about the runtimes.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

if "--blas-threads" in sys.argv:  # must be set before numpy (and its OpenBLAS) loads
    os.environ["OPENBLAS_NUM_THREADS"] = sys.argv[sys.argv.index("--blas-threads") + 1]

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runtime import InferenceSession  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "keras3"
MNIST = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
IDX_IMAGES_MAGIC = 2051


def load_images(n: int) -> tuple[np.ndarray, str]:
    """The first ``n`` test images as float32 NHWC in [0, 1] (what the Keras model was fed)."""
    if MNIST.exists():
        with gzip.open(MNIST, "rb") as f:
            raw = f.read()
        magic, count, rows, cols = (int.from_bytes(raw[i : i + 4], "big") for i in (0, 4, 8, 12))
        if magic != IDX_IMAGES_MAGIC or len(raw) != 16 + count * rows * cols:
            raise ValueError(f"{MNIST} is not an IDX image file (magic {magic})")
        images = np.frombuffer(raw, np.uint8, offset=16).reshape(count, rows, cols, 1)
        return images[:n].astype(np.float32) / 255.0, "Fashion-MNIST t10k"
    x = np.load(FIXTURES / "slide_cnn.io.npz")["x0"]
    return np.resize(x, (n,) + x.shape[1:]).astype(np.float32), "fixture io.npz tiled"


def median_time(run, repeats: int) -> tuple[tuple[float, float], object]:
    """(median, best) seconds of ``repeats`` runs after one warm-up, and the last result."""
    run()  # warm-up: first-call costs (BLAS threads, lazy imports) are not steady state
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - t0)
    return (statistics.median(times), min(times)), out


def onnxruntime_session(path: Path, optimize: bool):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def bench_model(path: Path, x: np.ndarray, repeats: int, ref_repeats: int) -> None:
    from onnx.reference import ReferenceEvaluator

    print(f"\n{path.name}  (batch {len(x)})")
    ours = InferenceSession(path)
    name = ours.get_inputs()[0].name
    feeds = {name: x}
    t_ours, y_ours = median_time(lambda: ours.run(None, feeds)[0], repeats)
    rows = [("ours (runtime.InferenceSession)", t_ours)]

    t_ref = y_ref = None
    try:
        ref = ReferenceEvaluator(str(path))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_ref, y_ref = median_time(lambda: ref.run(None, feeds)[0], ref_repeats)
        rows.append(("onnx.reference.ReferenceEvaluator", t_ref))
    except RuntimeError as e:  # it has no DequantizeLinear for opset 17 (only 19+)
        print(f"  onnx.reference.ReferenceEvaluator cannot run it: {str(e)[:90]}")

    results = {}
    for label, optimize in [
        ("onnxruntime, optimizations off", False),
        ("onnxruntime, default optimizations", True),
    ]:
        session = onnxruntime_session(path, optimize)
        t, y = median_time(lambda s=session: s.run(None, feeds)[0], repeats)
        rows.append((label, t))
        results[optimize] = y

    print(f"  {'':40s} {'median':>9s}      {'best':>9s}")
    for label, (median, best) in rows:
        print(
            f"  {label:40s} {median * 1000:9.1f} ms   {best * 1000:9.1f} ms   "
            f"{median / t_ours[0]:7.1f}x ours"
        )
    if t_ref is not None:
        print(
            f"  speed-up over ReferenceEvaluator: {t_ref[0] / t_ours[0]:.0f}x on medians, "
            f"{t_ref[1] / t_ours[1]:.0f}x on best runs (target >= 50x)"
        )
    print(f"  max |ours - onnxruntime (off)|:     {np.abs(y_ours - results[False]).max():.3g}")
    print(f"  max |ours - onnxruntime (default)|: {np.abs(y_ours - results[True]).max():.3g}")
    if y_ref is not None:
        print(f"  max |ours - ReferenceEvaluator|:    {np.abs(y_ours - y_ref).max():.3g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--reference-repeats", type=int, default=3)
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--blas-threads", type=int, help="OPENBLAS_NUM_THREADS for this run")
    args = parser.parse_args()
    x, source = load_images(args.images)
    blas = {k: os.environ.get(k, "(unset)") for k in ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS")}
    print(
        f"{args.images} images from {source}; {os.cpu_count()} CPUs "
        f"({platform.machine()}), numpy {np.__version__}, {blas}"
    )
    # Timings on a shared machine mean little without its load; print it beside them.
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    print(f"medians of {args.repeats} runs ({args.reference_repeats} for ReferenceEvaluator)")
    for stem in ("slide_cnn.tf2onnx.onnx", "slide_cnn.ort_qdq.onnx"):
        bench_model(FIXTURES / stem, x, args.repeats, args.reference_repeats)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
