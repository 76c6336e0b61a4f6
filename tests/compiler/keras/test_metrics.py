"""Metrics: stateful results against numpy, names, and Keras's resolution of "accuracy"."""

import numpy as np
import pytest

from compiler.keras import metrics
from compiler.keras._compile_utils import get_metric

RNG = np.random.default_rng(0)


def test_categorical_accuracy_accumulates_over_batches_and_resets():
    metric = metrics.CategoricalAccuracy()
    all_true, all_pred = [], []
    for size in (5, 7, 3):
        y_true = np.eye(4)[RNG.integers(0, 4, size)]
        y_pred = RNG.random((size, 4))
        metric.update_state(y_true, y_pred)
        all_true.append(y_true)
        all_pred.append(y_pred)
    expected = np.mean(
        np.argmax(np.concatenate(all_true), -1) == np.argmax(np.concatenate(all_pred), -1)
    )
    np.testing.assert_allclose(metric.result(), expected, rtol=1e-6)
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_sparse_and_binary_accuracy_against_numpy():
    labels = RNG.integers(0, 3, 10)
    scores = RNG.random((10, 3))
    sparse = metrics.SparseCategoricalAccuracy()
    sparse.update_state(labels[:, None], scores)
    np.testing.assert_allclose(sparse.result(), np.mean(labels == scores.argmax(-1)), rtol=1e-6)
    y = RNG.integers(0, 2, (10, 1)).astype(float)
    p = RNG.random((10, 1))
    binary = metrics.BinaryAccuracy(threshold=0.7)
    binary.update_state(y, p)
    np.testing.assert_allclose(binary.result(), np.mean(y == (p > 0.7)), rtol=1e-6)
    assert binary.get_config() == {"name": "binary_accuracy", "dtype": "float32", "threshold": 0.7}


def test_regression_metrics_and_weighted_mean():
    a, b = RNG.normal(size=(8, 2)), RNG.normal(size=(8, 2))
    w = RNG.random(8)
    mse = metrics.MeanSquaredError()
    mse.update_state(a, b, sample_weight=w)
    per_sample = ((a - b) ** 2).mean(-1)
    np.testing.assert_allclose(mse.result(), (per_sample * w).sum() / w.sum(), rtol=1e-5)
    mae = metrics.MeanAbsoluteError()
    mae.update_state(a, b)
    np.testing.assert_allclose(mae.result(), np.abs(a - b).mean(), rtol=1e-5)
    rmse = metrics.RootMeanSquaredError()
    rmse.update_state(a, b)
    np.testing.assert_allclose(rmse.result(), np.sqrt(((a - b) ** 2).mean()), rtol=1e-5)
    mean = metrics.Mean()
    mean.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    assert float(mean.result()) == 2.0
    total = metrics.Sum()
    total.update_state([1, 3, 5, 7])
    assert float(total.result()) == 16.0


def test_top_k_accuracy():
    y_true = np.eye(3)[[0, 1, 2]]
    y_pred = np.array([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2], [0.5, 0.3, 0.2]])
    metric = metrics.TopKCategoricalAccuracy(k=2)
    metric.update_state(y_true, y_pred)
    np.testing.assert_allclose(metric.result(), 2 / 3, rtol=1e-6)


@pytest.mark.parametrize("identifier", ["accuracy", "acc"])
def test_accuracy_resolution_follows_keras(identifier):
    one_hot, probs = np.zeros((4, 3)), np.zeros((4, 3))
    resolved = get_metric(identifier, one_hot, probs)
    assert isinstance(resolved, metrics.CategoricalAccuracy) and resolved.name == identifier
    assert isinstance(get_metric(identifier, np.zeros(4), probs), metrics.SparseCategoricalAccuracy)
    assert isinstance(
        get_metric(identifier, np.zeros((4, 1)), probs), metrics.SparseCategoricalAccuracy
    )
    assert isinstance(
        get_metric(identifier, np.zeros((4, 1)), np.zeros((4, 1))), metrics.BinaryAccuracy
    )


def test_names_as_keras_prints_them():
    assert get_metric("mse", np.zeros((2, 1)), np.zeros((2, 1))).name == "mse"
    assert get_metric("mae", np.zeros((2, 1)), np.zeros((2, 1))).name == "mae"
    assert (
        get_metric(metrics.CategoricalAccuracy(), np.zeros((2, 3)), np.zeros((2, 3))).name
        == "categorical_accuracy"
    )

    def custom(y_true, y_pred):
        return np.abs(y_true - y_pred).max(-1)

    wrapped = get_metric(custom, np.zeros((2, 2)), np.ones((2, 2)))
    assert wrapped.name == "custom"
    wrapped.update_state(np.zeros((2, 2)), np.ones((2, 2)))
    assert float(wrapped.result()) == 1.0


def test_get_and_serialization():
    assert isinstance(metrics.get("mse"), metrics.MeanSquaredError)
    assert isinstance(metrics.get("categorical_accuracy"), metrics.CategoricalAccuracy)
    with pytest.raises(ValueError, match="Valid metric names: .*'accuracy'"):
        metrics.get("acuracy")
    serialized = metrics.serialize([metrics.BinaryAccuracy(threshold=0.3), "accuracy"])
    assert serialized[1] == "accuracy"
    assert serialized[0]["class_name"] == "BinaryAccuracy"
    restored = metrics.deserialize(serialized)
    assert restored[0].threshold == 0.3 and restored[1] == "accuracy"


def test_metric_state_variables_are_non_trainable():
    metric = metrics.Mean(name="loss")
    assert [v.name for v in metric.variables] == ["total", "count"]
    assert not any(v.trainable for v in metric.variables)


def _exact_roc_auc(labels, scores):
    """Probability that a random positive scores above a random negative (ties count half)."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return wins / (len(pos) * len(neg))


def test_auc_roc_approaches_the_exact_area():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 400)
    scores = np.clip(labels * 0.3 + rng.random(400) * 0.7, 0, 1)
    auc = metrics.AUC(num_thresholds=2000)
    auc.update_state(labels[:200], scores[:200])
    auc.update_state(labels[200:], scores[200:])
    np.testing.assert_allclose(auc.result(), _exact_roc_auc(labels, scores), atol=2e-3)
    perfect = metrics.AUC()
    perfect.update_state([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    np.testing.assert_allclose(perfect.result(), 1.0, rtol=1e-6)
    reverse = metrics.AUC()
    reverse.update_state([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9])
    np.testing.assert_allclose(reverse.result(), 0.0, atol=1e-6)


def test_auc_thresholds_weights_and_pr_curve():
    auc = metrics.AUC(num_thresholds=3)
    assert auc.thresholds == [-1e-7, 0.5, 1 + 1e-7]
    auc.update_state([0, 1, 1, 0], [0.2, 0.7, 0.4, 0.6], sample_weight=[1, 2, 1, 1])
    # At 0.5: tp=2 (the weight-2 positive), fp=1, fn=1, tn=1.
    np.testing.assert_array_equal(auc.true_positives.data, [3, 2, 0])
    np.testing.assert_array_equal(auc.false_positives.data, [2, 1, 0])
    # ROC points (fpr, tpr): (1, 1), (0.5, 2/3), (0, 0): trapezoids.
    np.testing.assert_allclose(auc.result(), 0.5 * (1 + 2 / 3) / 2 + 0.5 * (2 / 3) / 2, rtol=1e-6)
    pr = metrics.AUC(curve="PR", summation_method="majoring", num_thresholds=3)
    pr.update_state([0, 1, 1, 0], [0.2, 0.7, 0.4, 0.6])
    # (recall, precision): (1, 0.5), (0.5, 0.5), (0, 0): majoring takes the larger height.
    np.testing.assert_allclose(pr.result(), 0.5 * 0.5 + 0.5 * 0.5, rtol=1e-6)
    interpolated = metrics.AUC(curve="PR")
    interpolated.update_state([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    np.testing.assert_allclose(interpolated.result(), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="Invalid curve"):
        metrics.AUC(curve="XY")
    assert metrics.get("AUC").name == "auc"


def test_binary_accuracy_counts_samples_with_rank_one_labels():
    metric = metrics.BinaryAccuracy()
    metric.update_state(np.array([1.0, 0.0, 1.0, 1.0]), np.array([[0.9], [0.2], [0.1], [0.8]]))
    metric.update_state(np.array([0.0]), np.array([[0.9]]))
    # 3 of 5 samples right, each sample counted once whatever the batch size.
    np.testing.assert_allclose(metric.result(), 3 / 5, rtol=1e-6)


def test_precision_and_recall_against_numpy():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 2, (30, 2))
    scores = rng.random((30, 2))
    weights = rng.random(30)
    predicted = scores > 0.5
    tp = ((predicted & (labels == 1)) * weights[:, None]).sum()
    fp = ((predicted & (labels == 0)) * weights[:, None]).sum()
    fn = ((~predicted & (labels == 1)) * weights[:, None]).sum()
    precision, recall = metrics.Precision(), metrics.Recall()
    for metric in (precision, recall):
        metric.update_state(labels[:10], scores[:10], sample_weight=weights[:10])
        metric.update_state(labels[10:], scores[10:], sample_weight=weights[10:])
    np.testing.assert_allclose(precision.result(), tp / (tp + fp), rtol=1e-5)
    np.testing.assert_allclose(recall.result(), tp / (tp + fn), rtol=1e-5)
    several = metrics.Recall(thresholds=[0.0, 0.99])
    several.update_state(labels, scores)
    assert several.result().shape == (2,) and several.result()[0] == 1.0
    column = metrics.Precision(class_id=1)
    column.update_state(labels, scores)
    expected = (predicted[:, 1] & (labels[:, 1] == 1)).sum() / predicted[:, 1].sum()
    np.testing.assert_allclose(column.result(), expected, rtol=1e-6)
    assert metrics.get("precision").name == "precision"
    empty = metrics.Precision()
    assert float(empty.result()) == 0.0
