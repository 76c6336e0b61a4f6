"""NON_MAX_SUPPRESSION_V4/V5 against LiteRT's reference kernels: hard and soft (Gaussian)
suppression, score thresholds, corners in either order, and tied scores (LiteRT's heap order)."""

from __future__ import annotations

import numpy as np
import pytest

from runtime import Interpreter
from runtime.errors import InvalidModelError
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite.test_kernels import const, inp, one_op_model, out
from tests.runtime.tflite.test_layout_kernels import compare


def _boxes(rng, n, flip=False):
    corner = rng.uniform(0, 1, (n, 2))
    size = rng.uniform(0.05, 0.4, (n, 2))
    boxes = np.concatenate([corner, corner + size], axis=1).astype(np.float32)
    if flip:  # corners given the other way round for half the boxes
        boxes[::2] = boxes[::2][:, [2, 3, 0, 1]]
    return boxes


def nms_model(n, max_size, iou, score, sigma=None):
    scalars = [
        const(np.array(max_size, np.int32), T.INT32),
        const(np.array(iou, np.float32)),
        const(np.array(score, np.float32)),
    ]
    if sigma is None:
        return one_op_model(
            Op.NON_MAX_SUPPRESSION_V4,
            [inp((n, 4)), inp((n,)), *scalars],
            [out((max_size,), T.INT32), out((), T.INT32)],
        )
    return one_op_model(
        Op.NON_MAX_SUPPRESSION_V5,
        [inp((n, 4)), inp((n,)), *scalars, const(np.array(sigma, np.float32))],
        [out((max_size,), T.INT32), out((max_size,)), out((), T.INT32)],
    )


@pytest.mark.parametrize("sigma", [None, 0.0, 0.5])
@pytest.mark.parametrize("iou, score", [(0.5, 0.0), (0.3, 0.4), (1.0, -1.0)])
@pytest.mark.parametrize("flip", [False, True])
def test_nms_matches_litert(sigma, iou, score, flip):
    n = 40
    rng = np.random.default_rng(int(iou * 10) + int(flip))
    data = nms_model(n, 12, iou, score, sigma)
    boxes = _boxes(rng, n, flip)
    scores = rng.uniform(0, 1, n).astype(np.float32)
    compare(data, feeds=[boxes, scores], runs=1)


@pytest.mark.parametrize("sigma", [None, 0.3])
def test_nms_tied_scores_pop_in_litert_order(sigma):
    n = 30
    rng = np.random.default_rng(5)
    data = nms_model(n, 20, 0.4, 0.1, sigma)
    boxes = _boxes(rng, n)
    scores = rng.choice(np.array([0.2, 0.5, 0.9], np.float32), n)
    compare(data, feeds=[boxes, scores], runs=1)


def test_nms_refuses_bad_thresholds():
    data = nms_model(4, 2, 1.5, 0.0)
    it = Interpreter(model_content=data)
    it.allocate_tensors()
    with pytest.raises(InvalidModelError, match="iou_threshold"):
        it.invoke()
