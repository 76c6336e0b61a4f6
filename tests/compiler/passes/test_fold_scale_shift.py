import numpy as np
import pytest

from compiler.ir import Graph
from compiler.passes import FoldScaleShiftPass
from tests.compiler.passes.helpers import run_pass, types

RNG = np.random.default_rng(5)


def _c(g, name, shape):
    return g.const(name, RNG.uniform(0.5, 1.5, shape).astype(np.float32))


def _linear(g, op_type, x, padding="VALID", name="lin"):
    c = x.shape[-1]
    if op_type == "FULLY_CONNECTED":
        w, shape, attrs = _c(g, "w", (5, c)), (*x.shape[:-1], 5), {"keep_num_dims": x.rank > 2}
    elif op_type == "CONV_2D":
        w, attrs = _c(g, "w", (4, 3, 3, c)), {"padding": padding}
        shape = (None, 3, 3, 4) if padding == "VALID" else (*x.shape[:3], 4)
    else:
        w, attrs = _c(g, "w", (1, 3, 3, 2 * c)), {"padding": padding, "depth_multiplier": 2}
        shape = (None, 3, 3, 2 * c) if padding == "VALID" else (*x.shape[:3], 2 * c)
    bias = _c(g, f"{name}/b", (w.shape[3] if op_type == "DEPTHWISE_CONV_2D" else w.shape[0],))
    return g.node(op_type, [x, w, bias], shape, name, attrs)


def _scale_shift(g, x, scale_shape=(3,), shift=True, name="pre"):
    y = g.node("MUL", [x, _c(g, f"{name}/s", scale_shape)], x.shape, f"{name}/mul")
    if shift:
        y = g.node("ADD", [y, _c(g, f"{name}/t", scale_shape)], x.shape, f"{name}/add")
    return y


@pytest.mark.parametrize("op_type", ["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"])
def test_scale_and_shift_fold_forward_into_the_reader(op_type):
    g = Graph("g")
    x = g.add_input("x", (None, 5, 5, 3) if op_type != "FULLY_CONNECTED" else (None, 3))
    g.outputs = [_linear(g, op_type, _scale_shift(g, x))]
    assert types(run_pass(FoldScaleShiftPass(), g, expect_modified=True)) == [op_type]


def test_shift_does_not_fold_into_a_same_padded_convolution_but_a_scale_does():
    g = Graph("g")
    x = g.add_input("x", (None, 5, 5, 3))
    g.outputs = [_linear(g, "CONV_2D", _scale_shift(g, x), padding="SAME")]
    out = run_pass(FoldScaleShiftPass(), g, expect_modified=False)
    assert types(out) == ["MUL", "ADD", "CONV_2D"]
    g = Graph("g")
    x = g.add_input("x", (None, 5, 5, 3))
    g.outputs = [_linear(g, "CONV_2D", _scale_shift(g, x, shift=False), padding="SAME")]
    assert types(run_pass(FoldScaleShiftPass(), g, expect_modified=True)) == ["CONV_2D"]


@pytest.mark.parametrize("op_type", ["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"])
def test_per_output_channel_scale_folds_backward_into_the_producer(op_type):
    g = Graph("g")
    x = g.add_input("x", (None, 5, 5, 3) if op_type != "FULLY_CONNECTED" else (None, 3))
    y = _linear(g, op_type, x)
    g.outputs = [_scale_shift(g, y, scale_shape=(y.shape[-1],), name="post")]
    assert types(run_pass(FoldScaleShiftPass(), g, expect_modified=True)) == [op_type]


def test_chains_compose_into_one_multiply_add():
    """Rescaling then Normalization in front of a PAD (EfficientNet's stem): not foldable
    into the convolution, but three ops become two."""
    g = Graph("g")
    x = g.add_input("x", (None, 4, 4, 3))
    y = g.node("MUL", [x, g.const("r", np.float32(1 / 255))], x.shape, "rescale")
    y = _scale_shift(g, y, name="norm")
    pads = g.const("pads", np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32))
    g.outputs = [g.node("PAD", [y, pads], (None, 6, 6, 3), "pad")]
    assert types(run_pass(FoldScaleShiftPass(), g, expect_modified=True)) == ["MUL", "ADD", "PAD"]


def test_untouched_when_the_constants_vary_per_position_or_values_are_shared():
    g = Graph("g")
    x = g.add_input("x", (None, 5, 5, 3))
    y = _scale_shift(g, x, scale_shape=(5, 5, 3))  # per position: no per-channel fold
    g.outputs = [_linear(g, "CONV_2D", y)]
    run_pass(FoldScaleShiftPass(), g, expect_modified=False)
    g = Graph("g")
    x = g.add_input("x", (None, 3))
    y = _scale_shift(g, x)
    g.outputs = [_linear(g, "FULLY_CONNECTED", y), g.node("RELU", [y], y.shape, "other")]
    run_pass(FoldScaleShiftPass(), g, expect_modified=False)


def test_backward_fold_needs_no_fused_activation():
    g = Graph("g")
    x = g.add_input("x", (None, 3))
    y = _linear(g, "FULLY_CONNECTED", x)
    g.ops[-1].attrs["activation"] = "RELU"
    g.outputs = [_scale_shift(g, y, scale_shape=(5,), shift=False, name="post")]
    run_pass(FoldScaleShiftPass(), g, expect_modified=False)


def test_shared_weights_are_not_edited_in_place():
    g = Graph("g")
    x = g.add_input("x", (None, 3))
    y = _linear(g, "FULLY_CONNECTED", _scale_shift(g, x))
    w = g.ops[-1].inputs[1]
    before = w.data.copy()
    g.outputs = [y]
    run_pass(FoldScaleShiftPass(), g, expect_modified=True)
    np.testing.assert_array_equal(w.data, before)
