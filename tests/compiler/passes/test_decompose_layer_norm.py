import numpy as np
import pytest

from compiler.ir import Graph
from compiler.passes import DecomposeLayerNormPass
from tests.compiler.passes.helpers import run_pass, types

RNG = np.random.default_rng(8)


def _layer_norm(shape, axes, gamma=True, beta=True):
    g = Graph("g")
    x = g.add_input("x", shape)
    norm_shape = tuple(shape[a] for a in axes)
    inputs = [
        x,
        g.const("gamma", RNG.uniform(0.5, 1.5, norm_shape).astype(np.float32)) if gamma else None,
        g.const("beta", RNG.normal(size=norm_shape).astype(np.float32)) if beta else None,
    ]
    while inputs[-1] is None:
        inputs.pop()
    g.outputs = [g.node("LAYER_NORM", inputs, shape, "ln", {"axes": axes, "epsilon": 1e-3})]
    return g


@pytest.mark.parametrize(
    "shape, axes", [((None, 4, 6), (2,)), ((None, 3, 4, 5), (1, 2, 3)), ((None, 3, 4), (1,))]
)
@pytest.mark.parametrize("gamma, beta", [(True, True), (False, True), (True, False)])
def test_decomposes_into_builtins(shape, axes, gamma, beta):
    out = run_pass(DecomposeLayerNormPass(), _layer_norm(shape, axes, gamma, beta), True)
    body = ["MEAN", "SQUARED_DIFFERENCE", "MEAN", "ADD", "RSQRT", "SUB", "MUL"]
    assert types(out) == body + ["MUL"] * gamma + ["ADD"] * beta
    assert out.outputs[0].name == "ln"


def test_keeps_what_onnx_expresses_when_asked():
    trailing = _layer_norm((None, 3, 4, 5), (2, 3))
    run_pass(DecomposeLayerNormPass(keep_onnx=True), trailing, expect_modified=False)
    middle = _layer_norm((None, 3, 4), (1,))
    run_pass(DecomposeLayerNormPass(keep_onnx=True), middle, expect_modified=True)
    run_pass(DecomposeLayerNormPass(), Graph("empty"), expect_modified=False)
