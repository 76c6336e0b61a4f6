import numpy as np

from compiler.ir import Graph
from compiler.passes import RemoveDeadCodePass
from tests.compiler.passes.helpers import run_pass, types


def test_removes_unused_ops_and_their_constants():
    g = Graph("g")
    x = g.add_input("x", (None, 3))
    w = g.const("w", np.ones((2, 3), np.float32))
    g.node("FULLY_CONNECTED", [x, w], (None, 2), "unused")
    g.outputs = [g.node("RELU", [x], (None, 3), "r")]
    out = run_pass(RemoveDeadCodePass(), g, expect_modified=True)
    assert types(out) == ["RELU"] and out.constants() == []


def test_all_live():
    g = Graph("g")
    x = g.add_input("x", (None, 3))
    y = g.node("RELU", [x], (None, 3), "r")
    g.outputs = [g.node("TANH", [y], (None, 3), "t")]
    run_pass(RemoveDeadCodePass(), g, expect_modified=False)
