"""The run-wide budget of ``InferenceSession`` (``runtime.Limits``): crafted files that nest
loops, broadcast or multiply into huge tensors, or grow a tensor in a loop are refused quickly
with ``BudgetExceededError`` before the allocation; the limits are the caller's to change; one
session runs safely from several threads, each run with its own budget."""

import threading
import time
import tracemalloc

import numpy as np
import pytest
from onnx import TensorProto, helper

from runtime import BudgetExceededError, Limits
from runtime.errors import InvalidModelError, UnsupportedOpError
from runtime.onnx import InferenceSession
from tests._oracles import ONNXRUNTIME, require

ort = require("onnxruntime", ONNXRUNTIME)

FLOAT, INT64, BOOL = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL


def _vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def _model(nodes, inputs, outputs, initializers=(), opsets=(("", 17),)):
    graph = helper.make_graph(nodes, "budget", inputs, outputs, initializer=list(initializers))
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets], ir_version=8
    ).SerializeToString()


def _scalar(name, elem, value):
    return helper.make_tensor(name, elem, [], [value])


def _nested_loops(trip: int) -> bytes:
    """v = Loop(trip){ v = Loop(trip){ v } }: trip * trip iterations of a one-node body."""
    inner_body = helper.make_graph(
        [
            helper.make_node("Identity", ["c2"], ["c2_out"]),
            helper.make_node("Identity", ["w"], ["w_out"]),
        ],
        "inner",
        [_vi("j", INT64, []), _vi("c2", BOOL, []), _vi("w", FLOAT, [1])],
        [_vi("c2_out", BOOL, []), _vi("w_out", FLOAT, [1])],
    )
    outer_body = helper.make_graph(
        [
            helper.make_node("Identity", ["c"], ["c_out"]),
            helper.make_node("Loop", ["M", "true", "v"], ["v_out"], body=inner_body, name="inner"),
        ],
        "outer",
        [_vi("i", INT64, []), _vi("c", BOOL, []), _vi("v", FLOAT, [1])],
        [_vi("c_out", BOOL, []), _vi("v_out", FLOAT, [1])],
    )
    return _model(
        [helper.make_node("Loop", ["M", "true", "x"], ["y"], body=outer_body, name="outer")],
        [_vi("x", FLOAT, [1])],
        [_vi("y", FLOAT, [1])],
        [_scalar("M", INT64, trip), _scalar("true", BOOL, True)],
    )


def test_loop_in_loop_of_2_20_by_2_20_is_refused_quickly():
    data = _nested_loops(1 << 20)
    assert len(data) < 600  # the 496-byte file, give or take names
    session = InferenceSession(data)
    start = time.process_time()  # CPU seconds: work done, not slowed by other processes
    with pytest.raises(BudgetExceededError, match="'outer'.*'inner'.*max_loop_iterations"):
        session.run(None, {"x": np.zeros(1, np.float32)})
    assert time.process_time() - start < 5


def test_loop_iteration_limit_is_the_callers():
    data = _nested_loops(30)  # 900 inner + 30 outer iterations
    x = np.ones(1, np.float32)
    assert InferenceSession(data).run(None, {"x": x})[0] == 1
    tight = InferenceSession(data, limits=Limits(max_loop_iterations=929))
    with pytest.raises(BudgetExceededError, match="more than 929 loop iterations"):
        tight.run(None, {"x": x})
    assert InferenceSession(data, limits=Limits(max_loop_iterations=930)).run(None, {"x": x})


def test_node_limit_counts_nodes_run_in_all_subgraphs():
    data = _nested_loops(30)  # 1 + 30 * (2 + 30 * 2) = 1861 nodes run
    x = np.ones(1, np.float32)
    with pytest.raises(BudgetExceededError, match="more than 1860 operators"):
        InferenceSession(data, limits=Limits(max_nodes=1860)).run(None, {"x": x})
    InferenceSession(data, limits=Limits(max_nodes=1861)).run(None, {"x": x})


def test_loading_counts_the_nodes_of_every_graph():
    data = _nested_loops(2)  # 1 + 2 + 2 nodes in three graphs
    with pytest.raises(BudgetExceededError, match="graph 'inner'"):
        InferenceSession(data, limits=Limits(max_nodes=4))
    InferenceSession(data, limits=Limits(max_nodes=5))


def _binary(op, a_shape, b_shape) -> bytes:
    return _model(
        [helper.make_node(op, ["a", "b"], ["y"], name="big")],
        [_vi("a", FLOAT, a_shape), _vi("b", FLOAT, b_shape)],
        [_vi("y", FLOAT, None)],
    )


@pytest.mark.parametrize(
    ("op", "a", "b", "shape"),
    [
        ("Add", [25000, 1], [1, 25000], r"\[25000, 25000\]"),
        ("Mul", [25000, 1, 1], [1, 25000, 1], r"\[25000, 25000, 1\]"),
        ("Less", [1, 40000], [40000, 1], r"\[40000, 40000\]"),
        ("MatMul", [25000, 1], [1, 25000], r"\[25000, 25000\]"),
    ],
)
def test_broadcasting_and_outer_products_are_refused_before_allocating(op, a, b, shape):
    session = InferenceSession(_binary(op, a, b))
    feeds = {"a": np.ones(a, np.float32), "b": np.ones(b, np.float32)}
    tracemalloc.start()
    try:
        with pytest.raises(
            BudgetExceededError, match=rf"'big' \({op}\).*{shape}.*max_tensor_bytes"
        ):
            session.run(None, feeds)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20  # refused before numpy allocated the result
    # The same op on smaller shapes runs, and a caller's lower limit refuses it too.
    a, b = ([min(d, 300) for d in s] for s in (a, b))
    small = InferenceSession(_binary(op, a, b))
    y = small.run(None, {"a": np.ones(a, np.float32), "b": np.ones(b, np.float32)})[0]
    assert y.size == 300 * 300
    tight = InferenceSession(_binary(op, a, b), limits=Limits(max_tensor_bytes=300 * 300 - 1))
    with pytest.raises(BudgetExceededError, match="max_tensor_bytes"):
        tight.run(None, {"a": np.ones(a, np.float32), "b": np.ones(b, np.float32)})


def test_loop_that_doubles_a_tensor_is_refused_before_the_allocation_that_exceeds():
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["c"], ["c_out"]),
            helper.make_node("Concat", ["v", "v"], ["v_out"], axis=0, name="double"),
        ],
        "body",
        [_vi("i", INT64, []), _vi("c", BOOL, []), _vi("v", FLOAT, None)],
        [_vi("c_out", BOOL, []), _vi("v_out", FLOAT, None)],
    )
    data = _model(
        [helper.make_node("Loop", ["", "true", "x"], ["y"], body=body, name="grow")],
        [_vi("x", FLOAT, [1024])],
        [_vi("y", FLOAT, None)],
        [_scalar("true", BOOL, True)],
    )
    session = InferenceSession(data, limits=Limits(max_tensor_bytes=1 << 22))
    start = time.process_time()  # CPU seconds: work done, not slowed by other processes
    with pytest.raises(BudgetExceededError, match=r"'grow'.*Concat.*\[2097152\].*4194304"):
        session.run(None, {"x": np.zeros(1024, np.float32)})
    assert time.process_time() - start < 5


def test_scan_outputs_collected_by_a_loop_count_against_memory():
    # Each iteration emits a 4 KB scan output; 100 of them hold 400 KB at once, and stacking
    # them needs as much again.
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["c"], ["c_out"]),
            helper.make_node("Identity", ["x"], ["s"]),
        ],
        "body",
        [_vi("i", INT64, []), _vi("c", BOOL, [])],
        [_vi("c_out", BOOL, []), _vi("s", FLOAT, [1024])],
    )
    data = _model(
        [helper.make_node("Loop", ["M", "true"], ["y"], body=body, name="collect")],
        [_vi("x", FLOAT, [1024])],
        [_vi("y", FLOAT, None)],
        [_scalar("M", INT64, 100), _scalar("true", BOOL, True)],
    )
    x = np.arange(1024, dtype=np.float32)
    with pytest.raises(BudgetExceededError, match="'collect'.*max_memory_bytes"):
        InferenceSession(data, limits=Limits(max_memory_bytes=300_000)).run(None, {"x": x})
    (y,) = InferenceSession(data, limits=Limits(max_memory_bytes=900_000)).run(None, {"x": x})
    np.testing.assert_array_equal(y, np.tile(x, (100, 1)))


def test_limits_are_validated():
    with pytest.raises(ValueError, match="max_nodes must be a non-negative int"):
        Limits(max_nodes=-1)
    with pytest.raises(TypeError, match="runtime.Limits"):
        InferenceSession(_nested_loops(1), limits={"max_nodes": 3})


@pytest.mark.parametrize("version", [2, 99])
def test_microsoft_opset_newer_than_onnxruntime_supports_is_refused_like_onnxruntime(version):
    data = _model(
        [helper.make_node("Relu", ["x"], ["y"])],
        [_vi("x", FLOAT, [2])],
        [_vi("y", FLOAT, [2])],
        opsets=(("", 17), ("com.microsoft", version)),
    )
    with pytest.raises(Exception, match="com.microsoft is till opset 1"):
        ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    with pytest.raises(UnsupportedOpError, match="domain 'com.microsoft' version .* newest is 1"):
        InferenceSession(data)


def test_microsoft_opset_1_is_accepted_by_both():
    data = _model(
        [helper.make_node("Relu", ["x"], ["y"])],
        [_vi("x", FLOAT, [2])],
        [_vi("y", FLOAT, [2])],
        opsets=(("", 17), ("com.microsoft", 1)),
    )
    x = {"x": np.array([-1, 2], np.float32)}
    expected = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, x)
    np.testing.assert_array_equal(InferenceSession(data).run(None, x)[0], expected[0])


def _threaded_model() -> bytes:
    # y = x @ w, then 200 iterations of y = y * 0.5 + x[0]: a Loop reading the outer scope.
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["c"], ["c_out"]),
            helper.make_node("Mul", ["v", "half"], ["h"]),
            helper.make_node("Add", ["h", "x"], ["v_out"]),
        ],
        "body",
        [_vi("i", INT64, []), _vi("c", BOOL, []), _vi("v", FLOAT, [4])],
        [_vi("c_out", BOOL, []), _vi("v_out", FLOAT, [4])],
    )
    return _model(
        [
            helper.make_node("MatMul", ["x", "w"], ["xw"]),
            helper.make_node("Loop", ["M", "true", "xw"], ["y"], body=body),
        ],
        [_vi("x", FLOAT, [4])],
        [_vi("y", FLOAT, [4])],
        [
            _scalar("M", INT64, 200),
            _scalar("true", BOOL, True),
            _scalar("half", FLOAT, 0.5),
            helper.make_tensor("w", FLOAT, [4, 4], np.arange(16, dtype=np.float32) / 16),
        ],
    )


def _expected(x):
    v = x @ (np.arange(16, dtype=np.float32).reshape(4, 4) / 16)
    for _ in range(200):
        v = v * np.float32(0.5) + x
    return v


def test_run_from_several_threads_gives_each_its_own_result_and_budget():
    # The loop limit is exactly one run's iterations: counters shared between threads would
    # exceed it. Every result must be the one of that thread's own input.
    session = InferenceSession(_threaded_model(), limits=Limits(max_loop_iterations=200))
    errors, checked = [], []

    def hammer(seed):
        rng = np.random.default_rng(seed)
        try:
            for _ in range(15):
                x = rng.standard_normal(4).astype(np.float32)
                (y,) = session.run(None, {"x": x})
                np.testing.assert_allclose(y, _expected(x), rtol=1e-5, atol=1e-5)
                checked.append(seed)
        except Exception as e:  # collected: an assertion in a thread would be lost
            errors.append(e)

    threads = [threading.Thread(target=hammer, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert len(checked) == 60


def test_out_of_memory_is_a_typed_error(monkeypatch):
    # What numpy raises when the machine, not the budget, runs out (tested for real under an
    # address-space limit in tests/runtime/test_memory_limit.py).
    from runtime.onnx.ops import elementwise

    def exhausted(*args, **kwargs):
        raise MemoryError("Unable to allocate 2.3 GiB")

    monkeypatch.setattr(elementwise.np, "add", exhausted)
    session = InferenceSession(_binary("Add", [2], [2]))
    with pytest.raises(BudgetExceededError, match="'big' \\(Add\\).*out of memory"):
        session.run(None, {"a": np.ones(2, np.float32), "b": np.ones(2, np.float32)})
    assert issubclass(BudgetExceededError, InvalidModelError)


@pytest.mark.parametrize(
    ("node", "inputs", "feeds"),
    [
        (
            helper.make_node("MatMulInteger", ["a", "b"], ["y"], name="big"),
            [_vi("a", TensorProto.UINT8, [25000, 1]), _vi("b", TensorProto.UINT8, [1, 25000])],
            {"a": np.ones((25000, 1), np.uint8), "b": np.ones((1, 25000), np.uint8)},
        ),
        (
            helper.make_node("Gather", ["a", "i"], ["y"], axis=0, name="big"),
            [_vi("a", FLOAT, [1, 1 << 20]), _vi("i", INT64, [2000])],
            {"a": np.ones((1, 1 << 20), np.float32), "i": np.zeros(2000, np.int64)},
        ),
        (
            helper.make_node(
                "QLinearAdd",
                ["a", "s", "z", "b", "s", "z", "s", "z"],
                ["y"],
                domain="com.microsoft",
                name="big",
            ),
            [_vi("a", TensorProto.INT8, [25000, 1]), _vi("b", TensorProto.INT8, [1, 25000])],
            {"a": np.ones((25000, 1), np.int8), "b": np.ones((1, 25000), np.int8)},
        ),
    ],
)
def test_integer_matmul_gather_and_quantized_add_are_refused_before_allocating(node, inputs, feeds):
    data = _model(
        [node],
        inputs,
        [_vi("y", _output_type(node), None)],
        [_scalar("s", FLOAT, 0.5), _scalar("z", TensorProto.INT8, 0)],
        opsets=(("", 17), ("com.microsoft", 1)),
    )
    tracemalloc.start()
    try:
        with pytest.raises(BudgetExceededError, match=rf"'big' \(.*{node.op_type}\).*limit"):
            InferenceSession(data).run(None, feeds)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20  # the inputs' copies at most, never the result


def _output_type(node):
    return {"MatMulInteger": TensorProto.INT32, "QLinearAdd": TensorProto.INT8}.get(
        node.op_type, FLOAT
    )
