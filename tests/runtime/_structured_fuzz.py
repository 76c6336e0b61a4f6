"""Structure-aware fuzzing of both runtimes with hostile *well-formed* files (run as a child
process by ``test_structured_fuzz.py``, so that its peak memory can be measured on its own).

Byte-level mutation (``tflite/test_fuzz.py``, ``onnx/test_fuzz.py``) mostly produces files
the readers refuse at once. The files here are valid but ask for too much: loops nested up to
three deep with trip counts up to 2^63, loops that double a tensor, broadcasting and MatMul of
shapes up to 2^31, FULLY_CONNECTED / BATCH_MATMUL / GATHER outer products, value-driven sizes
(ConstantOfShape, Tile, Range, Pad), a subgraph listed up to 300,000 times, WHILE bodies
pointing at themselves or out of range. Each must run or be
refused with the runtime's ``ValueError`` subclasses, within ``SECONDS`` of CPU, and the whole
campaign must stay well under 1 GB resident. Prints one JSON line of statistics.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper

from runtime import BudgetExceededError, InferenceSession, Interpreter, Limits
from runtime.errors import InvalidInputError, InvalidModelError
from runtime.tflite.schema import BuiltinOperator as Op
from tests.runtime.tflite._builder import GraphBuilder
from tests.runtime.tflite.test_budget import _counter_loops, _fan_out

SECONDS = 5.0
# Smaller loop and node limits than the defaults keep the campaign short; the memory limits
# are the defaults, so the resident-memory bound is the one users get.
LIMITS = Limits(max_loop_iterations=2000, max_nodes=20000)
DIMS = [0, 1, 3, 1000, 1 << 20, 1 << 31]
TFLITE_DIMS = [0, 1, 3, 1000, 1 << 20, (1 << 31) - 1]  # shapes are int32 in the schema
TRIPS = [None, 0, 1, 3, 1000, 1 << 20, (1 << 63) - 1]
FLOAT, INT64, BOOL = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL
STATS = {"cases": 0, "ran": 0, "refused": 0, "budget": 0, "max_cpu_s": 0.0, "kinds": {}}


def _vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def _onnx(nodes, initializers, inputs=(), outputs=("y",)) -> bytes:
    graph = helper.make_graph(
        nodes,
        "fuzz",
        [_vi(n, FLOAT, [4]) for n in inputs],
        [_vi(n, FLOAT, None) for n in outputs],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    return model.SerializeToString()


def _ints(name, values):
    return helper.make_tensor(name, INT64, [len(values)], values)


@st.composite
def onnx_loops(draw):
    """Loops nested 1-3 deep; the innermost body keeps or doubles the carried tensor."""
    depth = draw(st.integers(1, 3))
    trips = [draw(st.sampled_from(TRIPS)) for _ in range(depth)]
    double = draw(st.booleans())
    scan = draw(st.booleans())
    inits = [helper.make_tensor("true", BOOL, [], [True])]
    body = None
    for level in reversed(range(depth)):
        v, v_out = f"v{level}", f"v{level}_out"
        if body is None:
            op = ("Concat", [v, v], {"axis": 0}) if double else ("Identity", [v], {})
            nodes = [helper.make_node(op[0], op[1], [v_out], **op[2])]
        else:
            m = f"M{level + 1}"
            inner = [m if trips[level + 1] is not None else "", "true", v]
            nodes = [helper.make_node("Loop", inner, [v_out], body=body, name=f"loop{level + 1}")]
        outputs = [_vi(f"c{level}_out", BOOL, []), _vi(v_out, FLOAT, None)]
        if scan and body is None:
            nodes.append(helper.make_node("Identity", [v], [f"s{level}"]))
            outputs.append(_vi(f"s{level}", FLOAT, None))
        nodes.append(helper.make_node("Identity", [f"c{level}"], [f"c{level}_out"]))
        body = helper.make_graph(
            nodes,
            f"body{level}",
            [_vi(f"i{level}", INT64, []), _vi(f"c{level}", BOOL, []), _vi(v, FLOAT, None)],
            outputs,
        )
    for level, trip in enumerate(trips):
        if trip is not None:
            inits.append(helper.make_tensor(f"M{level}", INT64, [], [trip]))
    first = ["M0" if trips[0] is not None else "", "true", "x"]
    loop = helper.make_node("Loop", first, ["y"], body=body, name="loop0")
    return _onnx([loop], inits, inputs=("x",))


@st.composite
def onnx_broadcast(draw):
    """Operands made in the file by Expand (a view, no memory), then one broadcasting op."""
    op = draw(st.sampled_from(["Add", "Mul", "Sub", "Less", "Where", "MatMul", "Concat"]))
    shapes = [draw(st.lists(st.sampled_from(DIMS), min_size=1, max_size=3)) for _ in range(2)]
    inits = [helper.make_tensor("one", FLOAT, [], [1.0])]
    nodes = []
    for k, shape in enumerate(shapes):
        inits.append(_ints(f"shape{k}", shape))
        nodes.append(helper.make_node("Expand", ["one", f"shape{k}"], [f"a{k}"]))
    if op == "Where":
        nodes.append(helper.make_node("Less", ["a0", "a1"], ["cond"]))
        nodes.append(helper.make_node("Where", ["cond", "a0", "a1"], ["y"]))
    elif op == "Less":
        nodes.append(helper.make_node("Less", ["a0", "a1"], ["b"]))
        nodes.append(helper.make_node("Cast", ["b"], ["y"], to=FLOAT))
    elif op == "Concat":
        nodes.append(helper.make_node("Concat", ["a0", "a1"], ["y"], axis=0))
    else:
        nodes.append(helper.make_node(op, ["a0", "a1"], ["y"]))
    return _onnx(nodes, inits)


@st.composite
def onnx_sizes(draw):
    """Value-driven sizes: ConstantOfShape, Tile, Range and Pad with fuzzed numbers."""
    op = draw(st.sampled_from(["ConstantOfShape", "Tile", "Range", "Pad"]))
    numbers = st.sampled_from(DIMS + [-1, -(1 << 40), 1 << 40])
    values = draw(st.lists(numbers, min_size=1, max_size=4))
    if op == "ConstantOfShape":
        return _onnx([helper.make_node(op, ["s"], ["y"])], [_ints("s", values)])
    if op == "Range":
        limit = helper.make_tensor("limit", FLOAT, [], [float(values[0])])
        zero, one = (helper.make_tensor(n, FLOAT, [], [v]) for n, v in (("z", 0.0), ("o", 1.0)))
        return _onnx([helper.make_node(op, ["z", "limit", "o"], ["y"])], [zero, limit, one])
    if op == "Tile":
        return _onnx([helper.make_node(op, ["x", "r"], ["y"])], [_ints("r", values[:1])], ("x",))
    pads = (values * 2)[:2]
    return _onnx([helper.make_node(op, ["x", "p"], ["y"])], [_ints("p", pads)], ("x",))


@st.composite
def tflite_loops(draw):
    limits = [0.0, 1.0, 5.0, 1000.0, 99999.0, np.inf]
    return _counter_loops(draw(st.lists(st.sampled_from(limits), min_size=1, max_size=3)))


@st.composite
def tflite_fan_out(draw):
    return _fan_out(draw(st.sampled_from([1, 7, 300, 25000, 300_000])))


@st.composite
def tflite_bad_references(draw):
    """Two nested loops whose outer WHILE points at subgraphs 0-5 (self, cycles, range)."""
    return _counter_loops([3.0, 3.0], targets=(draw(st.integers(0, 5)), draw(st.integers(0, 5))))


@st.composite
def tflite_broadcast(draw):
    op = draw(st.sampled_from([Op.ADD, Op.MUL, Op.SUB, Op.MAXIMUM, Op.LESS]))
    dims = st.sampled_from(TFLITE_DIMS)
    shapes = [draw(st.lists(dims, min_size=1, max_size=3)) for _ in range(2)]
    constant = draw(st.booleans())
    g = GraphBuilder()
    ids = []
    for k, shape in enumerate(shapes):
        small = int(np.prod(shape, dtype=object)) <= 1 << 16
        data = np.zeros(shape, np.float32) if constant and small else None
        ids.append(g.add(shape, name=f"a{k}", data=data))
    out_type = 6 if op == Op.LESS else 0  # BOOL or FLOAT32
    y = g.add(draw(st.lists(st.sampled_from(TFLITE_DIMS), max_size=3)), out_type, name="y")
    g.op(op, ids, [y])
    inputs = [t for t in ids if g.tensors[t]["buffer"] == 0]
    return g.finish(inputs, [y])


@st.composite
def tflite_products(draw):
    """FULLY_CONNECTED, BATCH_MATMUL and GATHER whose outputs the file understates."""
    op = draw(st.sampled_from([Op.FULLY_CONNECTED, Op.BATCH_MATMUL, Op.GATHER]))
    n, k, m = (draw(st.sampled_from([1, 3, 1000, 30000])) for _ in range(3))
    g = GraphBuilder()
    y = g.add([1], name="y")
    if op == Op.FULLY_CONNECTED:
        k = k if m * k <= 1 << 20 else 1  # the weights are written out by this harness
        x, w = g.add([n, k], name="x"), g.add([m, k], data=np.ones((m, k)), name="w")
        g.op(op, [x, w], [y])
        inputs = [x]
    elif op == Op.BATCH_MATMUL:
        inputs = [g.add([n, k], name="a"), g.add([k, m], name="b")]
        g.op(op, inputs, [y])
    else:
        params = g.add([n, k], name="params")
        indices = g.add([m], 2, data=np.zeros(m), name="indices")  # INT32
        g.op(op, [params, indices], [y], {"axis": 0})
        inputs = [params]
    return g.finish(inputs, [y])


def _peak_mb() -> float:
    """This process's own peak resident memory (VmHWM). Not ru_maxrss: Linux carries the
    parent's peak across fork + exec, so a child of a large pytest worker would report it."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _record(kind: str, fn) -> None:
    STATS["cases"] += 1
    STATS["kinds"][kind] = STATS["kinds"].get(kind, 0) + 1
    start = time.process_time()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # overflow to inf in a fuzzed loop is not an error
            fn()
        STATS["ran"] += 1
    except (InvalidModelError, InvalidInputError) as e:
        STATS["refused"] += 1
        STATS["budget"] += isinstance(e, BudgetExceededError)
    spent = time.process_time() - start
    STATS["max_cpu_s"] = max(STATS["max_cpu_s"], spent)
    rss = _peak_mb()
    if rss > STATS.get("max_rss_mb", 0) + 50:
        STATS.setdefault("rss_steps", []).append((kind, round(rss)))
    STATS["max_rss_mb"] = rss
    if spent > SECONDS:
        raise AssertionError(f"a {kind} case took {spent:.1f} s of CPU")


def _run_onnx(data: bytes) -> None:
    session = InferenceSession(data, limits=LIMITS)
    feeds = {i.name: np.ones(4, np.float32) for i in session.get_inputs()}
    session.run(None, feeds)


def _run_tflite(data: bytes) -> None:
    it = Interpreter(model_content=data, limits=LIMITS)
    it.allocate_tensors()
    for d in it.get_input_details():
        it.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
    it.invoke()


CASES = st.one_of(
    onnx_loops().map(lambda d: ("onnx loops", _run_onnx, d)),
    onnx_broadcast().map(lambda d: ("onnx broadcast", _run_onnx, d)),
    onnx_sizes().map(lambda d: ("onnx sizes", _run_onnx, d)),
    tflite_loops().map(lambda d: ("tflite loops", _run_tflite, d)),
    tflite_fan_out().map(lambda d: ("tflite fan-out", _run_tflite, d)),
    tflite_bad_references().map(lambda d: ("tflite references", _run_tflite, d)),
    tflite_broadcast().map(lambda d: ("tflite broadcast", _run_tflite, d)),
    tflite_products().map(lambda d: ("tflite products", _run_tflite, d)),
)


def main(examples: int) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=CASES)
    def campaign(case):
        kind, run, data = case
        _record(kind, lambda: run(data))

    campaign()
    STATS["max_rss_mb"] = _peak_mb()
    print(json.dumps(STATS))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
