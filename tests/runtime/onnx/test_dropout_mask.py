"""Dropout's optional mask output at every opset version, against onnxruntime.

Dropout-7 types the mask like the data (T, float), Dropout-10 makes it bool; at inference the
mask is all zeros/False up to opset 11 and all True from Dropout-12 on in onnxruntime (the
Caffe2-converted light models of the onnx wheel expose it: light_bvlc_alexnet's ``r19``).
"""

import numpy as np
import pytest
from onnx import TensorProto

from runtime.onnx import InferenceSession
from tests.runtime.onnx.helpers import FLOAT, ort_session, single_op_model


@pytest.mark.parametrize("opset", [7, 9, 10, 11, 12, 13])
def test_dropout_mask_matches_onnxruntime(opset):
    mask_type = FLOAT if opset < 10 else TensorProto.BOOL
    model = single_op_model(
        "Dropout", [("x", FLOAT, [2, 3])], [("y", FLOAT, [2, 3]), ("mask", mask_type, [2, 3])],
        opset=opset,
    )  # fmt: skip
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    y, mask = InferenceSession(model.SerializeToString()).run(None, {"x": x})
    ref_y, ref_mask = ort_session(model).run(None, {"x": x})
    np.testing.assert_array_equal(y, ref_y)
    assert mask.dtype == ref_mask.dtype == (np.float32 if opset < 10 else np.bool_)
    np.testing.assert_array_equal(mask, ref_mask)
