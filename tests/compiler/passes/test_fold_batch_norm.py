import numpy as np
import pytest

from compiler.ir import Graph
from compiler.passes import FoldBatchNormPass
from tests.compiler.passes.helpers import run_pass, types

RNG = np.random.default_rng(3)


def _bn_params(g, c, name="bn"):
    return [
        g.const(f"{name}/gamma", RNG.uniform(0.5, 2, c).astype(np.float32)),
        g.const(f"{name}/beta", RNG.normal(size=c).astype(np.float32)),
        g.const(f"{name}/mean", RNG.normal(size=c).astype(np.float32)),
        g.const(f"{name}/var", RNG.uniform(0.2, 3, c).astype(np.float32)),
    ]


def _producer_then_bn(op_type, bias=True, activation="NONE", extra_reader=False):
    g = Graph("g")
    if op_type == "FULLY_CONNECTED":
        x = g.add_input("x", (None, 6))
        w = g.const("w", RNG.normal(size=(5, 6)).astype(np.float32))
        shape, c, attrs = (None, 5), 5, {}
    elif op_type == "CONV_2D":
        x = g.add_input("x", (None, 5, 5, 2))
        w = g.const("w", RNG.normal(size=(4, 3, 3, 2)).astype(np.float32))
        shape, c, attrs = (None, 3, 3, 4), 4, {}
    else:
        x = g.add_input("x", (None, 5, 5, 2))
        w = g.const("w", RNG.normal(size=(1, 3, 3, 6)).astype(np.float32))
        shape, c, attrs = (None, 3, 3, 6), 6, {"depth_multiplier": 3}
    inputs = [x, w] + ([g.const("b", RNG.normal(size=c).astype(np.float32))] if bias else [])
    y = g.node(op_type, inputs, shape, "prod", {**attrs, "activation": activation})
    z = g.node("BATCH_NORM", [y, *_bn_params(g, c)], shape, "bn", {"epsilon": 1e-3})
    g.outputs = [z, g.node("RELU", [y], shape, "side")] if extra_reader else [z]
    return g


@pytest.mark.parametrize("op_type", ["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"])
@pytest.mark.parametrize("bias", [True, False])
def test_folds_into_producer(op_type, bias):
    out = run_pass(FoldBatchNormPass(), _producer_then_bn(op_type, bias), expect_modified=True)
    assert types(out) == [op_type]
    assert out.ops[0].inputs[2] is not None


def test_shared_weights_are_not_edited_in_place():
    g = _producer_then_bn("CONV_2D")
    weights = g.ops[0].inputs[1]
    before = weights.data.copy()
    out = FoldBatchNormPass()(g).graph
    np.testing.assert_array_equal(weights.data, before)
    assert out.ops[0].inputs[1] is not weights


@pytest.mark.parametrize(
    "kwargs", [{"activation": "RELU"}, {"extra_reader": True}], ids=["fused_act", "two_readers"]
)
def test_unfoldable_becomes_multiply_add(kwargs):
    out = run_pass(
        FoldBatchNormPass(), _producer_then_bn("CONV_2D", **kwargs), expect_modified=True
    )
    assert "BATCH_NORM" not in types(out)
    assert types(out)[1:3] == ["MUL", "ADD"]


def test_batch_norm_on_an_input_becomes_multiply_add():
    g = Graph("g")
    x = g.add_input("x", (None, 3))
    g.outputs = [g.node("BATCH_NORM", [x, *_bn_params(g, 3)], (None, 3), "bn")]
    out = run_pass(FoldBatchNormPass(), g, expect_modified=True)
    assert types(out) == ["MUL", "ADD"] and out.outputs[0].name == "bn"


def test_no_batch_norm_no_change():
    g = Graph("g")
    x = g.add_input("x", (None, 3))
    g.outputs = [g.node("RELU", [x], (None, 3), "r")]
    run_pass(FoldBatchNormPass(), g, expect_modified=False)


def _bn_then(op_type, padding="VALID", bias=True):
    g = Graph("g")
    if op_type == "FULLY_CONNECTED":
        x = g.add_input("x", (None, 4))
        z = g.node("BATCH_NORM", [x, *_bn_params(g, 4)], (None, 4), "bn")
        w = g.const("w", RNG.normal(size=(3, 4)).astype(np.float32))
        shape, c, attrs = (None, 3), 3, {}
    else:
        x = g.add_input("x", (None, 5, 5, 2))
        z = g.node("BATCH_NORM", [x, *_bn_params(g, 2)], (None, 5, 5, 2), "bn")
        out = 3 if padding == "VALID" else 5
        if op_type == "CONV_2D":
            w = g.const("w", RNG.normal(size=(4, 3, 3, 2)).astype(np.float32))
            shape, c, attrs = (None, out, out, 4), 4, {"padding": padding}
        else:
            w = g.const("w", RNG.normal(size=(1, 3, 3, 6)).astype(np.float32))
            shape, c = (None, out, out, 6), 6
            attrs = {"padding": padding, "depth_multiplier": 3}
    inputs = [z, w] + ([g.const("b", RNG.normal(size=c).astype(np.float32))] if bias else [])
    g.outputs = [g.node(op_type, inputs, shape, "y", attrs)]
    return g


@pytest.mark.parametrize("op_type", ["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"])
@pytest.mark.parametrize("bias", [True, False])
def test_folds_forward_into_a_valid_reader(op_type, bias):
    out = run_pass(FoldBatchNormPass(), _bn_then(op_type, bias=bias), expect_modified=True)
    assert types(out) == [op_type]
    assert out.ops[0].inputs[0] is out.inputs[0]


@pytest.mark.parametrize("op_type", ["CONV_2D", "DEPTHWISE_CONV_2D"])
def test_same_padding_reader_gets_multiply_add(op_type):
    out = run_pass(FoldBatchNormPass(), _bn_then(op_type, padding="SAME"), expect_modified=True)
    assert types(out) == ["MUL", "ADD", op_type]
