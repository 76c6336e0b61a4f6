import numpy as np

from compiler.ir import Graph
from compiler.passes import RemoveIdentitiesPass
from tests.compiler.passes.helpers import run_pass, types


def _chain(last="DROPOUT"):
    g = Graph("g")
    x = g.add_input("x", (None, 4))
    y = g.node("RELU", [x], (None, 4), "relu")
    y = g.node("DROPOUT", [y], (None, 4), "drop", {"rate": 0.3})
    y = g.node("TANH", [y], (None, 4), "tanh")
    y = g.node(last, [y], (None, 4), "out")
    g.outputs = [y]
    return g


def test_removes_dropout_and_identity_keeping_output_name():
    out = run_pass(RemoveIdentitiesPass(), _chain("IDENTITY"), expect_modified=True)
    assert types(out) == ["RELU", "TANH"]
    assert out.outputs[0].name == "out" and out.ops[-1].outputs[0] is out.outputs[0]


def test_nothing_to_remove():
    g = Graph("g")
    x = g.add_input("x", (None, 4))
    g.outputs = [g.node("RELU", [x], (None, 4), "r")]
    out = run_pass(RemoveIdentitiesPass(), g, expect_modified=False)
    assert types(out) == ["RELU"]


def test_identity_from_input_to_output_stays():
    g = Graph("copy")
    x = g.add_input("x", (None, 2))
    g.outputs = [g.node("IDENTITY", [x], (None, 2), "y")]
    out = run_pass(RemoveIdentitiesPass(), g, expect_modified=False)
    assert types(out) == ["IDENTITY"]


def test_identity_of_an_output_to_another_output_stays():
    g = Graph("two")
    x = g.add_input("x", (None, 2))
    a = g.node("RELU", [x], (None, 2), "a")
    b = g.node("IDENTITY", [a], (None, 2), "b")
    g.outputs = [a, b]
    out = run_pass(RemoveIdentitiesPass(), g, expect_modified=False)
    assert [v.name for v in out.outputs] == ["a", "b"]
    np.testing.assert_equal(len(out.ops), 2)
