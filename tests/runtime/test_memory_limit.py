"""Under a 4 GB address-space limit (``RLIMIT_AS``), the crafted memory hogs of both runtimes end
in ``BudgetExceededError``: refused by the budget before allocating with the default limits,
and, with limits raised past what the machine has, numpy's ``MemoryError`` is turned into the
same typed error (no raw ``MemoryError`` escapes). Each case runs in a child process, so the
limit never applies to the test runner."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

resource = pytest.importorskip("resource")  # POSIX only; the limit is what is tested

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, resource, sys
import numpy as np
from onnx import TensorProto, helper

resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

from runtime import InferenceSession, Interpreter, Limits
from runtime.tflite.schema import BuiltinOperator as Op
from tests.runtime.tflite._builder import GraphBuilder

RAISED = Limits(max_tensor_bytes=1 << 40, max_memory_bytes=1 << 40)


def four_gib_of_inputs(limits):
    g = GraphBuilder()
    xs = [g.add([1 << 28], name=f"x{k}") for k in range(4)]
    y = g.add([1 << 28], name="y")
    g.op(Op.ADD, xs[:2], [y])
    it = Interpreter(model_content=g.finish(xs, [y]), limits=limits)
    it.allocate_tensors()


def constant_add_folded_at_load(limits):
    g = GraphBuilder()
    a = g.add([40000, 1], data=np.zeros((40000, 1)))
    b = g.add([1, 40000], data=np.zeros((1, 40000)))
    x, y, out = g.add([1], name="x"), g.add([1], name="folded"), g.add([1], name="out")
    g.op(Op.ADD, [a, b], [y])
    g.op(Op.ADD, [x, y], [out])
    Interpreter(model_content=g.finish([x], [out]), limits=limits)


def onnx_broadcast_add(limits):
    vi = helper.make_tensor_value_info
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["y"])],
        "g",
        [vi("a", TensorProto.FLOAT, [40000, 1]), vi("b", TensorProto.FLOAT, [1, 40000])],
        [vi("y", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    session = InferenceSession(model.SerializeToString(), limits=limits)
    ones = np.ones((40000, 1), np.float32)
    session.run(None, {"a": ones, "b": ones.reshape(1, 40000)})


results = {}
for case in (four_gib_of_inputs, constant_add_folded_at_load, onnx_broadcast_add):
    for label, limits in (("default", None), ("raised", RAISED)):
        try:
            case(limits)
            results[f"{case.__name__}/{label}"] = "no error"
        except BaseException as e:  # the point: which type comes out
            results[f"{case.__name__}/{label}"] = f"{type(e).__name__}: {str(e)[:200]}"
print(json.dumps(results))
"""


def test_memory_hogs_under_a_4_gb_address_space_limit_raise_budget_errors():
    proc = subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(results) == 6
    for case, outcome in results.items():
        assert outcome.startswith("BudgetExceededError"), f"{case}: {outcome}"
        if case.endswith("/default"):
            assert "limit" in outcome, f"{case}: {outcome}"  # refused by the budget itself
        else:
            assert "out of memory" in outcome, f"{case}: {outcome}"  # numpy's MemoryError
