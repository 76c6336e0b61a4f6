"""FoldBatchNorm and TRANSPOSE_CONV: a following BATCH_NORM folds into its filter and bias
(output channel = axis 0 of OHWI); a preceding one becomes MUL + ADD (a transposed
convolution's output sums a position-dependent number of taps, so no forward fold)."""

import numpy as np
import pytest

from compiler.ir import Graph
from compiler.passes import FoldBatchNormPass
from tests.compiler.passes.helpers import run_pass, types

RNG = np.random.default_rng(4)


def _bn(g, c, x, shape, name):
    params = [
        g.const(f"{name}/gamma", RNG.uniform(0.5, 2, c).astype(np.float32)),
        g.const(f"{name}/beta", RNG.normal(size=c).astype(np.float32)),
        g.const(f"{name}/mean", RNG.normal(size=c).astype(np.float32)),
        g.const(f"{name}/var", RNG.uniform(0.2, 3, c).astype(np.float32)),
    ]
    return g.node("BATCH_NORM", [x, *params], shape, name, {"epsilon": 1e-3})


def _transpose_conv(g, x, bias, padding):
    w = g.const("w", RNG.normal(size=(4, 3, 3, 2)).astype(np.float32))
    inputs = [x, w] + ([g.const("b", RNG.normal(size=4).astype(np.float32))] if bias else [])
    attrs = {"padding": padding, "stride": (2, 2), "output_size": (10, 10)}
    return g.node("TRANSPOSE_CONV", inputs, (None, 10, 10, 4), "tconv", attrs)


@pytest.mark.parametrize("bias", [True, False])
def test_following_batch_norm_folds_into_transpose_conv(bias):
    g = Graph("g")
    y = _transpose_conv(g, g.add_input("x", (None, 5, 5, 2)), bias, "SAME")
    g.outputs = [_bn(g, 4, y, y.shape, "bn")]
    out = run_pass(FoldBatchNormPass(), g, expect_modified=True)
    assert types(out) == ["TRANSPOSE_CONV"]


@pytest.mark.parametrize("padding", ["VALID", "SAME"])
def test_preceding_batch_norm_becomes_multiply_add(padding):
    g = Graph("g")
    x = g.add_input("x", (None, 5, 5, 2))
    normalized = _bn(g, 2, x, x.shape, "bn")
    g.outputs = [_transpose_conv(g, normalized, True, padding)]
    out = run_pass(FoldBatchNormPass(), g, expect_modified=True)
    assert types(out) == ["MUL", "ADD", "TRANSPOSE_CONV"]
