"""DecomposeActivationsPass: HARD_SIGMOID, SOFTPLUS, MISH and SELU become builtins, except where
the ONNX opset being written has their node."""

import numpy as np
import pytest

from compiler.ir import Graph
from compiler.passes import DecomposeActivationsPass
from tests.compiler.passes.helpers import run_pass, types

OPS = ["HARD_SIGMOID", "SOFTPLUS", "MISH", "SELU"]


def _graph(op_type: str) -> Graph:
    g = Graph("act")
    x = g.add_input("x", (None, 5, 7))
    scaled = g.node("MUL", [x, g.const("k", np.float32(6.0))], x.shape, "scaled")  # +-20ish
    y = g.node(op_type, [scaled], x.shape, "y")
    g.outputs = [y]
    return g


@pytest.mark.parametrize("op_type", OPS)
def test_decomposition_computes_the_same_function(op_type):
    g = run_pass(DecomposeActivationsPass(), _graph(op_type), True, tol=1e-6)
    assert op_type not in types(g)
    assert g.outputs[0].name == "y"
    # TFLite builtins only, and a graph the writer takes.
    from compiler.export.tflite import write_tflite

    write_tflite(g)


@pytest.mark.parametrize(
    "op_type, opset, kept",
    [("MISH", 18, True), ("MISH", 17, False), ("SELU", 13, True), ("HARD_SIGMOID", 13, True)],
)
def test_onnx_opsets_with_the_node_keep_it(op_type, opset, kept):
    g = run_pass(DecomposeActivationsPass(onnx_opset=opset), _graph(op_type), not kept)
    assert (op_type in types(g)) is kept


def test_softplus_decomposition_does_not_overflow():
    g = DecomposeActivationsPass()(_graph("SOFTPLUS")).graph
    from compiler.ir import evaluate

    x = np.array([[[-100.0, -20.0, 0.0, 20.0, 100.0, 15.0, -15.0]] * 5], np.float32)
    (y,) = evaluate(g, [x / 6])
    # Finite everywhere; float32 rounding of 1 + exp(-|x|) costs ~1e-7 absolute.
    np.testing.assert_allclose(y, np.logaddexp(0.0, x.astype(np.float64)), rtol=1e-6, atol=1e-6)
