import numpy as np
import pytest

from compiler.ir import Graph
from compiler.passes import DecomposeNormalizationPass
from tests.compiler.passes.helpers import run_pass, types

RNG = np.random.default_rng(8)
BODY = ["MEAN", "SQUARED_DIFFERENCE", "MEAN", "ADD", "RSQRT", "SUB", "MUL"]


def _norm(op_type, shape, gamma, beta, **attrs):
    g = Graph("g")
    x = g.add_input("x", shape)
    if op_type == "LAYER_NORM":
        norm_shape = tuple(shape[a] for a in attrs["axes"])
    else:
        norm_shape = (shape[-1],)
    inputs = [
        x,
        g.const("gamma", RNG.uniform(0.5, 1.5, norm_shape).astype(np.float32)) if gamma else None,
        g.const("beta", RNG.normal(size=norm_shape).astype(np.float32)) if beta else None,
    ]
    while inputs[-1] is None:
        inputs.pop()
    g.outputs = [g.node(op_type, inputs, shape, "norm", {**attrs, "epsilon": 1e-3})]
    return g


@pytest.mark.parametrize(
    "shape, axes", [((None, 4, 6), (2,)), ((None, 3, 4, 5), (1, 2, 3)), ((None, 3, 4), (1,))]
)
@pytest.mark.parametrize("gamma, beta", [(True, True), (False, True), (True, False)])
def test_layer_norm_becomes_builtins(shape, axes, gamma, beta):
    graph = _norm("LAYER_NORM", shape, gamma, beta, axes=axes)
    out = run_pass(DecomposeNormalizationPass(), graph, True)
    assert types(out) == BODY + ["MUL"] * gamma + ["ADD"] * beta
    assert out.outputs[0].name == "norm"


@pytest.mark.parametrize("shape, groups", [((None, 4, 5, 6), 3), ((None, 7, 4), 4), ((None, 8), 2)])
@pytest.mark.parametrize("gamma, beta", [(True, True), (False, False)])
def test_group_norm_becomes_four_dimensional_builtins(shape, groups, gamma, beta):
    graph = _norm("GROUP_NORM", shape, gamma, beta, groups=groups)
    out = run_pass(DecomposeNormalizationPass(), graph, True)
    affine = ["MUL"] * gamma + ["ADD"] * beta
    assert types(out) == ["RESHAPE", *BODY, "RESHAPE", *affine]
    assert all(op.outputs[0].rank <= 4 for op in out.ops)
    assert out.outputs[0].name == "norm"


def test_keeps_what_the_onnx_opset_expresses():
    trailing = _norm("LAYER_NORM", (None, 3, 4, 5), True, True, axes=(2, 3))
    run_pass(DecomposeNormalizationPass(onnx_opset=17), trailing, expect_modified=False)
    run_pass(DecomposeNormalizationPass(onnx_opset=13), trailing, expect_modified=True)
    middle = _norm("LAYER_NORM", (None, 3, 4), True, True, axes=(1,))
    run_pass(DecomposeNormalizationPass(onnx_opset=21), middle, expect_modified=True)
    groups = _norm("GROUP_NORM", (None, 4, 4, 6), True, True, groups=2)
    run_pass(DecomposeNormalizationPass(onnx_opset=21), groups, expect_modified=False)
    run_pass(DecomposeNormalizationPass(onnx_opset=20), groups, expect_modified=True)
    run_pass(DecomposeNormalizationPass(), Graph("empty"), expect_modified=False)
