"""Unit-stride MaxPool and AveragePool of NCHW-contiguous inputs as flat shifted runs
(``pool._flat_plan``), against onnxruntime and bit for bit against the nested window
reduction they replace; and the geometries the cost rule or the layout sends the other way."""

import numpy as np
import pytest

from runtime.onnx.ops import pool
from tests.runtime.onnx.helpers import FLOAT, ort_session, single_op_model

RNG = np.random.default_rng(15)

FLAT_CASES = [
    ((1, 24, 14, 14), {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}),  # inception's pools
    ((2, 5, 9, 11), {"kernel_shape": [2, 3], "pads": [0, 1, 1, 0]}),  # asymmetric pads
    ((1, 3, 12, 13), {"kernel_shape": [3, 2], "dilations": [2, 3], "pads": [2, 1, 1, 1]}),
    ((2, 4, 30), {"kernel_shape": [5], "pads": [2, 1]}),  # 1-D
    ((1, 3, 6, 7, 5), {"kernel_shape": [2, 3, 2], "pads": [1, 0, 1, 1, 1, 0]}),  # 3-D
    ((1, 2, 150, 140), {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}),  # a plane > a block
    ((3, 70, 9, 8), {"kernel_shape": [2, 2], "ceil_mode": 1}),  # many blocks, a short last
    ((1, 16, 7, 7), {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1}),
]


def _nested(op, x, attrs, monkeypatch):
    """``op`` with the flat plan ruled out (every row loop costs nothing)."""
    with monkeypatch.context() as m:
        m.setattr(pool, "_ROW_COST", -(1 << 40))
        return getattr(pool, op)(x, **attrs)


def _plans(op):
    return pool._MAX_POOL_PLANS if op == "MaxPool" else pool._AVERAGE_POOL_PLANS


def _took_flat(op, x):
    """Whether the latest plan for ``x``'s shape and strides is the flat one."""
    plans = [p for k, p in _plans(op).items() if k[0] == x.shape and k[1] == x.strides]
    windows = plans[-1][2] if op == "MaxPool" else plans[-1][1]
    return windows is not None and windows[0] == "flat"


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
@pytest.mark.parametrize("shape, attrs", FLAT_CASES)
def test_flat_runs_match_onnxruntime_and_the_nested_reduction(op, shape, attrs, monkeypatch):
    attrs = dict(attrs)
    if op == "MaxPool":
        attrs.pop("count_include_pad", None)
    x = (RNG.normal(size=shape) * 100).astype(np.float32)
    pool._MAX_POOL_PLANS.clear()
    pool._AVERAGE_POOL_PLANS.clear()
    ours = getattr(pool, op)(x, **attrs)
    assert _took_flat(op, x)
    assert ours.flags.c_contiguous
    np.testing.assert_array_equal(ours, _nested(op, x, attrs, monkeypatch))
    model = single_op_model(op, [("x", FLOAT, shape)], [("y", FLOAT, None)], attrs, opset=19)
    (theirs,) = ort_session(model).run(None, {"x": x})
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    if op == "MaxPool":
        np.testing.assert_array_equal(ours, theirs)
    else:
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.float64, np.float16])
def test_flat_runs_keep_the_dtype(dtype, monkeypatch):
    attrs = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}
    x = RNG.normal(size=(2, 6, 10, 9)).astype(dtype)
    for op in ("MaxPool", "AveragePool"):
        ours = getattr(pool, op)(x, **attrs)
        assert ours.dtype == dtype and _took_flat(op, x)
        np.testing.assert_array_equal(ours, _nested(op, x, attrs, monkeypatch))


OTHER_CASES = [
    # strided windows: the nested (or tiled) reduction
    ((1, 8, 15, 15), {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [0, 0, 1, 1]}, False),
    # a kernel as large as the input: the padded grid is mostly cells no output reads
    ((1, 32, 7, 7), {"kernel_shape": [7, 7]}, False),
    # channels-last memory (a Conv's output): the padded copy is not C-contiguous
    ((1, 8, 12, 12), {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}, True),
]


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
@pytest.mark.parametrize("shape, attrs, channels_last", OTHER_CASES)
def test_the_other_geometries_keep_the_window_reduction(op, shape, attrs, channels_last):
    x = RNG.normal(size=shape).astype(np.float32)
    if channels_last:
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    pool._MAX_POOL_PLANS.clear()
    pool._AVERAGE_POOL_PLANS.clear()
    ours = getattr(pool, op)(x, **attrs)
    plans = _plans(op)
    if plans:  # (the tiled MaxPool has no window plan)
        assert not _took_flat(op, x)
    model = single_op_model(op, [("x", FLOAT, shape)], [("y", FLOAT, None)], attrs, opset=19)
    (theirs,) = ort_session(model).run(None, {"x": np.ascontiguousarray(x)})
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)


def test_an_empty_batch_gives_an_empty_output():
    x = np.zeros((0, 3, 8, 8), np.float32)
    for op in ("MaxPool", "AveragePool"):
        y = getattr(pool, op)(x, kernel_shape=[3, 3], pads=[1, 1, 1, 1])
        assert y.shape == (0, 3, 8, 8)


CLIPPED_CASES = [
    ((1, 8, 15, 15), {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [0, 0, 1, 1]}),
    ((2, 5, 11, 9), {"kernel_shape": [2, 3], "strides": [2, 2], "ceil_mode": 1}),
    ((1, 4, 17), {"kernel_shape": [3], "dilations": [2], "pads": [2, 1]}),
    ((1, 3, 5, 6, 7), {"kernel_shape": [2, 2, 3], "pads": [1, 0, 0, 0, 1, 1]}),
    ((1, 6, 13, 12), {"kernel_shape": [3, 3], "strides": [3, 1], "pads": [2, 2, 2, 2]}),
    # no window offset reaches every output: the result starts from -inf
    ((1, 6, 5, 5), {"kernel_shape": [5, 5], "pads": [4, 4, 4, 4]}),
    ((1, 8, 12, 12), {"kernel_shape": [2, 2], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
]


def _held_channels_last(x):
    order = (0, *range(2, x.ndim), 1)
    return np.ascontiguousarray(x.transpose(order)).transpose(np.argsort(order))


@pytest.mark.parametrize("shape, attrs", CLIPPED_CASES)
def test_padded_max_pool_of_channels_last_memory_skips_the_padded_copy(shape, attrs, monkeypatch):
    x = _held_channels_last(RNG.normal(size=shape).astype(np.float32))
    pool._MAX_POOL_PLANS.clear()
    ours = pool.MaxPool(x, **attrs)
    (plan,) = pool._MAX_POOL_PLANS.values()
    assert plan[2][0] == "clipped"
    assert ours.strides == _held_channels_last(ours).strides  # x's memory order
    with monkeypatch.context() as m:
        m.setattr(pool, "CLIPPED", False)
        np.testing.assert_array_equal(ours, pool.MaxPool(x, **attrs))
    model = single_op_model("MaxPool", [("x", FLOAT, shape)], [("y", FLOAT, None)], attrs, opset=19)
    (theirs,) = ort_session(model).run(None, {"x": np.ascontiguousarray(x)})
    np.testing.assert_array_equal(ours, theirs)


def test_padded_max_pool_of_nchw_memory_keeps_the_padded_copy():
    x = RNG.normal(size=(1, 8, 15, 15)).astype(np.float32)
    pool._MAX_POOL_PLANS.clear()
    pool.MaxPool(x, kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1])
    (plan,) = pool._MAX_POOL_PLANS.values()
    assert plan[1] is not None and plan[2][0] is False  # padded, nested windows


def test_clipped_max_pool_keeps_nan_and_infinities(monkeypatch):
    # (onnxruntime's MaxPool drops NaN in some windows; ours propagates it, on either path)
    x = RNG.normal(size=(1, 4, 9, 9)).astype(np.float32)
    x[0, 1, 0, 0], x[0, 2, 4, 4], x[0, 3, 8, 8] = np.nan, np.inf, -np.inf
    x = _held_channels_last(x)
    attrs = {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}
    ours = pool.MaxPool(x, **attrs)
    assert np.isnan(ours[0, 1, 0, 0]) and ours[0, 2, 2, 2] == np.inf
    with monkeypatch.context() as m:
        m.setattr(pool, "CLIPPED", False)
        np.testing.assert_array_equal(ours, pool.MaxPool(x, **attrs))


def test_clipped_and_flat_plans_over_many_geometries(monkeypatch):
    # Random 1-D and 2-D geometries (strides, dilations, pads up to the kernel, ceil_mode),
    # each in both memory orders, bit for bit against the padded nested reduction.
    rng = np.random.default_rng(11)
    for _ in range(60):
        nsp = int(rng.integers(1, 3))
        kernel = [int(k) for k in rng.integers(1, 4, nsp)]
        dilations = [int(d) for d in rng.integers(1, 3, nsp)]
        pads = [int(rng.integers(0, k)) for k in kernel * 2]
        attrs = {
            "kernel_shape": kernel,
            "strides": [int(s) for s in rng.integers(1, 4, nsp)],
            "dilations": dilations,
            "pads": pads,
            "ceil_mode": int(rng.integers(0, 2)),
        }
        extent = [(k - 1) * d + 1 for k, d in zip(kernel, dilations, strict=True)]
        spatial = [int(rng.integers(e, e + 9)) for e in extent]
        x = rng.normal(size=(2, 3, *spatial)).astype(np.float32)
        for held in (x, _held_channels_last(x)):
            for op in ("MaxPool", "AveragePool"):
                ours = getattr(pool, op)(held, **attrs)
                with monkeypatch.context() as m:
                    m.setattr(pool, "CLIPPED", False)
                    m.setattr(pool, "_ROW_COST", -(1 << 40))
                    np.testing.assert_array_equal(ours, getattr(pool, op)(held, **attrs))
