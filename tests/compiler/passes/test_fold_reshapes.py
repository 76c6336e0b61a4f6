import numpy as np

from compiler.ir import Graph
from compiler.passes import FoldReshapesPass
from tests.compiler.passes.helpers import run_pass, types


def _shape(g, name, dims):
    return g.const(name, np.array(dims, np.int32))


def test_chain_of_reshapes_becomes_one():
    g = Graph("g")
    x = g.add_input("x", (None, 6, 4))
    y = g.node("RESHAPE", [x, _shape(g, "s1", [-1, 1, 6, 4])], (None, 1, 6, 4), "a")
    y = g.node("RESHAPE", [y, _shape(g, "s2", [-1, 24])], (None, 24), "b")
    g.outputs = [g.node("TANH", [y], (None, 24), "t")]
    out = run_pass(FoldReshapesPass(), g, expect_modified=True)
    assert types(out) == ["RESHAPE", "TANH"]
    assert out.ops[0].inputs[0] is out.inputs[0]


def test_round_trip_reshape_disappears_keeping_output_name():
    g = Graph("g")
    x = g.add_input("x", (None, 6, 4))
    y = g.node("RELU", [x], (None, 6, 4), "r")
    y = g.node("RESHAPE", [y, _shape(g, "s1", [-1, 1, 6, 4])], (None, 1, 6, 4), "up")
    g.outputs = [g.node("RESHAPE", [y, _shape(g, "s2", [-1, 6, 4])], (None, 6, 4), "down")]
    out = run_pass(FoldReshapesPass(), g, expect_modified=True)
    assert types(out) == ["RELU"] and out.outputs[0].name == "down"


def test_shared_or_output_intermediate_is_kept():
    g = Graph("g")
    x = g.add_input("x", (None, 6))
    y = g.node("RESHAPE", [x, _shape(g, "s1", [-1, 2, 3])], (None, 2, 3), "mid")
    z = g.node("RESHAPE", [y, _shape(g, "s2", [-1, 3, 2])], (None, 3, 2), "z")
    g.outputs = [z, g.node("TANH", [y], (None, 2, 3), "t")]
    out = run_pass(FoldReshapesPass(), g, expect_modified=False)
    assert types(out) == ["RESHAPE", "RESHAPE", "TANH"]
