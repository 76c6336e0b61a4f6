"""Each fast path of Conv against onnxruntime, and against the plain im2col path it replaces.

The paths (``runtime.onnx.ops.conv``): shifted-tap products for stride-1 convolutions with
many channels, pointwise products on NCHW and channels-last inputs (with groups), depthwise
``einsum``, and plane-by-plane im2col for inputs of few channels. Inputs come both as written
(NCHW-contiguous) and as a previous Conv leaves them (channels-last memory seen as NCHW).
"""

import numpy as np
import pytest
from onnx import numpy_helper

from runtime.onnx import InferenceSession
from runtime.onnx.ops import conv
from tests.runtime.onnx.helpers import FLOAT, ort_session, single_op_model

RNG = np.random.default_rng(20261207)


def _channels_last(x):
    """``x`` with the same values, held channels-last (as a Conv returns its output)."""
    order = (0, *range(2, x.ndim), 1)
    return np.ascontiguousarray(x.transpose(order)).transpose(np.argsort(order))


def _plain(x, w, b, attrs):
    """The im2col path alone (``conv.FAST_PATHS`` off), in float64."""
    keep = conv.FAST_PATHS
    conv.FAST_PATHS = False
    try:
        return conv.Conv(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), **attrs)
    finally:
        conv.FAST_PATHS = keep


CASES = [
    # shifted taps: >= 128 channels per group, few outputs, a large padded grid
    ((1, 128, 44, 48), 32, (3, 3), {"pads": [1, 1, 1, 1]}),
    ((2, 256, 40, 52), 64, (3, 2), {"pads": [2, 0, 1, 1], "dilations": [2, 1], "group": 2}),
    ((1, 128, 2100), 16, (5,), {"pads": [3, 1], "dilations": [3]}),
    # pointwise, with groups and with pads (a padded 1x1 is a shifted tap)
    ((2, 24, 9, 7), 36, (1, 1), {"group": 4}),
    ((1, 12, 6, 5), 8, (1, 1), {"group": 2, "pads": [1, 0, 0, 2]}),
    ((2, 16, 4, 3, 5), 8, (1, 1, 1), {}),
    ((2, 24, 9, 7), 12, (1, 1), {"group": 2, "strides": [2, 3]}),  # strided: subsampled
    # depthwise, strided, dilated, asymmetric pads, 1-D and 2-D
    ((2, 20, 13, 11), 20, (3, 3), {"group": 20, "strides": [2, 2], "pads": [1, 0, 2, 1]}),
    ((1, 9, 15), 9, (4,), {"group": 9, "dilations": [2], "pads": [3, 0]}),
    ((1, 6, 8, 9), 6, (2, 3), {"group": 6, "strides": [1, 2], "dilations": [2, 1]}),
    ((2, 16, 10, 12), 16, (3, 3), {"group": 16, "pads": [1, 0, 1, 2]}),  # rows of W x C
    ((1, 4, 9, 10), 8, (3, 3), {"group": 4, "pads": [1, 1, 1, 1]}),  # channel multiplier 2
    # grouped (not depthwise) with strides, dilations and pads
    ((2, 12, 11, 10), 18, (3, 3), {"group": 3, "strides": [2, 1], "pads": [0, 1, 2, 1]}),
    ((1, 8, 9, 9), 8, (2, 2), {"group": 4, "dilations": [2, 3], "strides": [2, 2]}),
    # few input channels (planes copied one at a time), and one channel with a long kernel
    ((1, 3, 70, 64), 8, (3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    ((2, 2, 33, 31), 5, (2, 4), {"pads": [0, 1, 1, 2], "dilations": [1, 2]}),
    ((1, 1, 2000), 33, (128,), {"strides": [40]}),
]


@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("shape, out_channels, kernel, attrs", CASES)
def test_conv_paths_match_onnxruntime_and_the_plain_path(
    shape, out_channels, kernel, attrs, layout
):
    group = attrs.get("group", 1)
    x = RNG.normal(size=shape).astype(np.float32)
    w = RNG.normal(size=(out_channels, shape[1] // group, *kernel)).astype(np.float32)
    b = RNG.normal(size=(out_channels,)).astype(np.float32)
    if layout == "channels_last":
        x = _channels_last(x)
    assert_conv_agrees(conv.Conv(x, w, b, **attrs), x, w, b, attrs)


def assert_conv_agrees(ours, x, w, b, attrs):
    """``ours``, the Conv kernel's float32 result, against onnxruntime and the plain path,
    and a session of the same one-node model against onnxruntime."""
    model = single_op_model(
        "Conv",
        [("x", FLOAT, x.shape)],
        [("y", FLOAT, None)],
        attrs,
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    (theirs,) = ort_session(model).run(None, {"x": np.ascontiguousarray(x)})
    assert ours.dtype == np.float32 and ours.shape == theirs.shape
    # float32 sums of up to a few thousand unit-variance products: within 1e-5 of the largest
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5 * np.abs(theirs).max())
    plain = _plain(x, w, b, attrs)
    np.testing.assert_allclose(ours, plain, rtol=0, atol=1e-5 * np.abs(plain).max())
    (session,) = InferenceSession(model.SerializeToString()).run(None, {"x": x})
    np.testing.assert_allclose(session, theirs, rtol=0, atol=1e-5 * np.abs(theirs).max())


def test_float64_and_float16_keep_their_dtype():
    for dtype in (np.float64, np.float16):
        x = RNG.normal(size=(1, 128, 48, 48)).astype(dtype)
        w = RNG.normal(size=(16, 128, 3, 3)).astype(dtype)
        y = conv.Conv(x, w, pads=[1, 1, 1, 1])
        assert y.dtype == dtype
        expect = _plain(x, w, np.zeros(16), {"pads": [1] * 4})
        tol = 1e-12 if dtype == np.float64 else 2e-2
        np.testing.assert_allclose(y, expect, rtol=0, atol=tol * np.abs(expect).max())


@pytest.mark.parametrize("shape, out_channels, kernel, attrs", CASES)
def test_an_empty_batch_gives_an_empty_output(shape, out_channels, kernel, attrs):
    group = attrs.get("group", 1)
    x = np.zeros((0, *shape[1:]), np.float32)
    w = np.ones((out_channels, shape[1] // group, *kernel), np.float32)
    full = conv.Conv(np.zeros((1, *shape[1:]), np.float32), w, **attrs)
    assert conv.Conv(x, w, **attrs).shape == (0, *full.shape[1:])


def test_huge_pads_are_refused_before_any_allocation():
    # The fast paths check the sizes they hold (input and output on the padded grid) first.
    from runtime.errors import BudgetExceededError

    x = np.ones((1, 1, 4, 4), np.float32)
    w = np.ones((4000, 1, 1, 1), np.float32)
    with pytest.raises(BudgetExceededError, match="exceeds this runtime's limit"):
        conv.Conv(x, w, pads=[20000] * 4)
