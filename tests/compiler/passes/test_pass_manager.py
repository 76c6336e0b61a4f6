import numpy as np
import pytest

from compiler.ir import Graph
from compiler.passes import Pass, PassManager, PassResult, default_passes, optimize
from tests.compiler.passes.helpers import run_pass, types


def _conv_bn_relu_dropout():
    rng = np.random.default_rng(0)
    g = Graph("g")
    x = g.add_input("x", (None, 5, 5, 2))
    w = g.const("w", rng.normal(size=(3, 3, 3, 2)).astype(np.float32))
    y = g.node("CONV_2D", [x, w], (None, 3, 3, 3), "conv")
    params = [g.const(n, rng.uniform(0.5, 1.5, 3).astype(np.float32)) for n in ("g", "b", "m", "v")]
    y = g.node("BATCH_NORM", [y, *params], (None, 3, 3, 3), "bn")
    y = g.node("RELU", [y], (None, 3, 3, 3), "relu")
    y = g.node("DROPOUT", [y], (None, 3, 3, 3), "drop")
    g.outputs = [y]
    return g


def test_default_pipeline_reaches_one_fused_conv():
    out = run_pass(PassManager(default_passes()), _conv_bn_relu_dropout(), expect_modified=True)
    assert types(out) == ["CONV_2D"]
    assert out.ops[0].attrs["activation"] == "RELU" and out.outputs[0].name == "drop"


def test_second_run_changes_nothing():
    g = optimize(_conv_bn_relu_dropout()).graph
    assert optimize(g).modified is False


class _Flip(Pass):
    def call(self, graph):
        return PassResult(graph, True)


def test_passes_that_never_settle_are_stopped():
    g = Graph("g")
    x = g.add_input("x", (None, 1))
    g.outputs = [g.node("RELU", [x], (None, 1), "r")]
    with pytest.raises(RuntimeError, match="_Flip"):
        PassManager([_Flip()], max_rounds=3).call(g)
