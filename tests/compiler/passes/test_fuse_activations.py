import numpy as np
import pytest

from compiler.ir import Graph
from compiler.passes import FuseActivationsPass
from tests.compiler.passes.helpers import run_pass, types


def _dense_then(act, reader_count=1, output_too=False, producer="FULLY_CONNECTED"):
    g = Graph("g")
    x = g.add_input("x", (None, 4))
    w = g.const("w", np.random.default_rng(0).normal(size=(4, 4)).astype(np.float32) * 3)
    if producer == "FULLY_CONNECTED":
        y = g.node("FULLY_CONNECTED", [x, w], (None, 4), "fc")
    else:
        y = g.node(producer, [x, x], (None, 4), "p")
    z = g.node(act, [y], (None, 4), "act")
    outs = [z]
    if reader_count > 1:
        outs.append(g.node("TANH", [y], (None, 4), "other"))
    if output_too:
        outs.append(y)
    g.outputs = outs
    return g


@pytest.mark.parametrize("act", ["RELU", "RELU6", "RELU_N1_TO_1"])
def test_fuses_into_fully_connected(act):
    out = run_pass(FuseActivationsPass(), _dense_then(act), expect_modified=True)
    assert types(out) == ["FULLY_CONNECTED"]
    assert out.ops[0].attrs["activation"] == act and out.ops[0].outputs[0].name == "act"


@pytest.mark.parametrize("producer", ["ADD", "MUL", "SUB"])
def test_fuses_into_binary_ops(producer):
    out = run_pass(FuseActivationsPass(), _dense_then("RELU", producer=producer), True)
    assert types(out) == [producer]


@pytest.mark.parametrize(
    "kwargs", [{"reader_count": 2}, {"output_too": True}, {"producer": "CONCATENATION"}]
)
def test_does_not_fuse(kwargs):
    if kwargs.get("producer") == "CONCATENATION":
        g = Graph("g")
        x = g.add_input("x", (None, 2))
        y = g.node("CONCATENATION", [x, x], (None, 4), "cat", {"axis": 1})
        g.outputs = [g.node("RELU", [y], (None, 4), "act")]
    else:
        g = _dense_then("RELU", **kwargs)
    out = run_pass(FuseActivationsPass(), g, expect_modified=False)
    assert "RELU" in types(out)


def test_tanh_is_not_fused():
    run_pass(FuseActivationsPass(), _dense_then("TANH"), expect_modified=False)
