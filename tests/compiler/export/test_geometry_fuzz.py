"""Bounded, deterministic fuzz of convolution and pooling geometry (kernel, stride, dilation,
padding, odd sizes): LiteRT and onnxruntime agree with the IR evaluator on every case."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.export.onnx import write_onnx
from compiler.export.tflite import write_tflite
from compiler.ir import Graph, evaluate
from tests.compiler.export.helpers import assert_close, run_onnx, run_tflite


def _out_size(size, k, stride, dilation, padding):
    eff = (k - 1) * dilation + 1
    return -(-size // stride) if padding == "SAME" else (size - eff) // stride + 1


@st.composite
def geometries(draw):
    op = draw(st.sampled_from(["CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D"]))
    padding = draw(st.sampled_from(["SAME", "VALID"]))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    pooling = op.endswith("POOL_2D")
    dil = (1, 1) if pooling or (sh, sw) != (1, 1) else (draw(st.integers(1, 2)),) * 2
    h = draw(st.integers((kh - 1) * dil[0] + 1, 9))
    w = draw(st.integers((kw - 1) * dil[1] + 1, 9))
    c = draw(st.integers(1, 3))
    act = draw(st.sampled_from(["NONE", "RELU", "RELU6"]))
    return op, padding, (kh, kw), (sh, sw), dil, (h, w, c), act


def _graph(op, padding, kernel, stride, dil, shape, act, rng):
    h, w, c = shape
    g = Graph("fuzz")
    x = g.add_input("x", (None, h, w, c))
    oh = _out_size(h, kernel[0], stride[0], dil[0], padding)
    ow = _out_size(w, kernel[1], stride[1], dil[1], padding)
    attrs = {"padding": padding, "stride": stride, "activation": act}
    if op == "CONV_2D":
        filt = g.const("f", rng.normal(size=(2, *kernel, c)).astype(np.float32))
        bias = g.const("b", rng.normal(size=2).astype(np.float32))
        y = g.node(op, [x, filt, bias], (None, oh, ow, 2), "y", {**attrs, "dilation": dil})
    elif op == "DEPTHWISE_CONV_2D":
        filt = g.const("f", rng.normal(size=(1, *kernel, 2 * c)).astype(np.float32))
        y = g.node(
            op,
            [x, filt],
            (None, oh, ow, 2 * c),
            "y",
            {**attrs, "dilation": dil, "depth_multiplier": 2},
        )
    else:
        y = g.node(op, [x], (None, oh, ow, c), "y", {**attrs, "filter": kernel})
    g.outputs = [y]
    return g


@settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(geometries())
def test_geometry_agrees_across_evaluator_litert_and_onnxruntime(case):
    rng = np.random.default_rng(0)
    g = _graph(*case, rng)
    x = rng.normal(size=(2, *g.inputs[0].shape[1:])).astype(np.float32)
    want = evaluate(g, [x])[0]
    assert_close(run_tflite(write_tflite(g), {"x": x})["y"], want, what=f"tflite {case}")
    assert_close(run_onnx(write_onnx(g), {"x": x})["y"], want, what=f"onnx {case}")
