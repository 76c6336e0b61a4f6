"""The run-wide budget of ``Interpreter`` (``runtime.Limits``) on crafted files: nested WHILE
loops, a subgraph referenced a million times, inputs and constant folding too large for memory
are refused quickly with ``BudgetExceededError``; ``max_activation_bytes`` and the limits are
the caller's; one interpreter used from two threads at once raises instead of mixing them."""

import threading
import time
import tracemalloc

import flatbuffers
import numpy as np
import pytest

from runtime import BudgetExceededError, Interpreter, Limits
from runtime.errors import InvalidInputError
from runtime.tflite import schema
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._builder import GraphBuilder, encode_table

WHILE_OPTIONS = int(schema.OPTIONS_OF_OP[Op.WHILE])
ADD_OPTIONS = int(schema.OPTIONS_OF_OP[Op.ADD])


def _tensor(name, shape=(), ttype=T.FLOAT32, buffer=0):
    return {"shape": list(shape), "type": int(ttype), "name": name, "buffer": buffer}


def _counter_loops(limits: list[float], targets: tuple[int, int] = (1, 2)) -> bytes:
    """Loops nested ``len(limits)`` deep, each counting a float from 0 to its limit.

    Subgraph 0 runs WHILE(cond 1, body 2) on i; body 2 adds one to i and, when there is an
    inner level, first runs WHILE(cond 3, body 4) on a fresh 0, and so on. ``targets`` may
    point the outer WHILE elsewhere (a fuzzer's cycles and out-of-range references).
    """
    g = GraphBuilder()
    i0, out = g.add([], name="i"), g.add([], name="out")
    cond, body = targets
    g.op(Op.WHILE, [i0], [out], {"cond_subgraph_index": cond, "body_subgraph_index": body})
    g.opcodes += [(int(Op.LESS), 1), (int(Op.ADD), 1)]  # opcode 1: LESS, 2: ADD
    one = len(g.buffers)
    g.buffers.append({"data": list(np.float32(1).tobytes())})
    zero = len(g.buffers)
    g.buffers.append({"data": list(np.float32(0).tobytes())})
    for depth, limit in enumerate(limits):
        g.buffers.append({"data": list(np.float32(limit).tobytes())})
        cond = {
            "tensors": [
                _tensor("i"),
                _tensor("limit", buffer=len(g.buffers) - 1),
                _tensor("f", (), T.BOOL),
            ],
            "inputs": [0],
            "outputs": [2],
            "operators": [{"opcode_index": 1, "inputs": [0, 1], "outputs": [2]}],
        }
        add = {
            "opcode_index": 2,
            "builtin_options_type": ADD_OPTIONS,
            "builtin_options": ("AddOptions", {}),
        }
        if depth + 1 < len(limits):
            inner = 2 * depth + 3
            body = {
                "tensors": [
                    _tensor("i"),
                    _tensor("one", buffer=one),
                    _tensor("next"),
                    _tensor("zero", buffer=zero),
                    _tensor("inner_out"),
                ],
                "inputs": [0],
                "outputs": [2],
                "operators": [
                    {
                        "opcode_index": 0,
                        "inputs": [3],
                        "outputs": [4],
                        "builtin_options_type": WHILE_OPTIONS,
                        "builtin_options": (
                            "WhileOptions",
                            {"cond_subgraph_index": inner, "body_subgraph_index": inner + 1},
                        ),
                    },
                    {**add, "inputs": [0, 1], "outputs": [2]},
                ],
            }
        else:
            body = {
                "tensors": [_tensor("i"), _tensor("one", buffer=one), _tensor("next")],
                "inputs": [0],
                "outputs": [2],
                "operators": [{**add, "inputs": [0, 1], "outputs": [2]}],
            }
        g.subgraphs += [cond, body]
    return g.finish([i0], [out])


def _run(data: bytes, **kwargs) -> Interpreter:
    it = Interpreter(model_content=data, **kwargs)
    it.allocate_tensors()
    for d in it.get_input_details():
        it.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
    it.invoke()
    return it


def test_nested_loops_count_against_one_budget():
    it = _run(_counter_loops([4.0, 5.0]))
    assert it.get_tensor(it.get_output_details()[0]["index"]) == 4.0
    # 4 outer + 20 inner iterations: 24 are allowed, 23 are not, though each loop alone is
    # well under the limit.
    _run(_counter_loops([4.0, 5.0]), max_loop_iterations=24)
    with pytest.raises(BudgetExceededError, match=r"WHILE.*more than 23 loop iterations"):
        _run(_counter_loops([4.0, 5.0]), max_loop_iterations=23)


def test_while_in_while_99999_by_99999_is_refused_quickly():
    data = _counter_loops([99999.0, 99999.0])
    start = time.process_time()  # CPU seconds: work done, not slowed by other processes
    with pytest.raises(BudgetExceededError, match="max_loop_iterations"):
        _run(data)
    assert time.process_time() - start < 5


def test_node_limit_counts_operators_of_every_subgraph_run():
    # 1 WHILE + 4 x (LESS + WHILE + ADD) + 4 x 5 x (LESS + ADD) + final LESSes (4 x 1 + 1).
    data = _counter_loops([4.0, 5.0])
    runs = 1 + 4 * 3 + 20 * 2 + 4 + 1
    _run(data, limits=Limits(max_nodes=runs))
    with pytest.raises(BudgetExceededError, match=f"more than {runs - 1} operators"):
        _run(data, limits=Limits(max_nodes=runs - 1))


def _fan_out(n: int) -> bytes:
    """Main subgraph: one WHILE operator table listed ``n`` times (4 bytes per listing)."""
    b = flatbuffers.Builder(1 << 20)
    b.ForceDefaults(True)
    op = encode_table(
        b,
        "Operator",
        {
            "opcode_index": 0,
            "inputs": [0],
            "outputs": [1],
            "builtin_options_type": WHILE_OPTIONS,
            "builtin_options": (
                "WhileOptions",
                {"cond_subgraph_index": 1, "body_subgraph_index": 2},
            ),
        },
    )
    b.StartVector(4, n, 4)
    for _ in range(n):
        b.PrependUOffsetTRelative(op)
    operators = b.EndVector()
    tensors = [encode_table(b, "Tensor", _tensor(name, [1])) for name in ("x", "y")]
    b.StartVector(4, 2, 4)
    for t in reversed(tensors):
        b.PrependUOffsetTRelative(t)
    tensor_vector = b.EndVector()

    def ints(values):
        b.StartVector(4, len(values), 4)
        for v in reversed(values):
            b.PrependInt32(v)
        return b.EndVector()

    inputs, outputs = ints([0]), ints([1])
    sg = schema.TABLES["SubGraph"]
    b.StartObject(sg.num_slots)
    b.PrependUOffsetTRelativeSlot(sg.field("tensors").slot, tensor_vector, 0)
    b.PrependUOffsetTRelativeSlot(sg.field("inputs").slot, inputs, 0)
    b.PrependUOffsetTRelativeSlot(sg.field("outputs").slot, outputs, 0)
    b.PrependUOffsetTRelativeSlot(sg.field("operators").slot, operators, 0)
    main = b.EndObject()
    cond = encode_table(
        b,
        "SubGraph",
        {
            "tensors": [_tensor("x", [1]), _tensor("f", (), T.BOOL, 1)],
            "inputs": [0],
            "outputs": [1],
        },
    )
    body = encode_table(
        b, "SubGraph", {"tensors": [_tensor("x", [1])], "inputs": [0], "outputs": [0]}
    )
    model = {
        "operator_codes": [
            {"deprecated_builtin_code": int(Op.WHILE), "builtin_code": int(Op.WHILE)}
        ],
        "buffers": [{}, {"data": [0]}],
    }
    offsets = {}
    md = schema.TABLES["Model"]
    for key, table in (("operator_codes", "OperatorCode"), ("buffers", "Buffer")):
        items = [encode_table(b, table, v) for v in model[key]]
        b.StartVector(4, len(items), 4)
        for item in reversed(items):
            b.PrependUOffsetTRelative(item)
        offsets[key] = b.EndVector()
    b.StartVector(4, 3, 4)
    for s in (body, cond, main):
        b.PrependUOffsetTRelative(s)
    offsets["subgraphs"] = b.EndVector()
    b.StartObject(md.num_slots)
    b.PrependUint32Slot(md.field("version").slot, 3, 0)
    for key, offset in offsets.items():
        b.PrependUOffsetTRelativeSlot(md.field(key).slot, offset, 0)
    b.Finish(b.EndObject(), file_identifier=schema.FILE_IDENTIFIER)
    return bytes(b.Output())


def test_subgraph_referenced_a_million_times_is_refused_before_decoding():
    data = _fan_out(1_000_000)
    assert len(data) < 4_100_000
    start = time.process_time()  # CPU seconds: work done, not slowed by other processes
    with pytest.raises(BudgetExceededError, match="subgraph 0 operators.*max_nodes"):
        Interpreter(model_content=data)
    assert time.process_time() - start < 5


def test_fan_out_within_the_limits_runs():
    it = _run(_fan_out(50))
    assert it.get_tensor(1).shape == (1,)
    with pytest.raises(BudgetExceededError, match="max_nodes"):
        _run(_fan_out(50), limits=Limits(max_nodes=49))


def _huge_inputs_graph(count: int, elements: int) -> bytes:
    g = GraphBuilder()
    xs = [g.add([elements], name=f"x{k}") for k in range(count)]
    y = g.add([elements], name="y")
    g.op(Op.ADD, xs[:2], [y])
    return g.finish(xs, [y])


def test_inputs_beyond_the_memory_budget_are_refused_before_allocation():
    # Four 1 GiB inputs declared in a 600-byte file: the first alone exceeds the default.
    data = _huge_inputs_graph(4, 1 << 28)
    assert len(data) < 1000
    with pytest.raises(BudgetExceededError, match="allocate_tensors: input 0.*max_memory_bytes"):
        Interpreter(model_content=data).allocate_tensors()
    # Four 256 MiB inputs: each is allowed, the third brings the total over 512 MiB.
    it = Interpreter(model_content=_huge_inputs_graph(4, 1 << 26))
    tracemalloc.start()
    try:
        with pytest.raises(BudgetExceededError, match="input 2.*above the max_memory_bytes"):
            it.allocate_tensors()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20  # nothing was allocated


def test_constant_folding_at_construction_is_checked_before_allocating():
    # 20000x1 + 1x20000 constants (160 KB of data) broadcast to 1.6 GB while the interpreter
    # evaluates constant operators; the output claims to be a single value.
    g = GraphBuilder()
    a = g.add([20000, 1], data=np.zeros((20000, 1)))
    b = g.add([1, 20000], data=np.zeros((1, 20000)))
    x, y, out = g.add([1], name="x"), g.add([1], name="folded"), g.add([1], name="out")
    g.op(Op.ADD, [a, b], [y])
    g.op(Op.ADD, [x, y], [out])
    start = time.process_time()  # CPU seconds: work done, not slowed by other processes
    with pytest.raises(BudgetExceededError, match=r"operator 0 \(ADD\).*\[20000, 20000\]"):
        Interpreter(model_content=g.finish([x], [out]))
    assert time.process_time() - start < 5


def test_resize_tensor_input_honours_max_activation_bytes():
    data = _huge_inputs_graph(2, 16)
    it = Interpreter(model_content=data, max_activation_bytes=4096)
    it.resize_tensor_input(0, [1024])  # 4096 bytes: allowed
    with pytest.raises(InvalidInputError, match="4100 bytes, above the max_activation_bytes"):
        it.resize_tensor_input(0, [1025])


def test_concurrent_invoke_raises_instead_of_mixing_threads():
    data = _counter_loops([20000.0])  # an invoke long enough (~0.5 s) to overlap
    it = Interpreter(model_content=data)
    it.allocate_tensors()
    it.set_tensor(0, np.float32(0))
    done = {}

    def first():
        it.invoke()
        done["value"] = it.get_tensor(it.get_output_details()[0]["index"])

    thread = threading.Thread(target=first)
    thread.start()
    # Wait for the first thread to be inside invoke (the lock it holds while running).
    deadline = time.perf_counter() + 10
    while not it._busy.locked() and thread.is_alive() and time.perf_counter() < deadline:
        time.sleep(0.001)
    refused = []
    for call in (it.invoke, lambda: it.set_tensor(0, np.float32(5)), lambda: it.get_tensor(1)):
        try:
            call()
        except RuntimeError as e:
            refused.append(str(e))
    thread.join()
    assert len(refused) == 3 and all("not thread-safe" in m for m in refused), refused
    assert done["value"] == 20000.0  # the first thread's own result
    it.set_tensor(0, np.float32(19998))  # usable again once the other call has finished
    it.invoke()
    assert it.get_tensor(1) == 20000.0


def _fully_connected(g):
    x = g.add([25000, 1], name="x")
    w = g.add([25000, 1], data=np.ones((25000, 1)), name="w")
    y = g.add([1], name="y")  # the file may understate an output: it is computed, not trusted
    g.op(Op.FULLY_CONNECTED, [x, w], [y])
    return [x], y


def _batch_matmul(g):
    a, b = g.add([25000, 1], name="a"), g.add([1, 25000], name="b")
    y = g.add([1], name="y")
    g.op(Op.BATCH_MATMUL, [a, b], [y])
    return [a, b], y


def _gather(g):
    params = g.add([1, 1 << 20], name="params")
    indices = g.add([2000], T.INT32, data=np.zeros(2000), name="indices")
    y = g.add([1], name="y")
    g.op(Op.GATHER, [params, indices], [y], {"axis": 0})
    return [params], y


@pytest.mark.parametrize("build", [_fully_connected, _batch_matmul, _gather])
def test_outer_products_and_gathers_are_refused_before_allocating(build):
    g = GraphBuilder()
    inputs, y = build(g)
    it = Interpreter(model_content=g.finish(inputs, [y]))
    it.allocate_tensors()
    for d in it.get_input_details():
        it.set_tensor(d["index"], np.ones(d["shape"], d["dtype"]))
    tracemalloc.start()
    try:
        with pytest.raises(BudgetExceededError, match=r"operator 0 .*output.*limit"):
            it.invoke()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20


def test_variable_tensors_are_charged_before_they_are_allocated():
    # Recurrent state lives in variable tensors, allocated (twice) when the interpreter is made.
    g = GraphBuilder()
    x, y = g.add([4], name="x"), g.add([4], name="y")
    for k in range(4):
        g.add([1 << 27], name=f"state{k}", is_variable=True)  # 512 MiB each, declared only
    g.op(Op.ADD, [x, x], [y])
    data = g.finish([x], [y])
    assert len(data) < 1000
    tracemalloc.start()
    try:
        with pytest.raises(
            BudgetExceededError, match=r"variable tensor 2 \('state0'\).*max_memory_bytes"
        ):
            Interpreter(model_content=data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20
