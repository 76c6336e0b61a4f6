"""Losses: values against numpy references, gradients against finite differences (float64)."""

import numpy as np
import pytest

from compiler.keras import losses, ops
from tests.compiler.keras.helpers import check_gradients

EPS = 1e-7
RNG = np.random.default_rng(0)


def _probs(n, k, rng=RNG):
    logits = rng.normal(size=(n, k))
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True), logits


def _onehot(labels, k):
    return np.eye(k)[labels]


def test_categorical_crossentropy_matches_keras_doc_values():
    y_true = np.array([[0, 1, 0], [0, 0, 1]], "float32")
    y_pred = np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]], "float32")
    cce = losses.CategoricalCrossentropy()
    # Keras's documented results: 1.177, weighted 0.814, sum 2.354, none [0.0513, 2.303].
    np.testing.assert_allclose(cce(y_true, y_pred).data, 1.1769392, rtol=1e-6)
    np.testing.assert_allclose(
        cce(y_true, y_pred, sample_weight=np.array([0.3, 0.7])).data, 0.8135988, rtol=1e-6
    )
    np.testing.assert_allclose(
        losses.CategoricalCrossentropy(reduction="sum")(y_true, y_pred).data, 2.3538785, rtol=1e-6
    )
    none = losses.CategoricalCrossentropy(reduction=None)(y_true, y_pred).data
    np.testing.assert_allclose(none, [0.0512933, 2.3025851], rtol=1e-6)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_categorical_crossentropy_against_numpy(from_logits, label_smoothing):
    probs, logits = _probs(6, 4)
    labels = _onehot(RNG.integers(0, 4, 6), 4)
    pred = logits if from_logits else probs
    got = losses.categorical_crossentropy(
        labels, pred, from_logits=from_logits, label_smoothing=label_smoothing
    ).data
    smooth = labels * (1 - label_smoothing) + label_smoothing / 4
    p = probs if from_logits else np.clip(probs / probs.sum(-1, keepdims=True), EPS, 1 - EPS)
    np.testing.assert_allclose(got, -(smooth * np.log(p)).sum(-1), rtol=1e-6)


def test_probabilities_are_clipped_by_epsilon():
    y_true = np.array([[1.0, 0.0]])
    y_pred = np.array([[0.0, 1.0]])
    got = float(losses.categorical_crossentropy(y_true, y_pred).data[0])
    np.testing.assert_allclose(got, -np.log(EPS), rtol=1e-6)
    bce = float(losses.binary_crossentropy(np.array([[1.0]]), np.array([[0.0]])).data[0])
    np.testing.assert_allclose(bce, -np.log(EPS), rtol=1e-6)


@pytest.mark.parametrize("from_logits", [False, True])
def test_sparse_categorical_crossentropy_equals_categorical(from_logits):
    probs, logits = _probs(5, 3)
    labels = RNG.integers(0, 3, 5)
    pred = logits if from_logits else probs
    sparse = losses.sparse_categorical_crossentropy(labels, pred, from_logits=from_logits).data
    dense = losses.categorical_crossentropy(_onehot(labels, 3), pred, from_logits=from_logits)
    np.testing.assert_allclose(sparse, dense.data, rtol=1e-6)
    column = losses.SparseCategoricalCrossentropy(from_logits=from_logits)(labels[:, None], pred)
    np.testing.assert_allclose(column.data, dense.data.mean(), rtol=1e-6)


def test_sparse_ignore_class_zeroes_those_samples():
    probs, _ = _probs(4, 3)
    labels = np.array([0, 2, -1, 1])
    values = losses.sparse_categorical_crossentropy(labels, probs, ignore_class=-1).data
    assert values[2] == 0
    np.testing.assert_allclose(values[[0, 1, 3]], -np.log(probs[[0, 1, 3], [0, 2, 1]]), rtol=1e-6)


@pytest.mark.parametrize("from_logits", [False, True])
def test_binary_crossentropy_against_numpy(from_logits):
    logits = RNG.normal(size=(5, 3)) * 3
    p = 1 / (1 + np.exp(-logits))
    y = RNG.integers(0, 2, (5, 3)).astype(float)
    got = losses.binary_crossentropy(y, logits if from_logits else p, from_logits=from_logits).data
    pc = p if from_logits else np.clip(p, EPS, 1 - EPS)
    expected = -(y * np.log(pc) + (1 - y) * np.log(1 - pc)).mean(-1)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_binary_crossentropy_from_logits_is_stable_for_large_logits():
    got = losses.binary_crossentropy(
        np.array([[0.0, 1.0]]), np.array([[200.0, -200.0]]), from_logits=True
    ).data
    np.testing.assert_allclose(got, [200.0])


def test_regression_losses_against_numpy():
    a, b = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
    np.testing.assert_allclose(losses.mean_squared_error(a, b).data, ((a - b) ** 2).mean(-1))
    np.testing.assert_allclose(losses.mean_absolute_error(a, b).data, np.abs(a - b).mean(-1))
    err = b - a
    huber = np.where(np.abs(err) <= 1, 0.5 * err**2, np.abs(err) - 0.5).mean(-1)
    np.testing.assert_allclose(losses.huber(a, b).data, huber)
    np.testing.assert_allclose(losses.log_cosh(a, b).data, np.log(np.cosh(err)).mean(-1))
    pa, pb = np.abs(a) + 0.1, np.abs(b) + 0.1
    mape = losses.MeanAbsolutePercentageError(reduction=None, dtype="float64")
    np.testing.assert_allclose(mape(pa, pb).data, 100 * (np.abs((pa - pb) / pa)).mean(-1))
    np.testing.assert_allclose(
        losses.kl_divergence(pa / pa.sum(-1, keepdims=True), pb / pb.sum(-1, keepdims=True)).data,
        (
            pa
            / pa.sum(-1, keepdims=True)
            * np.log((pa / pa.sum(-1, keepdims=True)) / (pb / pb.sum(-1, keepdims=True)))
        ).sum(-1),
    )


def test_class_reduces_rank_one_labels_like_keras():
    y_true = np.array([1.0, 2.0, 3.0])
    y_pred = np.array([[1.5], [2.0], [2.0]])
    np.testing.assert_allclose(losses.MeanSquaredError()(y_true, y_pred).data, (0.25 + 1) / 3)


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("categorical_crossentropy", {}),
        ("categorical_crossentropy", {"from_logits": True, "label_smoothing": 0.1}),
        ("binary_crossentropy", {}),
        ("binary_crossentropy", {"from_logits": True}),
        ("mean_squared_error", {}),
        ("mean_absolute_error", {}),
        ("huber", {"delta": 0.5}),
        ("log_cosh", {}),
        ("kl_divergence", {}),
    ],
)
def test_loss_gradients_match_finite_differences(name, kwargs):
    rng = np.random.default_rng(1)
    fn = getattr(losses, name)
    if name in ("categorical_crossentropy", "kl_divergence") and not kwargs.get("from_logits"):
        raw, _ = _probs(4, 3, rng)
        target = (
            _onehot(rng.integers(0, 3, 4), 3) if name.startswith("cat") else _probs(4, 3, rng)[0]
        )
    elif name == "binary_crossentropy" and not kwargs.get("from_logits"):
        raw = rng.uniform(0.1, 0.9, (4, 3))
        target = rng.integers(0, 2, (4, 3)).astype(float)
    else:
        raw = rng.normal(size=(4, 3))
        target = (
            rng.integers(0, 2, (4, 3)).astype(float) if "cross" in name else rng.normal(size=(4, 3))
        )
    y_pred = ops.Tensor(raw.astype(np.float64), requires_grad=True)
    weights = rng.uniform(0.5, 1.5, 4)
    loss = losses.get(name) if not kwargs else None

    def compute():
        if loss is not None:
            return losses.LossFunctionWrapper(loss, dtype="float64")(
                target, y_pred, sample_weight=weights
            )
        return ops.mean(fn(target, y_pred, **kwargs) * weights)

    check_gradients(compute, [y_pred], rtol=1e-5, atol=1e-8)


def test_sparse_crossentropy_gradient_matches_finite_differences():
    rng = np.random.default_rng(2)
    logits = ops.Tensor(rng.normal(size=(5, 4)), requires_grad=True)
    labels = rng.integers(0, 4, 5)
    check_gradients(
        lambda: losses.SparseCategoricalCrossentropy(from_logits=True, dtype="float64")(
            labels, logits
        ),
        [logits],
    )


def test_get_by_name_class_and_instance():
    assert losses.get("mse") is losses.mean_squared_error
    assert losses.get("categorical_crossentropy") is losses.categorical_crossentropy
    assert isinstance(losses.get("CategoricalCrossentropy"), losses.CategoricalCrossentropy)
    instance = losses.Huber(delta=2.0)
    assert losses.get(instance) is instance
    assert isinstance(losses.get(losses.BinaryCrossentropy), losses.BinaryCrossentropy)


def test_get_unknown_name_lists_valid_names():
    with pytest.raises(
        ValueError, match="Could not interpret loss identifier: 'categorical_x'"
    ) as info:
        losses.get("categorical_x")
    assert "categorical_crossentropy" in str(info.value) and "mse" in str(info.value)


def test_config_round_trip_and_serialization():
    loss = losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1, name="cce")
    assert loss.get_config() == {
        "name": "cce",
        "reduction": "sum_over_batch_size",
        "from_logits": True,
        "label_smoothing": 0.1,
        "axis": -1,
    }
    again = losses.CategoricalCrossentropy.from_config(loss.get_config())
    assert again.get_config() == loss.get_config()
    assert losses.serialize(losses.binary_crossentropy) == {
        "module": "builtins",
        "class_name": "function",
        "config": "binary_crossentropy",
        "registered_name": "function",
    }
    restored = losses.deserialize(losses.serialize(loss))
    assert isinstance(restored, losses.CategoricalCrossentropy)
    assert restored.from_logits is True
    mse = losses.mean_squared_error
    assert losses.deserialize(losses.serialize(mse)) is mse
    assert losses.Huber().get_config() == {
        "name": "huber_loss",
        "reduction": "sum_over_batch_size",
        "delta": 1.0,
    }


def test_shape_mismatch_and_bad_reduction_are_value_errors():
    with pytest.raises(ValueError, match=r"target.shape=\(4,\), output.shape=\(4, 3\)"):
        losses.categorical_crossentropy(np.zeros(4), np.full((4, 3), 1 / 3))
    with pytest.raises(ValueError, match="same shape up until the last dimension"):
        losses.sparse_categorical_crossentropy(np.zeros((4, 3)), np.full((4, 3), 1 / 3))
    with pytest.raises(ValueError, match="outside the valid range"):
        losses.sparse_categorical_crossentropy(np.array([0, 3]), np.full((2, 3), 1 / 3))
    with pytest.raises(ValueError, match="reduction"):
        losses.MeanSquaredError(reduction="average")


def test_reductions():
    y_true, y_pred = np.zeros((2, 2)), np.array([[1.0, 1.0], [2.0, 2.0]])
    weights = np.array([1.0, 3.0])
    assert float(losses.MeanSquaredError(reduction="sum")(y_true, y_pred).data) == 5.0
    np.testing.assert_allclose(
        losses.MeanSquaredError(reduction="mean_with_sample_weight")(y_true, y_pred, weights).data,
        13 / 4,
    )
    np.testing.assert_allclose(losses.MeanSquaredError()(y_true, y_pred, weights).data, 13 / 2)


def test_rank_one_labels_keep_one_value_per_sample():
    # Keras expands (N,) labels to (N, 1) against (N, 1) predictions: per-sample values stay.
    y_true = np.array([0.0, 1.0, 1.0])
    y_pred = np.array([[0.2], [0.6], [0.9]])
    values = losses.BinaryCrossentropy(reduction=None, dtype="float64")(y_true, y_pred).data
    np.testing.assert_allclose(values, -np.log([0.8, 0.6, 0.9]))
    weighted = losses.BinaryCrossentropy(dtype="float64")(
        y_true, y_pred, sample_weight=[1.0, 0.0, 2.0]
    ).data
    np.testing.assert_allclose(weighted, -(np.log(0.8) + 2 * np.log(0.9)) / 3)


def test_keras_mask_of_predictions_weights_the_loss():
    y_true = np.array([[0, 1, 2], [1, 1, 0]])
    probs, _ = _probs(6, 3)
    y_pred = ops.Tensor(probs.reshape(2, 3, 3))
    y_pred._keras_mask = np.array([[True, True, False], [True, False, False]])
    per_step = -np.log(np.take_along_axis(probs.reshape(2, 3, 3), y_true[..., None], -1)[..., 0])
    valid = y_pred._keras_mask
    got = losses.SparseCategoricalCrossentropy(dtype="float64")(y_true, y_pred).data
    np.testing.assert_allclose(got, per_step[valid].mean(), rtol=1e-6)
    total = losses.SparseCategoricalCrossentropy(dtype="float64", reduction="sum")
    np.testing.assert_allclose(
        total(y_true, y_pred, sample_weight=[2.0, 1.0]).data,
        2 * per_step[0, :2].sum() + per_step[1, 0],
        rtol=1e-6,
    )


@pytest.mark.parametrize("name", ["categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_softmax_outputs_use_their_logits_like_tensorflow_keras(name):
    logits = ops.Tensor(np.array([[30.0, 0.0, -30.0], [0.5, 0.2, -0.1]]), requires_grad=True)
    labels = np.array([2, 1])
    y_true = labels if name.startswith("sparse") else _onehot(labels, 3)
    fn = getattr(losses, name)
    value = fn(y_true, ops.softmax(logits))
    log_probs = logits.data - np.log(np.exp(logits.data).sum(-1, keepdims=True))
    expected = -log_probs[[0, 1], labels]
    # Sample 0 is confidently wrong (p = 8.8e-27): clipping would cap it at -log(1e-7).
    np.testing.assert_allclose(value.data, expected, rtol=1e-12)
    ops.sum(value).backward()
    np.testing.assert_allclose(logits.grad, np.exp(log_probs) - _onehot(labels, 3), atol=1e-12)
    with ops.no_grad():  # no recorded graph: the clipped probabilities, as Keras's other backends
        clipped = fn(y_true, ops.softmax(logits)).data
    np.testing.assert_allclose(clipped[0], -np.log(1e-7), rtol=1e-6)


def test_sigmoid_outputs_use_their_logits_in_binary_crossentropy():
    logits = ops.Tensor(np.array([[40.0], [-0.3]]), requires_grad=True)
    y_true = np.array([[0.0], [1.0]])
    value = losses.binary_crossentropy(y_true, ops.sigmoid(logits))
    expected = [40.0 + np.log1p(np.exp(-40.0)), np.log1p(np.exp(0.3))]
    np.testing.assert_allclose(value.data, expected, rtol=1e-12)
