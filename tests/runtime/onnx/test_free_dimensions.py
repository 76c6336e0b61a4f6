"""An input dimension written as a negative dim_value is free, as onnxruntime reads it.

paddle2onnx writes ``-1`` for a free batch (rapidocr's ch_ppocr_mobile_v2.0_cls_infer.onnx:
``x: [-1, 3, ?, ?]``); read as a fixed -1 it refused every feed.
"""

import numpy as np
import pytest
from onnx import helper

from runtime.errors import InvalidInputError
from runtime.onnx import InferenceSession
from tests.runtime.onnx.helpers import FLOAT, ort_session


def _model():
    x = helper.make_tensor_value_info("x", FLOAT, [-1, 3])
    y = helper.make_tensor_value_info("y", FLOAT, None)
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


@pytest.mark.parametrize("batch", [1, 4])
def test_negative_dim_value_is_free(batch):
    model = _model()
    x = np.linspace(-1, 1, batch * 3, dtype=np.float32).reshape(batch, 3)
    (got,) = InferenceSession(model.SerializeToString()).run(None, {"x": x})
    (theirs,) = ort_session(model).run(None, {"x": x})
    np.testing.assert_array_equal(got, theirs)


def test_fixed_dimensions_are_still_checked():
    with pytest.raises(InvalidInputError, match="index: 1 Got: 4 Expected: 3"):
        InferenceSession(_model().SerializeToString()).run(
            None, {"x": np.zeros((2, 4), np.float32)}
        )
