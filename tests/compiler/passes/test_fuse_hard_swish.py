"""FuseHardSwishPass: x * relu6(x + 3) / 6 spelled out becomes one HARD_SWISH."""

import numpy as np
import pytest

from compiler.ir import Graph
from compiler.passes import FuseHardSwishPass, optimize
from tests.compiler.passes.helpers import run_pass, types


def _chain(form: str, three=3.0, sixth=1 / 6, fused_relu6=True, swap=False) -> Graph:
    g = Graph("hs")
    x = g.add_input("x", (None, 4, 4, 3))
    x = g.node("RELU", [x], (None, 4, 4, 3), "pre")  # x itself computed, as in a network
    c3 = g.const("three", np.float32(three))
    c6 = g.const("sixth", np.float32(sixth))
    shape = x.shape
    if fused_relu6:
        a = g.node("ADD", [c3, x] if swap else [x, c3], shape, "add", {"activation": "RELU6"})
    else:
        a = g.node("ADD", [x, c3], shape, "add", {"activation": "NONE"})
        a = g.node("RELU6", [a], shape, "relu6")
    if form == "gate":
        gate = g.node("MUL", [c6, a] if swap else [a, c6], shape, "gate", {"activation": "NONE"})
        y = g.node("MUL", [gate, x] if swap else [x, gate], shape, "y", {"activation": "NONE"})
    else:
        p = g.node("MUL", [a, x] if swap else [x, a], shape, "p", {"activation": "NONE"})
        y = g.node("MUL", [p, c6], shape, "y", {"activation": "NONE"})
    g.outputs = [y]
    return g


@pytest.mark.parametrize("form", ["gate", "product"])
@pytest.mark.parametrize("fused_relu6", [True, False])
@pytest.mark.parametrize("swap", [False, True])
def test_spelled_out_hard_swish_becomes_one_op(form, fused_relu6, swap):
    g = run_pass(FuseHardSwishPass(), _chain(form, fused_relu6=fused_relu6, swap=swap), True)
    assert types(g) == ["RELU", "HARD_SWISH"]
    assert g.outputs[0].name == "y"


@pytest.mark.parametrize(
    "kwargs", [{"three": 2.0}, {"sixth": 0.2}, {"three": 3.0, "sixth": 1 / 6.5}]
)
def test_other_constants_are_left_alone(kwargs):
    g = run_pass(FuseHardSwishPass(), _chain("gate", **kwargs), False)
    assert "HARD_SWISH" not in types(g)


def test_an_intermediate_read_elsewhere_blocks_the_fusion():
    g = _chain("gate")
    gate = next(op for op in g.ops if op.name == "gate").outputs[0]
    g.outputs = [g.outputs[0], gate]  # the hard sigmoid is an output too
    assert "HARD_SWISH" not in types(run_pass(FuseHardSwishPass(), g, False))


def test_the_default_pipeline_fuses_after_relu6_is_folded_into_add():
    g = optimize(_chain("gate", fused_relu6=False)).graph
    assert types(g) == ["RELU", "HARD_SWISH"]
