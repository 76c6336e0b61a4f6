"""QUANTIZE (float32 -> int8) of a few values by a count of thresholds
(``kernels/_quantize_search``) gives LiteRT's reference kernel's result exactly: on the float32
values next to each rounding boundary, zero points at both ends, scales from tiny to large, and
with NaN, infinities and out-of-range values (which take the general path)."""

from __future__ import annotations

import numpy as np
import pytest

from runtime import Interpreter
from runtime.tflite.kernels import quantize
from runtime.tflite.kernels._quantize_search import quantize_thresholds
from runtime.tflite.kernels.quantize import _general_quantize
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._litert import litert_interpreter
from tests.runtime.tflite.test_kernels import inp, one_op_model, out

_N = quantize.SEARCH_MAX_ELEMENTS  # one tensor small enough for the search path


def _boundaries(scale: np.float32, zero_point: int) -> np.ndarray:
    """Every rounding boundary of the int8 range, its float32 neighbours, zeros, tiny values."""
    s = np.float64(scale)
    k = np.arange(-128 - zero_point - 2, 128 - zero_point + 2, dtype=np.float64)
    ties = ((k + 0.5) * s).astype(np.float32)
    up, down = np.nextafter(ties, np.float32(np.inf)), np.nextafter(ties, np.float32(-np.inf))
    tiny = np.array([0.0, -0.0, 1e-45, -1e-45, 1e-38, -1e-38], np.float32)
    return np.concatenate([ties, up, down, tiny])


def _chunks(x: np.ndarray):
    pad = (-len(x)) % _N
    x = np.concatenate([x, np.zeros(pad, np.float32)])
    return x.reshape(-1, _N)


def _run_against_litert(scale, zero_point, batches):
    data = one_op_model(Op.QUANTIZE, [inp([_N])], [out([_N], T.INT8, scale, zero_point)])
    ours, ref = Interpreter(model_content=data), litert_interpreter(model_content=data)
    ours.allocate_tensors()
    ref.allocate_tensors()
    for x in batches:
        for it in (ours, ref):
            it.set_tensor(0, x)
            it.invoke()
        np.testing.assert_array_equal(ours.get_tensor(1), ref.get_tensor(1))


@pytest.mark.parametrize(
    "scale, zero_point",
    [(0.5, 0), (0.013, -4), (3.7e-3, 127), (1e-7, -128), (3.1e-12, 5), (97.0, 100)],
)
def test_search_path_equals_litert_at_every_boundary(scale, zero_point):
    scale = np.float32(scale)
    bound = float(scale) * 2.0**29
    assert quantize_thresholds(scale, zero_point, bound, _general_quantize) is not None
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            _boundaries(scale, zero_point),
            (rng.standard_normal(300) * scale * 100).astype(np.float32),
            (rng.standard_normal(100) * scale * 1e6).astype(np.float32),  # saturated
        ]
    )
    rng.shuffle(x)
    _run_against_litert(scale, zero_point, _chunks(x))


def test_values_outside_the_search_range_take_the_general_path():
    scale, zero_point = np.float32(0.02), -7
    x = np.linspace(-3, 3, _N).astype(np.float32)
    batches = []
    for odd in (np.nan, np.inf, -np.inf, scale * np.float32(2.0**31), -scale * 2.0**30):
        y = x.copy()
        y[17] = odd
        batches.append(y)
    with np.errstate(over="ignore", invalid="ignore"):
        _run_against_litert(scale, zero_point, batches)


def test_thresholds_count_the_levels_of_the_formula():
    rng = np.random.default_rng(3)
    info = np.iinfo(np.int8)
    for _ in range(20):
        scale = np.float32(10 ** rng.uniform(-9, 3))
        zero_point = int(rng.integers(-128, 128))
        bound = float(scale) * 2.0**29
        thresholds = quantize_thresholds(scale, zero_point, bound, _general_quantize)
        assert thresholds is not None and thresholds.dtype == np.float32
        assert np.all(np.diff(thresholds) >= 0)
        x = np.concatenate([_boundaries(scale, zero_point), thresholds[np.isfinite(thresholds)]])
        counted = (thresholds.searchsorted(x, "right") - 128).astype(np.int8)
        np.testing.assert_array_equal(counted, _general_quantize(x, scale, zero_point, info))


@pytest.mark.parametrize("scale, zero_point", [(0.0, 0), (-0.5, 0), (np.inf, 0), (0.5, 1 << 20)])
def test_scales_and_zero_points_the_search_refuses(scale, zero_point):
    with np.errstate(over="ignore", invalid="ignore"):
        bound = float(scale) * 2.0**29
        assert quantize_thresholds(scale, zero_point, bound, _general_quantize) is None
