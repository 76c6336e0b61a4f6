"""MaxPool and AveragePool on inputs held channels-last (as a Conv leaves them) and NCHW,
against onnxruntime: the padding keeps the input's memory order and the averages' window
counts are products of per-axis counts, with asymmetric pads, ceil_mode, dilations and
count_include_pad."""

import numpy as np
import pytest

from runtime.onnx.ops import pool
from tests.runtime.onnx.helpers import FLOAT, ort_session, single_op_model

RNG = np.random.default_rng(7)

CASES = [
    ("MaxPool", (1, 6, 13, 12), {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 0, 2, 1]}),
    ("MaxPool", (2, 5, 11, 9), {"kernel_shape": [2, 3], "strides": [2, 2], "ceil_mode": 1}),
    ("MaxPool", (1, 4, 17), {"kernel_shape": [3], "dilations": [2], "pads": [2, 1]}),
    ("MaxPool", (1, 3, 5, 6, 7), {"kernel_shape": [2, 2, 3], "pads": [1, 0, 0, 0, 1, 1]}),
    (
        "AveragePool",
        (1, 6, 13, 12),
        {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 0, 2, 1]},
    ),
    (
        "AveragePool",
        (2, 5, 11, 9),
        {"kernel_shape": [3, 2], "strides": [2, 3], "pads": [1, 1, 0, 1], "count_include_pad": 1},
    ),
    (
        "AveragePool",
        (1, 4, 10, 11),
        {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 0], "ceil_mode": 1},
    ),
    ("AveragePool", (1, 4, 10, 11), {"kernel_shape": [3, 2], "strides": [2, 3]}),
    (
        "AveragePool",
        (1, 3, 5, 6, 7),
        {"kernel_shape": [2, 3, 2], "pads": [0, 1, 1, 1, 0, 1], "count_include_pad": 1},
    ),
]


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("op, shape, attrs", CASES)
def test_pool_matches_onnxruntime_in_either_layout(op, shape, attrs, channels_last):
    x = RNG.normal(size=shape).astype(np.float32)
    if channels_last:
        order = (0, *range(2, x.ndim), 1)
        x = np.ascontiguousarray(x.transpose(order)).transpose(np.argsort(order))
    ours = getattr(pool, op)(x, **attrs)
    model = single_op_model(op, [("x", FLOAT, shape)], [("y", FLOAT, None)], attrs, opset=19)
    (theirs,) = ort_session(model).run(None, {"x": np.ascontiguousarray(x)})
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    if op == "MaxPool":
        np.testing.assert_array_equal(ours, theirs)
    else:  # the same float32 sums, divided by the same counts
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("ufunc", [np.add, np.maximum])
def test_both_orders_of_the_window_reduction_are_bit_identical(ufunc, monkeypatch):
    # Sums in float32 depend on their order: both orders must add the same pairs.
    x = RNG.normal(size=(2, 3, 23, 19, 6)).astype(np.float32) * 1e3
    geometry = ([3, 4, 2], [2, 1, 3], [1, 2, 1])  # kernel, strides, dilations
    monkeypatch.setattr(pool, "_NESTED_MAX_TAPS", 0)
    monkeypatch.setattr(pool, "_CALL_COST", 1 << 40)  # calls dominate: separable
    separable = pool._reduce_windows(x, *geometry, ufunc)
    monkeypatch.setattr(pool, "_CALL_COST", -(1 << 40))  # the other way: nested
    nested = pool._reduce_windows(x, *geometry, ufunc)
    np.testing.assert_array_equal(separable, nested)
