"""MaxPool's tiled path (kernel == strides, no pads, dilations or ceil_mode cells, one output):
bit for bit the window reduction's results (the same cell order, so the same choice between
-0.0 and 0.0 and between NaNs), in NCHW and channels-last layouts, with the rows and columns
no window covers dropped, and equal in value to onnxruntime on NaN-free inputs.

NaN: our MaxPool propagates a NaN from any cell of a window (np.maximum). onnxruntime 's CPU
kernel does not (measured: a NaN shows only in some window positions), so onnxruntime is the
oracle on NaN-free inputs only, and the NaN behaviour is pinned here on ours. Signed zeros:
onnxruntime keeps the first of equal maxima, ours the last, so they are compared by value.
"""

import ml_dtypes
import numpy as np
import pytest
from onnx import TensorProto

from runtime.onnx.ops import pool
from tests.runtime.onnx.helpers import ort_session, single_op_model

RNG = np.random.default_rng(15)

# (shape, kernel): exact tiles, remainders on either axis, 1-wide kernels, one 9x9 kernel
# that the window reduction runs in its separable (height first) order.
CASES = [
    ((1, 16, 26, 26), [2, 2]),
    ((2, 3, 7, 9), [2, 2]),
    ((1, 4, 10, 11), [3, 2]),
    ((1, 5, 8, 7), [2, 3]),
    ((1, 2, 5, 6), [1, 3]),
    ((2, 2, 11, 4), [5, 1]),
    ((1, 3, 4, 4), [4, 4]),
    ((1, 3, 19, 20), [9, 9]),
]

DTYPES = [np.float32, np.float64, np.float16, ml_dtypes.bfloat16, np.int8, np.uint8]
ONNX_TYPES = {
    np.float32: TensorProto.FLOAT,
    np.float64: TensorProto.DOUBLE,
    np.float16: TensorProto.FLOAT16,
    np.int8: TensorProto.INT8,
    np.uint8: TensorProto.UINT8,
}


def _values(shape, dtype, nan=True):
    """Few distinct values, so windows hold ties: -0.0 and 0.0 and, with ``nan``, NaNs of
    both signs among floats; the full range among ints."""
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        return RNG.choice(np.array([info.min, -1, 0, 1, 7, info.max], dtype=np.int64), shape)
    pool_of = [-2.0, -0.0, 0.0, 0.0, -0.0, 1.5, -1.0]
    if nan:
        pool_of += [np.nan, -np.nan]
    return RNG.choice(np.array(pool_of, dtype=np.float64), shape)


def _layout(x, channels_last):
    if not channels_last:
        return np.ascontiguousarray(x)
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def _bits(a):
    a = np.ascontiguousarray(a)
    return a.view(f"u{a.dtype.itemsize}")


def _general(x, kernel):
    return pool._reduce_windows(x, kernel, list(kernel), [1, 1], np.maximum)


@pytest.fixture
def no_window_reduction(monkeypatch):
    """Makes the window reduction fail, so a result proves the tiled path ran."""

    def refuse(*args, **kwargs):
        raise AssertionError("the window reduction ran")

    monkeypatch.setattr(pool, "_reduce_windows", refuse)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "nhwc"])
@pytest.mark.parametrize("shape, kernel", CASES)
def test_tiled_path_is_the_window_reduction_bit_for_bit(shape, kernel, channels_last, dtype):
    x = _layout(_values(shape, dtype).astype(dtype), channels_last)
    expected = _general(x, kernel)
    ours = pool.MaxPool(x, kernel_shape=kernel, strides=kernel)
    assert ours.dtype == x.dtype and ours.shape == expected.shape
    assert ours.shape[2:] == (shape[2] // kernel[0], shape[3] // kernel[1])
    np.testing.assert_array_equal(_bits(ours), _bits(expected))
    assert not np.shares_memory(ours, x)


def test_every_case_takes_the_tiled_path(no_window_reduction):
    for shape, kernel in CASES:
        for channels_last in (False, True):
            x = _layout(_values(shape, np.float32), channels_last).astype(np.float32)
            y = pool.MaxPool(x, kernel_shape=kernel, strides=kernel, auto_pad="VALID")
            assert y.shape[2:] == (shape[2] // kernel[0], shape[3] // kernel[1])
    one = np.arange(12, dtype=np.float32).reshape(1, 1, 3, 4)
    y = pool.MaxPool(one, kernel_shape=[1, 1], strides=[1, 1])
    np.testing.assert_array_equal(y, one)
    assert not np.shares_memory(y, one)  # a new array, as the window reduction gives


@pytest.mark.parametrize(
    "attrs, n_outputs",
    [
        ({"kernel_shape": [2, 2], "strides": [2, 2], "pads": [0, 0, 1, 1]}, 1),
        ({"kernel_shape": [2, 2], "strides": [2, 2], "ceil_mode": 1}, 1),  # 7x9: extra cells
        ({"kernel_shape": [2, 2], "strides": [2, 2], "dilations": [2, 1]}, 1),
        ({"kernel_shape": [2, 2], "strides": [2, 2], "auto_pad": "SAME_UPPER"}, 1),
        ({"kernel_shape": [2, 2], "strides": [1, 2]}, 1),
        ({"kernel_shape": [2, 2], "strides": [2, 2]}, 2),
        ({"kernel_shape": [2], "strides": [2]}, 1),
    ],
)
def test_other_pools_keep_the_general_path(attrs, n_outputs, monkeypatch):
    calls = []
    general = pool._reduce_windows
    monkeypatch.setattr(pool, "_reduce_windows", lambda *a: calls.append(1) or general(*a))
    shape = (1, 2, 7) if len(attrs["kernel_shape"]) == 1 else (1, 2, 7, 9)
    x = _values(shape, np.float32, nan=False).astype(np.float32)
    pool.MaxPool(x, _n_outputs=n_outputs, **attrs)
    # Indices come from _max_with_indices, never from either reduction.
    assert calls == ([] if n_outputs == 2 else [1])
    tiled = pool.max_pool_tiles
    monkeypatch.setattr(pool, "max_pool_tiles", lambda *a, **k: pytest.fail("tiled path"))
    pool.MaxPool(x, _n_outputs=n_outputs, **attrs)
    monkeypatch.setattr(pool, "max_pool_tiles", tiled)


def test_ceil_mode_without_extra_cells_tiles():
    # 8x6 in 2x2 tiles: ceil_mode adds no cell, so the output is the floor mode's.
    x = _values((1, 3, 8, 6), np.float32).astype(np.float32)
    y = pool.MaxPool(x, kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
    np.testing.assert_array_equal(_bits(y), _bits(_general(x, [2, 2])))


@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "nhwc"])
@pytest.mark.parametrize("position", range(6))
def test_nan_in_any_cell_propagates(position, channels_last):
    x = np.arange(24, dtype=np.float32).reshape(1, 1, 4, 6)
    x[0, 0, 2 + position // 3, 3 + position % 3] = np.nan
    x = _layout(x, channels_last)
    y = pool.MaxPool(x, kernel_shape=[2, 3], strides=[2, 3])
    expected = np.array([[8.0, 11.0], [20.0, np.nan]], dtype=np.float32)
    np.testing.assert_array_equal(y[0, 0], expected)


def test_signed_zero_ties_give_the_last_cell_in_row_major_order():
    # Cells in row-major order: -1, -0.0, 0.0, -1 -> 0.0; -1, 0.0, -0.0, -1 -> -0.0.
    x = np.array([[-1, -0.0, 0.0, -1], [-1, 0.0, -0.0, -1]], np.float32).reshape(2, 1, 2, 2)
    y = pool.MaxPool(x, kernel_shape=[2, 2], strides=[2, 2])
    assert np.signbit(y.ravel()).tolist() == [False, True]


@pytest.mark.parametrize("dtype", list(ONNX_TYPES), ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "nhwc"])
@pytest.mark.parametrize("shape, kernel", CASES[:6])
def test_tiled_path_matches_onnxruntime(shape, kernel, channels_last, dtype):
    x = _layout(_values(shape, dtype, nan=False).astype(dtype), channels_last)
    attrs = {"kernel_shape": kernel, "strides": kernel}
    et = ONNX_TYPES[dtype]
    model = single_op_model("MaxPool", [("x", et, shape)], [("y", et, None)], attrs, opset=19)
    (theirs,) = ort_session(model).run(None, {"x": np.ascontiguousarray(x)})
    ours = pool.MaxPool(x, **attrs)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)  # -0.0 == 0.0: see the module docstring


def test_large_inputs_keep_the_window_reduction(monkeypatch):
    # Past _TILED_MAX_SIZE the partly reduced array cost more than the tiling saved.
    calls = []
    general = pool._reduce_windows
    monkeypatch.setattr(pool, "_reduce_windows", lambda *a: calls.append(1) or general(*a))
    big = np.zeros((1, 1, 2, pool._TILED_MAX_SIZE // 2 + 2), np.float32)
    pool.MaxPool(big, kernel_shape=[2, 2], strides=[2, 2])
    pool.MaxPool(big[..., : pool._TILED_MAX_SIZE // 2], kernel_shape=[2, 2], strides=[2, 2])
    assert calls == [1]
