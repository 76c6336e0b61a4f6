"""Structure-aware fuzzing of both runtimes (``_structured_fuzz.py``), in a child process so
that its peak resident memory is its own: nested loops, tensors doubled in loops, broadcasting
and MatMul of huge shapes, value-driven sizes, subgraph fan-out, cycles and bad references.
Every file runs or is refused with a typed error within 5 s of CPU, and the whole campaign
stays well under 1 GB resident with the default memory limits."""

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("RUNTIME_STRUCTURED_FUZZ_EXAMPLES", "150"))


def _cap_address_space():
    # A harness bug must not take the machine's memory: the child gets 8 GB of address space.
    resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))


def test_hostile_structures_are_refused_quickly_and_within_memory():
    proc = subprocess.run(
        [sys.executable, "-m", "tests.runtime._structured_fuzz", str(EXAMPLES)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)},
        preexec_fn=_cap_address_space,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    stats = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"structured fuzz: {stats}")
    assert stats["cases"] >= EXAMPLES
    assert len(stats["kinds"]) == 8, stats["kinds"]  # every generator was exercised
    assert stats["ran"] > 0 and stats["refused"] > 0 and stats["budget"] > 0
    assert stats["max_cpu_s"] < 5
    assert stats["max_rss_mb"] < 1000
