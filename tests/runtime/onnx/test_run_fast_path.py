"""``InferenceSession.run``'s short path (feeds of a signature an earlier run accepted and ran
through the planned graph) keeps every guarantee of the checked path: the budget (values
decide sizes and iterations), BLAS held to one thread and restored (concurrent runs too),
outputs that alias no feed or weight, intermediates when asked for again; and an If branch
that reads the model's weights (now its own constants in the planned graph) still sees a feed
that overrides them."""

import threading

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from threadpoolctl import threadpool_info, threadpool_limits

from runtime import Limits
from runtime.errors import BudgetExceededError
from runtime.onnx import InferenceSession
from runtime.onnx.ops import REGISTRY
from tests.runtime.test_failed_run_garbage import assert_failed_runs_leave_no_cycles

FLOAT, INT64 = TensorProto.FLOAT, TensorProto.INT64


def _model(nodes, inputs, outputs, initializers=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model.SerializeToString()


def _blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_value_sized_tensors_are_charged_on_the_short_path():
    # ConstantOfShape's size comes from the feed's values, not its signature.
    model = _model(
        [helper.make_node("ConstantOfShape", ["shape"], ["y"])],
        [helper.make_tensor_value_info("shape", INT64, [1])],
        [helper.make_tensor_value_info("y", FLOAT, None)],
    )
    session = InferenceSession(model, limits=Limits(max_memory_bytes=1 << 16))
    small = np.array([10], np.int64)
    for _ in range(3):
        assert session.run(None, {"shape": small})[0].shape == (10,)
    assert len(session._fast) == 1
    with pytest.raises(BudgetExceededError, match="ConstantOfShape"):
        session.run(None, {"shape": np.array([1 << 20], np.int64)})
    assert session.run(None, {"shape": small})[0].shape == (10,)


def test_loop_iterations_and_nodes_are_charged_on_the_short_path():
    body = helper.make_graph(
        [
            helper.make_node("Add", ["v", "one"], ["v_out"]),
            helper.make_node("Identity", ["c"], ["c_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", INT64, []),
            helper.make_tensor_value_info("c", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v", FLOAT, [1]),
        ],
        [
            helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_out", FLOAT, [1]),
        ],
        [numpy_helper.from_array(np.ones(1, np.float32), "one")],
    )
    model = _model(
        [helper.make_node("Loop", ["n", "", "v0"], ["v"], body=body)],
        [
            helper.make_tensor_value_info("n", INT64, []),
            helper.make_tensor_value_info("v0", FLOAT, [1]),
        ],
        [helper.make_tensor_value_info("v", FLOAT, None)],
    )
    for limits, pattern in (
        (Limits(max_loop_iterations=50), "max_loop_iterations"),
        (Limits(max_nodes=100), "max_nodes"),
    ):
        session = InferenceSession(model, limits=limits)
        v0 = np.zeros(1, np.float32)
        for _ in range(3):
            np.testing.assert_array_equal(session.run(None, {"n": np.array(5), "v0": v0})[0], [5])
        assert len(session._fast) == 1
        with pytest.raises(BudgetExceededError, match=pattern):
            session.run(None, {"n": np.array(1000), "v0": v0})


def test_outputs_of_the_short_path_alias_no_feed_or_weight():
    w = np.arange(4, dtype=np.float32)
    model = _model(
        [helper.make_node("Identity", ["x"], ["a"]), helper.make_node("Identity", ["w"], ["b"])],
        [helper.make_tensor_value_info("x", FLOAT, [4])],
        [
            helper.make_tensor_value_info("a", FLOAT, None),
            helper.make_tensor_value_info("b", FLOAT, None),
        ],
        [numpy_helper.from_array(w, "w")],
    )
    session = InferenceSession(model)
    x = np.ones(4, np.float32)
    for _ in range(3):
        a, b = session.run(None, {"x": x})
        assert not np.shares_memory(a, x)
        np.testing.assert_array_equal(b, w)
        b[:] = -1  # the caller's to modify: the next run's weights are intact
    assert len(session._fast) == 1
    np.testing.assert_array_equal(session.run(None, {"x": x})[1], w)


def test_intermediates_asked_for_after_short_path_runs():
    model = _model(
        [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Neg", ["r"], ["y"])],
        [helper.make_tensor_value_info("x", FLOAT, [3])],
        [helper.make_tensor_value_info("y", FLOAT, None)],
    )
    session = InferenceSession(model)
    x = np.array([-1.0, 0.0, 2.0], np.float32)
    for _ in range(2):
        session.run(None, {"x": x})
    assert session.intermediates == {}
    session.keep_intermediates = True
    session.run(None, {"x": x})
    np.testing.assert_array_equal(session.intermediates["r"], [0, 0, 2])
    np.testing.assert_array_equal(session.run(["r"], {"x": x})[0], [0, 0, 2])


def test_short_path_runs_hold_blas_to_one_thread_and_restore_it(monkeypatch):
    seen = []

    def relu(x):
        seen.append(_blas_threads())
        return np.maximum(x, 0)

    monkeypatch.setitem(REGISTRY, ("", "Relu"), {6: relu})
    model = _model(
        [helper.make_node("Relu", ["x"], ["y"])],
        [helper.make_tensor_value_info("x", FLOAT, [2])],
        [helper.make_tensor_value_info("y", FLOAT, None)],
    )
    session = InferenceSession(model)
    x = np.array([-1.0, 2.0], np.float32)
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        for _ in range(3):
            session.run(None, {"x": x})
            assert _blas_threads() == before
        errors = []

        def worker(k):
            try:
                for _ in range(5):
                    value = np.full(2, k, np.float32)
                    np.testing.assert_array_equal(session.run(None, {"x": value})[0], value)
            except Exception as e:  # noqa: BLE001 (reported by the main thread)
                errors.append(e)

        workers = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        assert not errors
        assert _blas_threads() == before
    assert len(session._fast) == 1
    # (the main thread's runs: this OpenBLAS ignores a thread count set from another thread,
    # so a run that starts first in a worker thread cannot change it; all are restored)
    assert len(seen) == 23 and all(set(threads) <= {1} for threads in seen[:3])


def test_a_branch_reading_an_overridable_weight_sees_the_feed():
    # ``w`` is an initializer listed as an input: the planned graph (w a constant of the
    # branch) runs without a feed for it, the graph as written with one.
    then = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["t"])],
        "then",
        [],
        [helper.make_tensor_value_info("t", FLOAT, None)],
    )
    other = helper.make_graph(
        [helper.make_node("Sub", ["x", "w"], ["e"])],
        "else",
        [],
        [helper.make_tensor_value_info("e", FLOAT, None)],
    )
    model = _model(
        [helper.make_node("If", ["cond"], ["y"], then_branch=then, else_branch=other)],
        [
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x", FLOAT, [2]),
            helper.make_tensor_value_info("w", FLOAT, [2]),
        ],
        [helper.make_tensor_value_info("y", FLOAT, None)],
        [numpy_helper.from_array(np.array([1.0, 2.0], np.float32), "w")],
    )
    session = InferenceSession(model)
    x = np.array([10.0, 20.0], np.float32)
    fed = np.array([100.0, 200.0], np.float32)
    for _ in range(2):
        for cond, sign in ((True, 1), (False, -1)):
            feeds = {"cond": np.array(cond), "x": x}
            np.testing.assert_array_equal(session.run(None, feeds)[0], x + sign * np.array([1, 2]))
            feeds["w"] = fed
            np.testing.assert_array_equal(session.run(None, feeds)[0], x + sign * fed)


def test_a_branch_constant_given_as_the_output_is_the_callers_copy():
    c = np.array([1.0, 2.0], np.float32)
    then = helper.make_graph(
        [helper.make_node("Identity", ["c"], ["t"])],
        "then",
        [],
        [helper.make_tensor_value_info("t", FLOAT, None)],
        [numpy_helper.from_array(c, "c")],
    )
    other = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["e"])],
        "else",
        [],
        [helper.make_tensor_value_info("e", FLOAT, None)],
    )
    model = _model(
        [helper.make_node("If", ["cond"], ["y"], then_branch=then, else_branch=other)],
        [
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x", FLOAT, [2]),
        ],
        [helper.make_tensor_value_info("y", FLOAT, None)],
    )
    session = InferenceSession(model)
    feeds = {"cond": np.array(True), "x": np.zeros(2, np.float32)}
    for _ in range(3):
        y = session.run(None, feeds)[0]
        np.testing.assert_array_equal(y, c)
        y[:] = -7  # the caller's to modify: the branch's constant is intact


def test_a_failed_short_path_run_leaves_no_cyclic_garbage():
    n = 1 << 16
    model = _model(
        [
            helper.make_node("Add", ["x", "x"], ["doubled"]),
            helper.make_node("Reshape", ["doubled", "shape"], ["y"]),
        ],
        [
            helper.make_tensor_value_info("x", FLOAT, [n]),
            helper.make_tensor_value_info("shape", INT64, [1]),
        ],
        [helper.make_tensor_value_info("y", FLOAT, None)],
    )
    session = InferenceSession(model)
    x = np.ones(n, np.float32)
    for _ in range(2):
        session.run(None, {"x": x, "shape": np.array([n], np.int64)})
    assert len(session._fast) == 1
    bad = {"x": x, "shape": np.array([3], np.int64)}  # the same signature, a bad value
    assert_failed_runs_leave_no_cycles(lambda: session.run(None, bad), "Reshape")
