"""BatchNormalization and Dropout in training mode: BatchNormalization against onnxruntime
(batch statistics and running statistics), Dropout's masks by their definition (onnxruntime
draws from its own generator), and the refusals of bad ratios."""

import numpy as np
import onnxruntime
import pytest
from onnx import TensorProto, helper

from runtime.errors import InvalidModelError
from runtime.onnx import InferenceSession

FLOAT, BOOL = TensorProto.FLOAT, TensorProto.BOOL
RNG = np.random.default_rng(0)


def _batch_norm_model(shape, **attrs) -> bytes:
    c = shape[1]
    node = helper.make_node(
        "BatchNormalization",
        ["x", "s", "b", "m", "v"],
        ["y", "running_mean", "running_var"],
        training_mode=1,
        **attrs,
    )
    params = [helper.make_tensor_value_info(n, FLOAT, [c]) for n in "sbmv"]
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", FLOAT, list(shape)), *params],
        [helper.make_tensor_value_info(n, FLOAT, None) for n in node.output],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)]).SerializeToString()


@pytest.mark.parametrize(
    "shape, attrs",
    [((2, 3, 4, 5), {}), ((8, 4), {"momentum": 0.5}), ((1, 2, 7), {"epsilon": 1e-2})],
)
def test_batch_norm_training_matches_onnxruntime(shape, attrs):
    c = shape[1]
    feeds = {
        "x": (RNG.standard_normal(shape) * 3 + 1).astype(np.float32),
        "s": RNG.standard_normal(c).astype(np.float32),
        "b": RNG.standard_normal(c).astype(np.float32),
        "m": RNG.standard_normal(c).astype(np.float32),
        "v": RNG.uniform(0.5, 2, c).astype(np.float32),
    }
    model = _batch_norm_model(shape, **attrs)
    expected = onnxruntime.InferenceSession(model).run(None, feeds)
    got = InferenceSession(model).run(None, feeds)
    for g, e in zip(got, expected, strict=True):
        assert g.shape == e.shape and g.dtype == e.dtype
        # onnxruntime sums in float32, this runtime in float64: a few float32 ulps
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)


def test_batch_norm_training_refuses_a_batch_without_elements():
    feeds = {"x": np.zeros((0, 3, 2), np.float32)}
    feeds.update({n: np.ones(3, np.float32) for n in "sbmv"})
    with pytest.raises(InvalidModelError, match="batch"):
        InferenceSession(_batch_norm_model((0, 3, 2))).run(None, feeds)


def _dropout_model(seed=None) -> bytes:
    attrs = {} if seed is None else {"seed": seed}
    node = helper.make_node("Dropout", ["x", "r", "t"], ["y", "mask"], **attrs)
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info("x", FLOAT, [50, 40]),
            helper.make_tensor_value_info("r", FLOAT, []),
            helper.make_tensor_value_info("t", BOOL, []),
        ],
        [
            helper.make_tensor_value_info("y", FLOAT, None),
            helper.make_tensor_value_info("mask", BOOL, None),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


X = RNG.uniform(1, 2, (50, 40)).astype(np.float32)  # (no zeros: a kept value shows)


def _run(session, ratio, training=True):
    feeds = {"x": X, "r": np.array(ratio, np.float32), "t": np.array(training)}
    return session.run(None, feeds)


@pytest.mark.parametrize("ratio", [0.25, 0.75])
def test_dropout_training_keeps_and_scales_by_its_mask(ratio):
    y, mask = _run(InferenceSession(_dropout_model()), ratio)
    assert y.dtype == np.float32 and mask.dtype == np.bool_
    np.testing.assert_array_equal(y[~mask], 0)
    np.testing.assert_allclose(y[mask], X[mask] / (1 - np.float32(ratio)), rtol=1e-6)
    # 2,000 draws: the kept share within 5 standard deviations of 1 - ratio
    spread = 5 * np.sqrt(ratio * (1 - ratio) / mask.size)
    assert abs(mask.mean() - (1 - ratio)) < spread
    # onnxruntime's masks follow the same definition
    y_ort, mask_ort = _run(onnxruntime.InferenceSession(_dropout_model()), ratio)
    np.testing.assert_array_equal(y_ort[~mask_ort], 0)
    assert abs(mask_ort.mean() - (1 - ratio)) < spread


def test_dropout_training_seeded_repeats_and_unseeded_varies():
    seeded = InferenceSession(_dropout_model(seed=7))
    np.testing.assert_array_equal(_run(seeded, 0.5)[1], _run(seeded, 0.5)[1])
    unseeded = InferenceSession(_dropout_model())
    assert not np.array_equal(_run(unseeded, 0.5)[1], _run(unseeded, 0.5)[1])


def test_dropout_identity_without_training_or_at_ratio_zero():
    session = InferenceSession(_dropout_model())
    for ratio, training in [(0.5, False), (0.0, True)]:
        y, mask = _run(session, ratio, training)
        np.testing.assert_array_equal(y, X)
        assert mask.all()


@pytest.mark.parametrize("ratio", [1.0, -0.1, 1.5])
def test_dropout_training_refuses_a_ratio_outside_0_1(ratio):
    with pytest.raises(InvalidModelError, match="ratio"):
        _run(InferenceSession(_dropout_model()), ratio)
