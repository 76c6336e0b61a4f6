"""The geometries that Conv, ConvTranspose and MaxPool cache per input shape are never reused
for another shape or layout: one session run on inputs of several shapes (and back) gives
onnxruntime's result each time, and exactly the result of a fresh, uncached kernel call.
"""

import numpy as np
import pytest
from onnx import numpy_helper

from runtime.errors import InvalidModelError
from runtime.onnx import InferenceSession
from runtime.onnx.ops import conv, conv_transpose, pool
from tests.runtime.onnx.helpers import FLOAT, ort_session, single_op_model

RNG = np.random.default_rng(20261208)

# (op, weight shape or None, attributes, the input shapes run one after the other: each
# changes a dim that the cached geometry depends on, then the first comes back)
CASES = [
    (
        "Conv",
        (4, 3, 3, 3),
        {"pads": [1, 0, 1, 2]},
        [(2, 3, 7, 5), (2, 3, 9, 6), (1, 3, 9, 6), (2, 3, 7, 5)],
    ),
    ("Conv", (6, 1, 3, 3), {"group": 6, "strides": [2, 1]}, [(1, 6, 8, 9), (2, 6, 5, 12)]),
    ("Conv", (8, 4, 1, 1), {"strides": [2, 2]}, [(1, 4, 6, 6), (3, 4, 7, 5), (1, 4, 6, 6)]),
    ("Conv", (5, 2, 3), {"auto_pad": "SAME_UPPER"}, [(1, 2, 40), (2, 2, 600), (1, 2, 40)]),
    (
        "ConvTranspose",
        (3, 4, 3, 3),
        {"strides": [3, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]},
        [(1, 3, 7, 6), (2, 3, 4, 9), (1, 3, 7, 6)],
    ),
    (
        "MaxPool",
        None,
        {"kernel_shape": [3, 3], "pads": [1] * 4, "strides": [2, 2]},
        [(1, 3, 7, 7), (2, 2, 10, 5), (1, 3, 7, 7)],
    ),
    ("MaxPool", None, {"kernel_shape": [2, 2], "strides": [2, 2]}, [(1, 3, 8, 8), (1, 3, 9, 7)]),
]


def _fresh(op, x, w, attrs):
    """The kernel's result with every cache emptied first (the uncached computation)."""
    conv._GEOMETRIES.clear()
    conv_transpose._GEOMETRIES.clear()
    pool._MAX_POOL_PLANS.clear()
    if op == "Conv":
        return conv.Conv(x, w, **attrs)
    if op == "ConvTranspose":
        return conv_transpose.ConvTranspose(x, w, **attrs)
    return pool.MaxPool(x, **attrs)


@pytest.mark.parametrize("op, w_shape, attrs, shapes", CASES)
def test_one_session_on_several_shapes_matches_onnxruntime_and_the_uncached_kernel(
    op, w_shape, attrs, shapes
):
    rank = len(shapes[0])
    dims = ["n", "c", "h", "w", "d"][:rank]
    initializers = []
    w = None
    if w_shape is not None:
        w = RNG.normal(size=w_shape).astype(np.float32)
        initializers = [numpy_helper.from_array(w, "w")]
    model = single_op_model(op, [("x", FLOAT, dims)], [("y", FLOAT, None)], attrs, initializers)
    ours_session = InferenceSession(model.SerializeToString())
    theirs_session = ort_session(model)
    for shape in shapes:
        x = RNG.normal(size=shape).astype(np.float32)
        (ours,) = ours_session.run(None, {"x": x})
        (theirs,) = theirs_session.run(None, {"x": x})
        assert ours.shape == theirs.shape
        # float32 sums of at most a few dozen unit-variance products
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)
        np.testing.assert_array_equal(ours, _fresh(op, x, w, attrs))


def test_a_cached_conv_geometry_is_not_reused_for_another_layout():
    # Same shape, channels-last memory: the windows' byte strides differ from the NCHW input's.
    x = RNG.normal(size=(2, 3, 7, 5)).astype(np.float32)
    w = RNG.normal(size=(4, 3, 2, 2)).astype(np.float32)
    last = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    first = conv.Conv(x, w, strides=[1, 2])
    np.testing.assert_array_equal(conv.Conv(last, w, strides=[1, 2]), first)
    np.testing.assert_array_equal(
        pool.MaxPool(last, kernel_shape=[2, 2], pads=[1] * 4),
        pool.MaxPool(x, kernel_shape=[2, 2], pads=[1] * 4),
    )


def test_errors_are_raised_for_a_new_shape_after_a_cached_one():
    w = np.ones((4, 3, 3, 3), np.float32)
    conv.Conv(np.ones((1, 3, 5, 5), np.float32), w)
    with pytest.raises(InvalidModelError, match="input channels 2"):
        conv.Conv(np.ones((1, 2, 5, 5), np.float32), w)
    with pytest.raises(InvalidModelError, match="kernel extent"):
        conv.Conv(np.ones((1, 3, 2, 5), np.float32), w)
    pool.MaxPool(np.ones((1, 3, 5, 5), np.float32), kernel_shape=[3, 3])
    with pytest.raises(InvalidModelError, match="kernel extent"):
        pool.MaxPool(np.ones((1, 3, 2, 5), np.float32), kernel_shape=[3, 3])
    t = np.ones((3, 2, 3, 3), np.float32)
    conv_transpose.ConvTranspose(np.ones((1, 3, 4, 4), np.float32), t)
    with pytest.raises(InvalidModelError, match="input channels 4"):
        conv_transpose.ConvTranspose(np.ones((1, 4, 4, 4), np.float32), t)
