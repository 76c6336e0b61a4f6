"""Kernels that work out a plan once per input shape (the int8 CONV_2D small plan, the
STRIDED_SLICE cache) and PACK's scalar path give LiteRT's reference results on the runs after
the first, when the plan is used, and a plan is not reused for a slice it does not describe."""

from __future__ import annotations

import numpy as np
import pytest

from runtime.tflite import Interpreter
from runtime.tflite.kernels import conv
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._litert import litert_interpreter
from tests.runtime.tflite.test_folded_requant import _conv_model
from tests.runtime.tflite.test_kernels import check, inp, one_op_model, out

# (input shape, out channels, kernel, stride, dilation, padding, activation): magic_wand's two
# convolutions (SAME, one input channel; a 4x1 window on 8 channels), strided and dilated ones
SMALL_CONVS = [
    ((1, 128, 3, 1), 8, (4, 3), (1, 1), 1, 0, 1),
    ((1, 42, 1, 8), 16, (4, 1), (1, 1), 1, 0, 1),
    ((2, 9, 7, 3), 5, (3, 3), (2, 1), 1, 0, 0),
    ((1, 10, 9, 2), 4, (2, 3), (1, 2), 2, 1, 3),
]


@pytest.mark.parametrize("case", range(len(SMALL_CONVS)))
def test_small_int8_conv_plan_equals_litert(case, monkeypatch):
    shape, oc, k, stride, dil, padding, act = SMALL_CONVS[case]
    used = []
    run = conv._SmallPlan.run
    monkeypatch.setattr(conv._SmallPlan, "run", lambda *a: used.append(1) or run(*a))
    rng = np.random.default_rng(case)
    zp_in, zp_out = (int(v) for v in rng.integers(-128, 128, 2))
    data, folds = _conv_model(
        rng, Op.CONV_2D, shape, oc, k, stride, dil, padding, act, 0.5, zp_in, zp_out
    )
    assert folds
    check(data, case, runs=4)  # new random inputs each run
    assert len(used) == 3  # every run after the first


def test_strided_slice_cache_follows_begin_end_and_strides():
    data = one_op_model(
        Op.STRIDED_SLICE,
        [inp((4, 5)), inp((2,), T.INT32), inp((2,), T.INT32), inp((2,), T.INT32)],
        [out((1, 1))],  # (resized at run time: begin, end and strides are inputs)
        {"shrink_axis_mask": 0},
    )
    x = np.arange(20, dtype=np.float32).reshape(4, 5)
    ours = Interpreter(model_content=data)
    ours.allocate_tensors()
    ref = litert_interpreter(model_content=data, reference=True)
    ref.allocate_tensors()
    cases = [([0, 1], [2, 4], [1, 1]), ([1, 0], [4, 5], [2, 2]), ([0, 1], [2, 4], [1, 1])]
    cases += [([3, 4], [0, 0], [-1, -2]), ([1, 0], [4, 5], [2, 2])]
    for begin, end, strides in cases:
        for it in (ours, ref):
            details = it.get_input_details()
            for d, v in zip(details, (x, begin, end, strides)):
                it.resize_tensor_input(d["index"], np.shape(v))
            it.allocate_tensors()
            for d, v in zip(details, (x, begin, end, strides)):
                it.set_tensor(d["index"], np.asarray(v, d["dtype"]))
            it.invoke()
        index = ref.get_output_details()[0]["index"]
        np.testing.assert_array_equal(ours.get_tensor(index), ref.get_tensor(index))


def test_pack_of_scalars_equals_litert():
    data = one_op_model(
        Op.PACK,
        [inp((), T.INT32), inp((), T.INT32), inp((), T.INT32)],
        [out((3,), T.INT32)],
        {"axis": 0, "values_count": 3},
    )
    check(data, runs=2)
