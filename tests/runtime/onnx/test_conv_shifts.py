"""The flat-shift cols of the one-sample small Conv plans (``_conv_small._shifts_layout``)
against onnxruntime and the plain im2col path, and the geometries that must take another copy.

A stride-1 convolution whose output keeps the input's size on every spatial axis after the
first (openWakeWord's 1x3 Convs with pads [0, 1, 0, 1] and its unpadded 3x1 ones) gathers its
cols as shifted runs of the flat input planes; the entries whose window crossed a row edge are
zeroed. Random inputs show any entry read from the neighbouring row instead of a pad.
"""

import numpy as np
import pytest

from runtime.onnx.ops import _conv_small, conv
from tests.runtime.onnx.test_conv_paths import _plain, assert_conv_agrees
from tests.runtime.onnx.test_conv_small import _run

SHIFTED = [
    # openWakeWord's embedding model: 1x3 padded along the width, the 3x3 first Conv
    ((1, 24, 20, 32), 24, (1, 3), {"pads": [0, 1, 0, 1]}),
    ((1, 1, 12, 32), 8, (3, 3), {"pads": [0, 1, 0, 1]}),
    # pads on both axes (the first axis reads the zeros around the flat planes), a wide kernel,
    # asymmetric pads, a dilated inner axis, three spatial axes
    ((1, 5, 9, 7), 6, (3, 3), {"pads": [1, 1, 1, 1]}),
    ((1, 3, 12, 9), 4, (2, 5), {"pads": [1, 2, 0, 2]}),
    ((1, 6, 7, 11), 5, (2, 4), {"pads": [0, 1, 1, 2]}),
    ((1, 4, 9, 10), 6, (1, 3), {"pads": [0, 2, 0, 2], "dilations": [1, 2]}),
    ((1, 3, 4, 5, 6), 2, (2, 3, 3), {"pads": [1, 1, 1, 0, 1, 1]}),
]

ELSEWHERE = [
    ((1, 8, 12, 10), 6, (3, 3), {}),  # the output narrower than the input: no shifts
    ((1, 8, 12, 10), 6, (3, 3), {"pads": [1, 1, 1, 1], "strides": [1, 2]}),  # strided
    ((1, 6, 9, 8), 6, (3, 3), {"group": 6, "pads": [1, 1, 1, 1]}),  # depthwise
    ((1, 12, 6, 5), 8, (1, 1), {}),  # 1x1: BLAS reads the input as it is
    # rows of two: zeroing an entry of every row costs more than a padded copy's runs
    ((1, 16, 6, 2), 12, (1, 3), {"pads": [0, 1, 0, 1]}),
]


def _shifted(plan) -> bool:
    return getattr(plan, "shifts", None) is not None


@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("shape, out_channels, kernel, attrs", SHIFTED)
def test_flat_shifts_match_onnxruntime_and_the_plain_path(
    shape, out_channels, kernel, attrs, layout
):
    x, w, b, ours, path = _run(shape, out_channels, kernel, attrs, layout)
    (plan,) = conv._GEOMETRIES.values()
    # (an input in channels-last memory is copied into NCHW first, when that costs least)
    assert path == "small" and (_shifted(plan) or layout == "channels_last")
    assert_conv_agrees(ours, x, w, b, attrs)


@pytest.mark.parametrize("shape, out_channels, kernel, attrs", ELSEWHERE)
def test_other_geometries_take_other_copies(shape, out_channels, kernel, attrs):
    x, w, b, ours, path = _run(shape, out_channels, kernel, attrs, "nchw")
    assert not any(_shifted(plan) for plan in conv._GEOMETRIES.values())
    assert_conv_agrees(ours, x, w, b, attrs)


@pytest.mark.parametrize("shape, out_channels, kernel, attrs", SHIFTED[:2] + SHIFTED[-1:])
def test_float64_and_no_bias_through_the_shifts(shape, out_channels, kernel, attrs):
    x, w, b, ours, path = _run(shape, out_channels, kernel, attrs, "nchw", np.float64)
    assert path == "small" and ours.dtype == np.float64
    plain = _plain(x, w, b, attrs)
    np.testing.assert_allclose(ours, plain, rtol=0, atol=1e-12 * np.abs(plain).max())
    unbiased = conv.Conv(x, w, **attrs)
    expect = _plain(x, w, np.zeros_like(b), attrs)
    np.testing.assert_allclose(unbiased, expect, rtol=0, atol=1e-12 * np.abs(expect).max())


def test_the_layout_is_refused_where_the_output_changes_an_inner_size():
    x = np.ones((1, 2, 5, 6), np.float32)
    assert _conv_small._shifts_layout(x, (1, 3), [1, 1], [0, 0, 0, 0], [5, 4]) is None
    # more zeroed edges than MAX_MASKS (one assignment each per call)
    wide = (1, 2 * _conv_small.MAX_MASKS + 1)
    pads = [0, _conv_small.MAX_MASKS, 0, _conv_small.MAX_MASKS]
    assert _conv_small._shifts_layout(x, wide, [1, 1], pads, [5, 6]) is None
    # the first axis may change: (the height shrinks, no pads), no canvas, no masks
    canvas, _, offset, shape, _, masks = _conv_small._shifts_layout(
        x, (3, 1), [1, 1], [0, 0, 0, 0], [3, 6]
    )
    assert canvas is None and offset == 0 and shape == (3, 1, 2, 3, 6) and masks == ()
