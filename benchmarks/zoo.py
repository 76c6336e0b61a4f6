"""Benchmark: real ``keras.applications`` models through ``compile``, against TFLiteConverter.

Per model (built by real Keras 3 with random weights, as the zoo tests build them:
``tests/compiler/zoo/_build_real.py``), prints:

* the whole ``compile`` process to float and to int8 ``.tflite`` + ``.onnx`` (median wall and
  CPU seconds of ``--runs`` runs, peak RSS), and the same for TFLiteConverter's full-int8
  conversion of the same ``.keras`` file and calibration images, run by a Python that has
  TensorFlow (``--converter-python``; by default this one if it has TensorFlow, else the
  fixtures' venv made by ``tests/fixtures/make_fixtures.py``), "n/a" without one;
* file sizes (ours float / int8 ``.tflite`` and ``.onnx``, the converter's int8 ``.tflite``);
* int8 logits' cosine similarity to Keras's float logits, ours and the converter's;
* our runtime's time (load + invoke) on the int8 ``.tflite`` against LiteRT's reference kernels
  (BUILTIN_REF), median of ``--runs``.

    python benchmarks/zoo.py [--models MobileNetV2,NASNetMobile] [--runs 3]

Needs real Keras 3 (with JAX for its numpy backend's convolutions), ai-edge-litert and
onnxruntime; TensorFlow only for the converter's columns.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BUILDER = ROOT / "tests" / "compiler" / "zoo" / "_build_real.py"
DEFAULT_MODELS = (
    "MobileNetV2,DenseNet121,ResNet50,NASNetMobile,MobileNetV3Small,MobileNetV3Large,"
    "EfficientNetB0,EfficientNetV2B0,ConvNeXtTiny,ViT"
)

_CONVERTER = """
import os, sys
os.environ["KERAS_BACKEND"] = "tensorflow"
import numpy as np, tensorflow as tf, keras
model = keras.saving.load_model(sys.argv[1])
calibration = np.load(sys.argv[2])["calibration"]
converter = tf.lite.TFLiteConverter.from_keras_model(model)
converter.optimizations = [tf.lite.Optimize.DEFAULT]
converter.representative_dataset = lambda: ([x[None]] for x in calibration)
converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
open(sys.argv[3], "wb").write(converter.convert())
"""


# Runs the command from a small fresh process: Linux carries a process's peak RSS across
# fork + exec (``execve`` records the pre-exec memory's high-water mark), so a command started
# straight from this process, which holds models and interpreters, would report our size.
_LAUNCHER = """
import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # our stdout carries the figures only
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
cpu = usage.ru_utime + usage.ru_stime
print(wall, cpu, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status))
"""


def _measure(command: list[str], env=None) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MB) of one process."""
    done = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, *command],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
    )
    wall, cpu, rss, code = done.stdout.split()
    if int(code) != 0:
        raise SystemExit(f"{command[0]} failed: {done.stderr[-2000:]}")
    return float(wall), float(cpu), float(rss)


def _median_runs(command, runs, env=None):
    results = [_measure(command, env) for _ in range(runs)]
    return tuple(statistics.median(r[i] for r in results) for i in range(3))


def _compile_command(source: Path, out: Path, calibration: Path | None) -> list[str]:
    exe = shutil.which("compile")
    base = [exe] if exe else [sys.executable, "-m", "compiler.cli"]
    command = [*base, str(source), "--to", "tflite,onnx", "-o", str(out)]
    if calibration is not None:
        command += ["--quantize", "int8", "--calibration", str(calibration)]
    return command


def _tflite_outputs(path: Path, x: np.ndarray, interpreter_cls, **kwargs) -> np.ndarray:
    interp = interpreter_cls(model_path=str(path), **kwargs)
    (detail,) = interp.get_input_details()
    interp.resize_tensor_input(detail["index"], list(x.shape))
    interp.allocate_tensors()
    if detail["dtype"] == np.int8:  # the converter's files take int8 inputs
        scale, zero = detail["quantization"]
        x = np.clip(np.round(x / scale) + zero, -128, 127).astype(np.int8)
    interp.set_tensor(detail["index"], x)
    interp.invoke()
    (out,) = interp.get_output_details()
    y = interp.get_tensor(out["index"]).astype(np.float32)
    if out["dtype"] == np.int8:
        scale, zero = out["quantization"]
        y = (y - zero) * scale
    return y


def _timed(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _cosine(a, b) -> float:
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def bench_model(name: str, work: Path, runs: int, converter_python: str | None) -> dict:
    from ai_edge_litert import interpreter as litert

    import runtime

    env = dict(os.environ, KERAS_BACKEND="numpy")
    subprocess.run([sys.executable, str(BUILDER), name, str(work)], env=env, check=True)
    source, io_path = work / f"{name}.keras", work / f"{name}.io.npz"
    io = np.load(io_path)
    calibration = work / f"{name}.calibration.npz"
    np.savez(calibration, input=io["calibration"])
    row = {"model": name}
    row["float"] = _median_runs(_compile_command(source, work / "float", None), runs)
    row["int8"] = _median_runs(_compile_command(source, work / "int8", calibration), runs)
    ours = {
        "float.tflite": work / "float" / f"{name}.tflite",
        "float.onnx": work / "float" / f"{name}.onnx",
        "int8.tflite": work / "int8" / f"{name}.int8.tflite",
        "int8.onnx": work / "int8" / f"{name}.int8.onnx",
    }
    row["sizes"] = {k: p.stat().st_size for k, p in ours.items()}
    x, keras_logits = io["x"], io["y"]
    ref = litert.OpResolverType.BUILTIN_REF
    reference = _tflite_outputs(
        ours["int8.tflite"], x, litert.Interpreter, experimental_op_resolver_type=ref
    )
    row["cosine"] = _cosine(reference, keras_logits)
    row["runtime"] = (
        _timed(lambda: _tflite_outputs(ours["int8.tflite"], x, runtime.Interpreter), runs),
        _timed(
            lambda: _tflite_outputs(
                ours["int8.tflite"], x, litert.Interpreter, experimental_op_resolver_type=ref
            ),
            runs,
        ),
    )
    if converter_python:
        theirs = work / f"{name}.converter.int8.tflite"
        script = work / "convert.py"
        script.write_text(_CONVERTER)
        command = [converter_python, str(script), str(source), str(io_path), str(theirs)]
        row["converter"] = _median_runs(command, runs, dict(os.environ, KERAS_BACKEND="tensorflow"))
        row["converter_size"] = theirs.stat().st_size
        row["converter_cosine"] = _cosine(
            _tflite_outputs(theirs, x, litert.Interpreter, experimental_op_resolver_type=ref),
            keras_logits,
        )
    return row


def _print(row: dict) -> None:
    na = "n/a"
    f_wall, f_cpu, f_rss = row["float"]
    q_wall, q_cpu, q_rss = row["int8"]
    print(f"== {row['model']}")
    print(
        f"  compile float (both formats): {f_wall:6.2f} s wall {f_cpu:6.2f} s CPU {f_rss:6.0f} MB"
    )
    print(
        f"  compile int8  (both formats): {q_wall:6.2f} s wall {q_cpu:6.2f} s CPU {q_rss:6.0f} MB"
    )
    if "converter" in row:
        c_wall, c_cpu, c_rss = row["converter"]
        print(
            f"  TFLiteConverter int8:         {c_wall:6.2f} s wall {c_cpu:6.2f} s CPU "
            f"{c_rss:6.0f} MB  (ours/theirs wall {q_wall / c_wall:.2f})"
        )
    else:
        print(f"  TFLiteConverter int8:         {na} (no Python with TensorFlow given)")
    sizes = "  ".join(f"{k} {v:,}" for k, v in row["sizes"].items())
    print(f"  sizes: {sizes}  converter int8.tflite {row.get('converter_size', na)}")
    theirs = row.get("converter_cosine")
    print(
        f"  int8 logits cosine to Keras float: ours {row['cosine']:.5f}  converter "
        f"{na if theirs is None else f'{theirs:.5f}'}"
    )
    ours_t, ref_t = row["runtime"]
    print(
        f"  int8 load + invoke, 4 images: ours {ours_t * 1000:.0f} ms, "
        f"LiteRT reference kernels {ref_t * 1000:.0f} ms ({ours_t / ref_t:.2f}x)"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=DEFAULT_MODELS)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--converter-python",
        help="a Python with TensorFlow for the converter's columns (default: this one if it "
        "imports TensorFlow, else the fixture venv's, .tools/fixture-venv, when it exists)",
    )
    args = parser.parse_args(argv)
    converter = args.converter_python
    if converter is None and importlib.util.find_spec("tensorflow") is not None:
        converter = sys.executable
    fixture_venv = ROOT / ".tools" / "fixture-venv" / "bin" / "python"
    if converter is None and fixture_venv.exists():
        converter = str(fixture_venv)
    print(f"converter Python: {converter}; runs per figure: {args.runs}; cores: {os.cpu_count()}")
    for name in args.models.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            _print(bench_model(name.strip(), Path(tmp), args.runs, converter))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
