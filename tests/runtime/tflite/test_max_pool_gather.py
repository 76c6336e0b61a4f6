"""MAX_POOL_2D on a small input as one gather of every window's taps and one maximum over them
(``pooling._max_gather_index``): LiteRT's reference kernel's result for int8 and float32,
SAME and VALID, strides below, at and above the filter, padding taps, fused activations,
batches; and the strided path's result where the gather is not wanted."""

from __future__ import annotations

import numpy as np
import pytest

from runtime import Interpreter
from runtime.tflite.kernels import pooling
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite.test_kernels import check, inp, one_op_model, out

CASES = [
    # shape, (filter h, w), (stride h, w), padding (0 SAME, 1 VALID), activation
    ((1, 128, 3, 8), (3, 3), (3, 3), 1, 0),  # magic_wand's
    ((1, 42, 1, 16), (3, 1), (3, 1), 0, 0),
    ((2, 7, 9, 3), (3, 3), (2, 2), 0, 1),  # SAME: padding taps; RELU
    ((1, 6, 5, 2), (4, 2), (1, 3), 0, 3),  # RELU6
    ((1, 5, 5, 1), (5, 5), (1, 1), 0, 0),  # every window mostly padding
    ((3, 4, 6, 4), (2, 2), (2, 2), 1, 0),
]


def _out_shape(shape, k, s, padding):
    n, h, w, c = shape
    if padding == 0:  # SAME
        return [n, -(-h // s[0]), -(-w // s[1]), c]
    return [n, (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1, c]


def _model(ttype, shape, k, s, padding, act):
    q = (0.07, -5) if ttype == T.INT8 else (None, None)
    o_shape = _out_shape(shape, k, s, padding)
    options = {
        "padding": padding,
        "stride_h": s[0],
        "stride_w": s[1],
        "filter_height": k[0],
        "filter_width": k[1],
        "fused_activation_function": act,
    }
    version = 2 if ttype == T.INT8 else 1
    return one_op_model(
        Op.MAX_POOL_2D, [inp(shape, ttype, *q)], [out(o_shape, ttype, *q)], options, version
    )


@pytest.mark.parametrize("ttype", [T.INT8, T.FLOAT32])
@pytest.mark.parametrize("case", CASES)
def test_gather_equals_litert(ttype, case):
    check(_model(ttype, *case), seed=len(case[0]), runs=2)


@pytest.mark.parametrize("ttype", [T.INT8, T.FLOAT32])
@pytest.mark.parametrize("case", CASES)
def test_gather_equals_the_strided_path(ttype, case, monkeypatch):
    data = _model(ttype, *case)
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, case[0]).astype(np.int8)
    if ttype == T.FLOAT32:
        x = (x / 7).astype(np.float32)
    results = []
    for limit in (pooling.GATHER_MAX_ELEMENTS, 0):
        monkeypatch.setattr(pooling, "GATHER_MAX_ELEMENTS", limit)
        it = Interpreter(model_content=data)
        it.allocate_tensors()
        it.set_tensor(0, x)
        it.invoke()
        results.append(it.get_tensor(1))
    np.testing.assert_array_equal(results[0], results[1])
