"""IF, CALL_ONCE and resource variables (VAR_HANDLE, ASSIGN_VARIABLE, READ_VARIABLE) against
LiteRT's reference kernels: outputs of several invokes in a row (state persists across them),
integers bit for bit and float within 1e-5; and their refusals."""

from __future__ import annotations

import numpy as np
import pytest

from runtime import Interpreter, Limits
from runtime.errors import BudgetExceededError, InvalidModelError
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._builder import GraphBuilder
from tests.runtime.tflite._litert import litert_interpreter

NP = {T.FLOAT32: np.float32, T.INT32: np.int32}


def _invoke_both(data, feeds_per_run):
    """Outputs of ours and LiteRT (BUILTIN_REF) for each run of feeds, in one interpreter each."""
    results = []
    for it in (Interpreter(model_content=data), litert_interpreter(model_content=data)):
        it.allocate_tensors()
        runs = []
        for feeds in feeds_per_run:
            for d, x in zip(it.get_input_details(), feeds):
                it.set_tensor(d["index"], x)
            it.invoke()
            runs.append([it.get_tensor(d["index"]) for d in it.get_output_details()])
        results.append(runs)
    return results


def _assert_same(ours, ref):
    for run_ours, run_ref in zip(ours, ref):
        for a, b in zip(run_ours, run_ref):
            assert a.dtype == b.dtype and a.shape == b.shape
            if a.dtype.kind == "f":
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
            else:
                np.testing.assert_array_equal(a, b)


def if_model(ttype, shape=(2, 3), cond_shape=(1,)):
    g = GraphBuilder()
    cond = g.add(cond_shape, T.BOOL, "cond")
    a = g.add(shape, ttype, "a")
    b = g.add(shape, ttype, "b")
    y = g.add(shape, ttype, "y")
    branches = []
    for code in (Op.ADD, Op.MUL):
        s = g.sub()
        sa, sb, sy = s.add(shape, ttype, "a"), s.add(shape, ttype, "b"), s.add(shape, ttype, "y")
        s.op(code, [sa, sb], [sy], {})
        branches.append(g.add_subgraph(s, [sa, sb], [sy], code.name.lower()))
    g.op(
        Op.IF,
        [cond, a, b],
        [y],
        {"then_subgraph_index": branches[0], "else_subgraph_index": branches[1]},
    )
    return g.finish([cond, a, b], [y])


@pytest.mark.parametrize("ttype", [T.FLOAT32, T.INT32])
@pytest.mark.parametrize("cond_shape", [(1,), ()])
def test_if_runs_the_chosen_branch(ttype, cond_shape):
    rng = np.random.default_rng(1)
    a = rng.integers(-9, 9, (2, 3)).astype(NP[ttype])
    b = rng.integers(-9, 9, (2, 3)).astype(NP[ttype])
    runs = [[np.full(cond_shape, flag), a, b] for flag in (True, False, True)]
    ours, ref = _invoke_both(if_model(ttype, cond_shape=cond_shape), runs)
    _assert_same(ours, ref)
    np.testing.assert_array_equal(ours[0][0], a + b)
    np.testing.assert_array_equal(ours[1][0], a * b)


def test_if_refuses_a_non_bool_condition_and_a_branch_of_the_wrong_arity():
    g = GraphBuilder()
    cond = g.add((1,), T.INT32, "cond")
    a = g.add((2,), T.FLOAT32, "a")
    y = g.add((2,), T.FLOAT32, "y")
    s = g.sub()
    sa = s.add((2,), T.FLOAT32, "a")
    branch = g.add_subgraph(s, [sa], [sa, sa])
    g.op(Op.IF, [cond, a], [y], {"then_subgraph_index": branch, "else_subgraph_index": branch})
    with pytest.raises(InvalidModelError, match="condition must be bool"):
        Interpreter(model_content=g.finish([cond, a], [y])).allocate_tensors()
    g.tensors[cond]["type"] = int(T.BOOL)
    it = Interpreter(model_content=g.finish([cond, a], [y]))
    it.allocate_tensors()
    with pytest.raises(InvalidModelError, match="gives 2 outputs"):
        it.invoke()


def _handle(g, name):
    h = g.add((1,), T.RESOURCE, f"handle_{name}")
    g.op(Op.VAR_HANDLE, [], [h], {"container": "", "shared_name": name})
    return h


def counter_model(ttype, shape=(2, 2), init=None, call_once=True):
    """An accumulator: CALL_ONCE assigns ``init`` to variable "acc" (and 5 to "other"); each
    invoke reads acc, adds the input, stores the sum back and outputs it with "other"."""
    g = GraphBuilder()
    x = g.add(shape, ttype, "x")
    if call_once:
        s = g.sub()
        h = _handle(s, "acc")
        start = s.add(shape, ttype, "start", data=init)
        s.op(Op.ASSIGN_VARIABLE, [h, start], [])
        h2 = _handle(s, "other")
        five = s.add((1,), ttype, "five", data=np.array([5], NP[ttype]))
        s.op(Op.ASSIGN_VARIABLE, [h2, five], [])
        init_index = g.add_subgraph(s, [], [], "init")
        g.op(Op.CALL_ONCE, [], [], {"init_subgraph_index": init_index})
    h = _handle(g, "acc")
    current = g.add(shape, ttype, "current")
    g.op(Op.READ_VARIABLE, [h], [current])
    total = g.add(shape, ttype, "total")
    g.op(Op.ADD, [current, x], [total], {})
    g.op(Op.ASSIGN_VARIABLE, [h, total], [])
    other = g.add((1,), ttype, "other_value")
    g.op(Op.READ_VARIABLE, [_handle(g, "other")], [other])
    return g.finish([x], [total, other])


@pytest.mark.parametrize("ttype", [T.FLOAT32, T.INT32])
def test_variables_persist_across_invokes_and_call_once_runs_once(ttype):
    rng = np.random.default_rng(2)
    init = rng.integers(-5, 5, (2, 2)).astype(NP[ttype])
    feeds = [[rng.integers(-5, 5, (2, 2)).astype(NP[ttype])] for _ in range(3)]
    ours, ref = _invoke_both(counter_model(ttype, init=init), feeds)
    _assert_same(ours, ref)
    np.testing.assert_array_equal(ours[2][0], init + sum(f[0] for f in feeds))
    np.testing.assert_array_equal(ours[2][1], [5])


def test_variables_are_per_interpreter():
    data = counter_model(T.INT32, init=np.zeros((2, 2), np.int32))
    first, second = Interpreter(model_content=data), Interpreter(model_content=data)
    for it, runs in ((first, 2), (second, 1)):
        it.allocate_tensors()
        for _ in range(runs):
            it.set_tensor(it.get_input_details()[0]["index"], np.ones((2, 2), np.int32))
            it.invoke()
    out = first.get_output_details()[0]["index"]
    np.testing.assert_array_equal(first.get_tensor(out), np.full((2, 2), 2))
    np.testing.assert_array_equal(second.get_tensor(out), np.full((2, 2), 1))


def test_reading_an_unassigned_variable_is_an_error():
    it = Interpreter(model_content=counter_model(T.FLOAT32, call_once=False))
    it.allocate_tensors()
    with pytest.raises(InvalidModelError, match="never assigned"):
        it.invoke()


def test_variables_count_against_max_memory_bytes():
    """CALL_ONCE stores a 16 KiB constant in a variable: above a 10 kB max_memory_bytes."""
    g = GraphBuilder()
    x = g.add((2,), T.FLOAT32, "x")
    y = g.add((2,), T.FLOAT32, "y")
    s = g.sub()
    big = s.add((64, 64), T.FLOAT32, "big", data=np.zeros((64, 64), np.float32))
    s.op(Op.ASSIGN_VARIABLE, [_handle(s, "big"), big], [])
    g.op(Op.CALL_ONCE, [], [], {"init_subgraph_index": g.add_subgraph(s, [], [], "init")})
    g.op(Op.ADD, [x, x], [y], {})
    data = g.finish([x], [y])
    for limits, fails in ((Limits(max_memory_bytes=10_000), True), (None, False)):
        it = Interpreter(model_content=data, limits=limits)
        it.allocate_tensors()
        if fails:
            with pytest.raises(BudgetExceededError, match="resource variables would hold 16384"):
                it.invoke()
        else:
            it.invoke()
