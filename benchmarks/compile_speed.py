"""Benchmark: the slide CNN from a ``.keras`` file to ``.tflite`` and ``.onnx``, whole process.

Runs the ``compile`` command as a subprocess several times and prints the wall time and peak
resident memory of each run (targets: under 0.5 s and 200 MB on 2 cores), then a breakdown of
one in-process compile by stage (imports included, as a fresh process pays them).

    python benchmarks/compile_speed.py [--runs 7] [--source path/to/model.keras]

The default source is the real Keras-made fixture ``tests/fixtures/keras3/slide_cnn.keras``.
On a machine other jobs keep busy, ``chrt -f 10 python benchmarks/compile_speed.py`` (root)
runs the benchmark ahead of them, which gives the idle-machine figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT / "tests" / "fixtures" / "keras3" / "slide_cnn.keras"
WALL_TARGET_S = 0.5
RSS_TARGET_MB = 200

_STAGES = """
import time, sys
t = [time.perf_counter()]
from compiler.keras.models import load_model; t.append(time.perf_counter())
model = load_model(sys.argv[1]); t.append(time.perf_counter())
from compiler.lower import lower_model; from compiler.passes import optimize, prepare_for_export
graph = optimize(lower_model(model)).graph; t.append(time.perf_counter())
from compiler.export.tflite import write_tflite
write_tflite(prepare_for_export(graph, "tflite")); t.append(time.perf_counter())
from compiler.export.onnx import write_onnx
write_onnx(prepare_for_export(graph, "onnx")); t.append(time.perf_counter())
names = ["import frontend", "load .keras", "lower + passes", "write tflite (+import)",
         "write onnx (+import onnx)"]
for name, a, b in zip(names, t, t[1:]):
    print(f"  {name:<28} {1000 * (b - a):7.1f} ms")
"""


def _command() -> list[str]:
    exe = shutil.which("compile")
    return [exe] if exe else [sys.executable, "-m", "compiler.cli"]


def run_once(source: Path, out_dir: Path) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS in MB) of one ``compile`` process. CPU time
    (user + system) is what the wall time would be on an idle machine (the command is single
    threaded), so it is the figure to trust when other jobs load the cores."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [*_command(), str(source), "-o", str(out_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"compile failed: {proc.stderr.read().decode().strip()}")
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    args = parser.parse_args(argv)
    source = args.source.resolve()
    if not source.is_file():
        raise SystemExit(f"no such source: {source}")
    print(f"source: {source.name}, {args.runs} runs of: {' '.join(_command())} SOURCE -o DIR")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    walls, cpus, rss = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        run_once(source, Path(tmp))  # warm the file cache
        for _ in range(args.runs):
            wall, cpu, peak = run_once(source, Path(tmp))
            walls.append(wall)
            cpus.append(cpu)
            rss.append(peak)
        sizes = {p.name: p.stat().st_size for p in sorted(Path(tmp).iterdir())}
    print(
        f"wall: median {statistics.median(walls):.3f} s, min {min(walls):.3f} s, "
        f"max {max(walls):.3f} s (target < {WALL_TARGET_S} s)"
    )
    print(f"CPU (user + sys): median {statistics.median(cpus):.3f} s, min {min(cpus):.3f} s")
    print(f"peak RSS: max {max(rss):.1f} MB (target < {RSS_TARGET_MB} MB)")
    print("files: " + ", ".join(f"{name} {size:,} B" for name, size in sizes.items()))
    print("one in-process compile by stage:")
    subprocess.run([sys.executable, "-c", _STAGES, str(source)], check=True, cwd=ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
