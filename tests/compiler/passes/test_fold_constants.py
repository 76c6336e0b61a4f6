import numpy as np

from compiler.ir import Graph
from compiler.passes import FoldConstantsPass
from tests.compiler.passes.helpers import run_pass, types


def test_folds_a_constant_subexpression():
    g = Graph("g")
    x = g.add_input("x", (None, 3))
    a = g.const("a", np.array([1.0, 2.0, 3.0], np.float32))
    b = g.const("b", np.array([0.5, -1.0, 2.0], np.float32))
    s = g.node("MUL", [a, b], (3,), "ab")
    s = g.node("RELU", [s], (3,), "relu_ab")
    g.outputs = [g.node("ADD", [x, s], (None, 3), "y")]
    out = run_pass(FoldConstantsPass(), g, expect_modified=True)
    assert types(out) == ["ADD"]
    folded = out.ops[0].inputs[1]
    assert folded.is_const and folded.data.tolist() == [0.5, 0.0, 6.0]


def test_constant_graph_output_is_not_folded():
    g = Graph("g")
    x = g.add_input("x", (None, 1))
    a = g.const("a", np.ones(2, np.float32))
    c = g.node("RELU", [a], (2,), "c")
    g.outputs = [g.node("RELU", [x], (None, 1), "r"), c]
    out = FoldConstantsPass()(g.copy())
    assert out.modified is False


def test_nothing_constant():
    g = Graph("g")
    x = g.add_input("x", (None, 3))
    g.outputs = [g.node("TANH", [x], (None, 3), "t")]
    run_pass(FoldConstantsPass(), g, expect_modified=False)
