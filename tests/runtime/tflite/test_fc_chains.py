"""Chains of one-row int8 FULLY_CONNECTED layers run as one executor step
(``runtime/tflite/_fc_chains``): LiteRT's reference kernels' outputs bit for bit (per-tensor
and per-channel weights, zero points, fused activations, saturated inputs), every
intermediate with ``preserve_all_tensors``, other input shapes, the budget's refusals naming
the operator, and the layouts that must not be chained."""

from __future__ import annotations

import numpy as np
import pytest

from runtime import BudgetExceededError, Interpreter, Limits
from runtime.tflite import _fc_chains
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._builder import GraphBuilder
from tests.runtime.tflite._litert import litert_interpreter

# (units, per-channel weights, output zero point, fused activation: 0 none, 1 RELU, 3 RELU6)
LAYERS = [(16, False, -5, 1), (8, True, 3, 0), (24, False, 100, 3), (10, True, -128, 0)]
DEPTH = 12


def _chain_model(
    rows=1, extra_reader=False, expose=False, dynamic=False, lookups=False, float_input=False
):
    """int8 input (rows, DEPTH) -> the LAYERS -> output; ``extra_reader``: the first layer's
    output is also read by a RELU (an output); ``expose``: the second layer's output is a
    model output too; ``dynamic``: the batch dimension may be resized; ``lookups``: an int8
    LOGISTIC and a DEQUANTIZE after the last layer; ``float_input``: a float32 input that a
    QUANTIZE feeds to the first layer."""
    rng = np.random.default_rng(7)
    g = GraphBuilder()
    signature = [-1, DEPTH] if dynamic else None
    if float_input:
        x = g.add([rows, DEPTH], T.FLOAT32, "x", shape_signature=signature)
        h = g.add([rows, DEPTH], T.INT8, "xq", scale=0.04, zero_point=-2)
        g.op(Op.QUANTIZE, [x], [h])
    else:
        x = h = g.add(
            [rows, DEPTH], T.INT8, "x", scale=0.04, zero_point=-2, shape_signature=signature
        )
    s_in, depth = 0.04, DEPTH
    outputs = []
    for k, (units, per_channel, zp_out, act) in enumerate(LAYERS):
        w = rng.integers(-127, 128, (units, depth))
        w[0] = 127  # a unit with the largest accumulators
        scales = rng.uniform(0.002, 0.02, units) if per_channel else np.array([0.01])
        s_out = float(rng.uniform(0.05, 0.3))
        wt = g.add(
            [units, depth], T.INT8, f"w{k}", data=w, scale=scales, zero_point=[0] * len(scales)
        )
        b = rng.integers(-20000, 20000, units)
        bt = g.add(
            [units], T.INT32, f"b{k}", data=b, scale=s_in * scales, zero_point=[0] * len(scales)
        )
        y = g.add([rows, units], T.INT8, f"y{k}", scale=s_out, zero_point=zp_out)
        options = {"fused_activation_function": act, "keep_num_dims": False}
        g.op(Op.FULLY_CONNECTED, [h, wt, bt], [y], options, version=5)
        if k == 0 and extra_reader:
            r = g.add([rows, units], T.INT8, "relu", scale=s_out, zero_point=zp_out)
            g.op(Op.RELU, [y], [r])
            outputs.append(r)
        if k == 1 and expose:
            outputs.append(y)
        s_in, depth, h = s_out, units, y
    if lookups:
        sig = g.add([rows, depth], T.INT8, "sigmoid", scale=1 / 256, zero_point=-128)
        g.op(Op.LOGISTIC, [h], [sig])
        h = g.add([rows, depth], T.FLOAT32, "probability")
        g.op(Op.DEQUANTIZE, [sig], [h])
    return g.finish([x], [*outputs, h])


def _feeds(rows, float_input=False, n=12):
    rng = np.random.default_rng(11)
    if float_input:  # (quantized with scale 0.04: from saturated to NaN and beyond int32)
        feeds = [np.full((rows, DEPTH), v, np.float32) for v in (-9.0, 9.0, 0.0, -0.0)]
        feeds += [(rng.standard_normal((rows, DEPTH)) * 3).astype(np.float32) for _ in range(n)]
        for odd in (np.nan, np.inf, -np.inf, 1e30, 0.04 * 2.0**29):
            x = feeds[-1].copy()
            x[0, 3] = odd
            feeds.append(x)
        return feeds
    feeds = [np.full((rows, DEPTH), v, np.int8) for v in (-128, 127, 0)]
    feeds += [rng.integers(-128, 128, (rows, DEPTH)).astype(np.int8) for _ in range(n)]
    return feeds


def _compare(data, rows=1, preserve=False, float_input=False):
    ours = Interpreter(model_content=data, experimental_preserve_all_tensors=preserve)
    ref = litert_interpreter(model_content=data)
    for it in (ours, ref):
        it.resize_tensor_input(0, [rows, DEPTH])
        it.allocate_tensors()
    for x in _feeds(rows, float_input):
        for it in (ours, ref):
            it.set_tensor(0, x)
            it.invoke()
        for d in ours.get_output_details():
            np.testing.assert_array_equal(ours.get_tensor(d["index"]), ref.get_tensor(d["index"]))
        if preserve:
            for d in ours.get_tensor_details():
                if d["name"].startswith("y") or d["name"] in ("sigmoid", "xq"):
                    np.testing.assert_array_equal(
                        ours.get_tensor(d["index"]), ref.get_tensor(d["index"])
                    )
    return ours


def test_a_chain_is_one_step_and_equals_litert():
    data = _chain_model()
    ours = _compare(data)
    plan = ours._main.chained_plan
    assert plan is not None and len(plan) == 1  # four layers, one step


def test_a_quantize_before_the_layers_joins_the_chain():
    with np.errstate(over="ignore", invalid="ignore"):
        ours = _compare(_chain_model(float_input=True, lookups=True), float_input=True)
    plan = ours._main.chained_plan
    assert plan is not None and len(plan) == 1  # QUANTIZE, four layers, two lookups
    with np.errstate(over="ignore", invalid="ignore"):
        _compare(_chain_model(float_input=True, dynamic=True), rows=2, float_input=True)
        _compare(_chain_model(float_input=True), preserve=True, float_input=True)


def test_lookups_after_the_layers_join_the_chain():
    ours = _compare(_chain_model(lookups=True))
    plan = ours._main.chained_plan
    assert plan is not None and len(plan) == 1  # four layers and two lookups, one step
    assert ours.get_output_details()[0]["dtype"] == np.float32


@pytest.mark.parametrize("lookups", [False, True])
def test_every_intermediate_with_preserve_all_tensors(lookups):
    _compare(_chain_model(lookups=lookups), preserve=True)


@pytest.mark.parametrize("lookups", [False, True])
def test_another_batch_takes_the_layers_one_by_one(lookups):
    _compare(_chain_model(dynamic=True, lookups=lookups), rows=3)


@pytest.mark.parametrize("layout", ["extra_reader", "expose"])
def test_an_output_read_elsewhere_breaks_the_chain(layout):
    data = _chain_model(**{layout: True})
    ours = _compare(data)
    plan = ours._main.chained_plan
    # extra_reader: the first layer (read by a RELU too) stays alone, then the RELU, then a
    # chain of three; expose: the second layer (an output) ends the first chain of two
    assert plan is not None and len(plan) == (3 if layout == "extra_reader" else 2)


def _budget_error(data, chained: bool, limits: Limits) -> str:
    it = Interpreter(model_content=data, limits=limits)
    it.allocate_tensors()
    if not chained:
        it._main.chained_plan = None
    it.set_tensor(0, np.ones((1, DEPTH), np.int8))
    try:
        it.invoke()
    except BudgetExceededError as e:
        return str(e)
    return ""


@pytest.mark.parametrize("lookups", [False, True])
def test_the_memory_limit_names_the_same_operator_as_one_by_one(lookups):
    data = _chain_model(lookups=lookups)
    # input 12 bytes, outputs 16, 8, 24, 10 (then 10 and 40): the third layer needs 8 + 24
    # held at once, the DEQUANTIZE 10 + 40
    for limit in (20, 30, 40, 44, 46, 60, 62, 64, 100):
        one_by_one = _budget_error(data, False, Limits(max_memory_bytes=limit))
        chained = _budget_error(data, True, Limits(max_memory_bytes=limit))
        if one_by_one:
            assert chained == one_by_one, limit
        else:  # (the chain holds its 12-byte input to its end: at most that much earlier)
            assert not chained or not _budget_error(
                data, True, Limits(max_memory_bytes=limit + 12)
            ), limit
    assert "operator" in _budget_error(data, True, Limits(max_memory_bytes=30))


def test_find_chains_needs_two_linked_layers():
    data = _chain_model()
    it = Interpreter(model_content=data)
    it.allocate_tensors()
    ex = it._main
    steps = [(op, kernel, ex.constants) for op, kernel in ex.steps]
    assert _fc_chains.find_chains(steps, ex.keep, ex.initial_variables) == [(0, 3)]
    assert _fc_chains.find_chains(steps[:1], ex.keep, ex.initial_variables) == []
