"""The one-sample small Conv plans (``runtime.onnx.ops._conv_small``) against onnxruntime and
against the plain im2col path, and the geometries that must stay on the general paths.

Inputs come as written (NCHW-contiguous) and as a previous Conv leaves them (channels-last
memory seen as NCHW): the plan's copy order follows the input's strides.
"""

import gc
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from runtime.errors import BudgetExceededError
from runtime.onnx import InferenceSession
from runtime.onnx.ops import _conv_small, conv
from tests.runtime.onnx.helpers import ort_session
from tests.runtime.onnx.test_conv_paths import _channels_last, _plain, assert_conv_agrees

RNG = np.random.default_rng(20261208)
ROOT = Path(__file__).resolve().parents[3]

SMALL = [
    # one input channel: the slide CNN's first Conv, with pads, strides, dilations
    ((1, 1, 28, 28), 32, (3, 3), {}),
    ((1, 1, 20, 17), 8, (3, 2), {"pads": [1, 0, 2, 1], "strides": [2, 1]}),
    ((1, 1, 19, 21), 4, (3, 3), {"dilations": [2, 3], "strides": [1, 2]}),
    # a long strided 1-D kernel (STFT frames), and a short one with pads
    ((1, 1, 1760), 34, (512,), {"strides": [160]}),
    ((1, 1, 13), 1, (7,), {}),
    ((1, 3, 40), 5, (4,), {"pads": [2, 1], "dilations": [3]}),
    # many channels: the slide CNN's second Conv, and 1x1 (strided) as in silero
    ((1, 32, 13, 13), 64, (3, 3), {}),
    ((1, 258, 7), 16, (1,), {}),
    ((1, 16, 7), 16, (1,), {"strides": [2]}),
    ((1, 12, 6, 5), 8, (1, 1), {"pads": [1, 0, 0, 2]}),
    ((1, 3, 4, 5, 6), 2, (2, 2, 2), {"pads": [1, 0, 1, 0, 1, 1]}),
    # depthwise: padded 1-D (silero), strided and dilated 2-D
    ((1, 258, 7), 258, (5,), {"group": 258, "pads": [2, 2]}),
    ((1, 16, 4), 16, (5,), {"group": 16, "pads": [2, 2]}),
    ((1, 6, 9, 8), 6, (3, 2), {"group": 6, "strides": [2, 1], "dilations": [1, 2]}),
]

GENERAL = [
    ((2, 1, 28, 28), 32, (3, 3), {}),  # more than one sample
    ((1, 4, 9, 10), 8, (3, 3), {"group": 4, "pads": [1, 1, 1, 1]}),  # channel multiplier 2
    ((1, 12, 11, 10), 18, (3, 3), {"group": 3, "strides": [2, 1]}),  # grouped
    ((1, 64, 40, 40), 64, (3, 3), {"pads": [1, 1, 1, 1]}),  # over MAX_MACS
    # depthwise with rows of >= 8 outputs: the general path's einsum along W x C
    ((1, 16, 10, 12), 16, (3, 3), {"group": 16, "pads": [1, 1, 1, 1]}),
]


def _run(shape, out_channels, kernel, attrs, layout, dtype=np.float32):
    group = attrs.get("group", 1)
    x = RNG.normal(size=shape).astype(dtype)
    w = RNG.normal(size=(out_channels, shape[1] // group, *kernel)).astype(dtype)
    b = RNG.normal(size=(out_channels,)).astype(dtype)
    if layout == "channels_last":
        x = _channels_last(x)
    conv._GEOMETRIES.clear()
    ours = conv.Conv(x, w, b, **attrs)
    (path,) = [geo.path for geo in conv._GEOMETRIES.values()]
    again = conv.Conv(x, w, b, **attrs)  # (the cached plan)
    np.testing.assert_array_equal(again, ours)
    return x, w, b, ours, path


@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("shape, out_channels, kernel, attrs", SMALL + GENERAL)
def test_small_plans_match_onnxruntime_and_the_plain_path(
    shape, out_channels, kernel, attrs, layout
):
    x, w, b, ours, path = _run(shape, out_channels, kernel, attrs, layout)
    assert (path == "small") == ((shape, out_channels, kernel, attrs) in SMALL), path
    assert_conv_agrees(ours, x, w, b, attrs)


@pytest.mark.parametrize("shape, out_channels, kernel, attrs", SMALL[:4] + SMALL[-3:])
def test_float64_is_planned_and_float16_is_not(shape, out_channels, kernel, attrs):
    x, w, b, ours, path = _run(shape, out_channels, kernel, attrs, "nchw", np.float64)
    assert path == "small" and ours.dtype == np.float64
    plain = _plain(x, w, b, attrs)
    np.testing.assert_allclose(ours, plain, rtol=0, atol=1e-12 * np.abs(plain).max())
    x16, w16, b16, ours16, path16 = _run(shape, out_channels, kernel, attrs, "nchw", np.float16)
    assert path16 != "small" and ours16.dtype == np.float16


def test_integer_conv_is_exact_through_a_plan():
    x = RNG.integers(-128, 128, size=(1, 1, 28, 28), dtype=np.int8)
    w = RNG.integers(-128, 128, size=(32, 1, 3, 3), dtype=np.int8)
    ours = conv.ConvInteger(x, w, np.int8(3), np.int8(-2), pads=[1, 1, 1, 1])
    xs = np.pad(x.astype(np.int64) - 3, ((0, 0), (0, 0), (1, 1), (1, 1)))
    ws = w.astype(np.int64) + 2
    windows = np.lib.stride_tricks.sliding_window_view(xs[0, 0], (3, 3))  # (28, 28, 3, 3)
    expect = np.einsum("hwij,mij->mhw", windows, ws[:, 0])[None]
    np.testing.assert_array_equal(ours, expect)


def test_a_strided_window_over_huge_pads_is_refused_before_allocating_the_canvas():
    # few products (one output position per stride), but a padded copy of 1.6e9 values
    x = np.ones((1, 1, 4, 4), np.float32)
    w = np.ones((1, 1, 1, 1), np.float32)
    with pytest.raises(BudgetExceededError, match="exceeds this runtime's limit"):
        conv.Conv(x, w, pads=[20000] * 4, strides=[30000, 30000])


def test_the_int8_slide_file_gives_the_same_outputs_with_and_without_the_plans():
    # The QDQ file's float Convs round to int8: the plans must not move any value (random
    # images), and on the recorded Fashion-MNIST images the outputs are onnxruntime's. (On
    # some random images a Softmax value near a half step of the last quantization rounds
    # the other way in onnxruntime, with or without the plans.)
    path = ROOT / "android_demo/app/src/main/assets/slide_cnn.int8.onnx"
    session = InferenceSession(str(path))
    feed = session.get_inputs()[0]
    recorded = np.load(ROOT / "tests/fixtures/keras3/slide_cnn.io.npz")["x0"][:, None]
    images = np.concatenate([recorded, RNG.random((16, 1, 28, 28, 1)).astype(np.float32)])
    planned = [session.run(None, {feed.name: image})[0] for image in images]
    keep = _conv_small.MAX_MACS
    conv._GEOMETRIES.clear()
    _conv_small.MAX_MACS = 0
    try:
        general = [session.run(None, {feed.name: image})[0] for image in images]
    finally:
        _conv_small.MAX_MACS = keep
        conv._GEOMETRIES.clear()
    for a, b in zip(planned, general, strict=True):
        np.testing.assert_array_equal(a, b)
    theirs = ort_session(str(path))
    for image, a in zip(recorded, planned, strict=False):
        np.testing.assert_array_equal(a, theirs.run(None, {feed.name: image})[0])


@pytest.mark.parametrize("pads", [None, [1, 2]])
def test_an_input_in_neither_layout_is_copied_into_the_plans(pads):
    # every other channel and position of a larger array: neither NCHW nor channels-last memory
    x = RNG.normal(size=(1, 8, 30)).astype(np.float32)[:, ::2, ::2]
    w = RNG.normal(size=(6, 4, 3)).astype(np.float32)
    b = RNG.normal(size=(6,)).astype(np.float32)
    conv._GEOMETRIES.clear()
    ours = conv.Conv(x, w, b, pads=pads)
    assert [geo.path for geo in conv._GEOMETRIES.values()] == ["small"]
    plain = _plain(x, w, b, {"pads": pads})
    np.testing.assert_allclose(ours, plain, rtol=0, atol=1e-5 * np.abs(plain).max())


def test_no_input_channels_give_the_bias_and_no_filters_stay_general():
    x = np.ones((1, 0, 5, 5), np.float32)
    w = np.ones((4, 0, 3, 3), np.float32)
    b = np.arange(4, dtype=np.float32)
    conv._GEOMETRIES.clear()
    y = conv.Conv(x, w, b)
    assert [geo.path for geo in conv._GEOMETRIES.values()] == ["small"]
    np.testing.assert_array_equal(y, np.broadcast_to(b.reshape(1, 4, 1, 1), (1, 4, 3, 3)))
    x, w = np.ones((1, 3, 5, 5), np.float32), np.ones((0, 3, 3, 3), np.float32)
    args = ("NOTSET", None, 1, None, None, None, "Conv", np.float32, None)
    assert _conv_small.plan(conv._geometry(x, w, *args), x, w, 1, np.float32) is None


def _conv_model(w, b=None):
    """A one-Conv model with constant weights ``w`` and either constant ``b`` or a bias input."""
    inits = [numpy_helper.from_array(w, "w")]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)]
    if b is None:
        inputs.append(helper.make_tensor_value_info("b", TensorProto.FLOAT, [w.shape[0]]))
    else:
        inits.append(numpy_helper.from_array(b, "b"))
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"])
    graph = helper.make_graph(
        [node], "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def test_constant_weights_and_bias_fold_the_bias_into_the_product_once():
    # few positions, many filters: building [W | b] on each call would cost more than adding
    # the bias; the constant weights' [W | b] is built once and reused
    x = RNG.normal(size=(1, 96, 6, 4)).astype(np.float32)
    w = RNG.normal(size=(96, 96, 3, 1)).astype(np.float32)
    b = RNG.normal(size=(96,)).astype(np.float32)
    model = _conv_model(w, b)
    conv._GEOMETRIES.clear()
    _conv_small._BIASED.clear()
    held = _conv_small._biased_elements
    session = InferenceSession(model.SerializeToString())
    (theirs,) = ort_session(model).run(None, {"x": x})
    for _ in range(2):
        (ours,) = session.run(None, {"x": x})
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5 * np.abs(theirs).max())
    (plan,) = conv._GEOMETRIES.values()
    assert plan.biased is not None and not plan.cheap_bias
    assert len(_conv_small._BIASED) == 1
    # the cached [W | b] goes with the session's weights: a closed session's are not kept
    del session
    gc.collect()
    assert not _conv_small._BIASED and _conv_small._biased_elements == held


def test_a_bias_that_can_change_is_added_on_each_call():
    x = RNG.normal(size=(1, 96, 6, 4)).astype(np.float32)
    w = RNG.normal(size=(96, 96, 3, 1)).astype(np.float32)
    model = _conv_model(w)
    session, theirs = InferenceSession(model.SerializeToString()), ort_session(model)
    b = RNG.normal(size=(96,)).astype(np.float32)
    for _ in range(2):  # a fed bias, the same array changed in place between runs
        (ours,) = session.run(None, {"x": x, "b": b})
        (expect,) = theirs.run(None, {"x": x, "b": b})
        np.testing.assert_allclose(ours, expect, rtol=0, atol=1e-5 * np.abs(expect).max())
        b += 10
    packed = (w, conv.pack_weights(w, 1, np.float32))
    for _ in range(2):  # the kernel with bound weights and a writeable bias changed in place
        ours = conv.Conv(x, w, b, _packed=packed)
        plain = _plain(x, w, b, {})
        np.testing.assert_allclose(ours, plain, rtol=0, atol=1e-5 * np.abs(plain).max())
        b -= 7
