"""ConvTranspose (one matrix product per group, then one strided add per kernel tap) against
onnxruntime: groups, strides, dilations, pads, output_padding and output_shape, batches of
several samples, 1-D to 3-D, inputs held NCHW or channels-last."""

import numpy as np
import pytest
from onnx import numpy_helper

from runtime.onnx.ops.conv_transpose import ConvTranspose
from tests.runtime.onnx.helpers import FLOAT, ort_session, single_op_model

RNG = np.random.default_rng(11)

CASES = [
    ((2, 6, 5, 4), 4, (3, 3), {"group": 2, "strides": [2, 1], "pads": [1, 0, 0, 1]}),
    ((1, 4, 6, 5), 6, (2, 3), {"dilations": [2, 1], "strides": [2, 2], "output_padding": [1, 0]}),
    ((1, 8, 4, 4), 8, (3, 3), {"group": 8, "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    ((2, 3, 7), 5, (4,), {"strides": [3], "pads": [2, 1]}),
    ((1, 2, 3, 4, 3), 3, (2, 2, 3), {"strides": [2, 1, 2]}),
    ((1, 4, 5, 5), 2, (3, 3), {"strides": [2, 2], "output_shape": [12, 11]}),  # zeros beyond
    ((1, 4, 5, 5), 2, (3, 3), {"strides": [2, 2], "auto_pad": "SAME_UPPER"}),
]


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("shape, per_group, kernel, attrs", CASES)
def test_conv_transpose_matches_onnxruntime(shape, per_group, kernel, attrs, channels_last):
    x = RNG.normal(size=shape).astype(np.float32)
    group = attrs.get("group", 1)
    w = RNG.normal(size=(shape[1], per_group, *kernel)).astype(np.float32)
    b = RNG.normal(size=(per_group * group,)).astype(np.float32)
    if channels_last:
        order = (0, *range(2, x.ndim), 1)
        x = np.ascontiguousarray(x.transpose(order)).transpose(np.argsort(order))
    ours = ConvTranspose(x, w, b, **attrs)
    model = single_op_model(
        "ConvTranspose",
        [("x", FLOAT, shape)],
        [("y", FLOAT, None)],
        attrs,
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    (theirs,) = ort_session(model).run(None, {"x": np.ascontiguousarray(x)})
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5 * np.abs(theirs).max())


def test_an_empty_batch_and_a_wrong_bias():
    w = np.ones((4, 3, 2, 2), np.float32)
    assert ConvTranspose(np.zeros((0, 4, 3, 3), np.float32), w).shape == (0, 3, 4, 4)
    with pytest.raises(ValueError, match="bias of shape"):
        ConvTranspose(np.zeros((1, 4, 3, 3), np.float32), w, np.ones(4, np.float32))
