"""``AUC``, ``Precision``, ``Recall``: confusion counts of binary decisions at thresholds.

As Keras: ``num_thresholds`` thresholds ``[-eps, 1/(n-1), ..., (n-2)/(n-1), 1 + eps]``; a
prediction is positive when ``> threshold``; the ROC area is the trapezoidal sum over the
(false positive rate, true positive rate) points ("interpolation"); the PR area with
"interpolation" uses Davis and Goadrich's (2006) interpolation of precision between thresholds.
"""

from compiler.keras.backend import epsilon, xp
from compiler.keras.metrics.metric import Metric
from compiler.keras.metrics.reduction_metrics import as_array

__all__ = ["AUC", "Precision", "Recall"]


class AUC(Metric):
    """Approximate AUC of binary predictions (labels 0/1, predictions in [0, 1]).

    Args:
        num_thresholds: number of thresholds (> 1), default 200.
        curve: ``"ROC"`` or ``"PR"``.
        summation_method: ``"interpolation"``, ``"minoring"`` or ``"majoring"``.
        name: the metric's name.
        dtype: dtype of the result.
        from_logits: apply a sigmoid to the predictions first.
    """

    _direction = "up"

    def __init__(
        self,
        num_thresholds=200,
        curve="ROC",
        summation_method="interpolation",
        name=None,
        dtype=None,
        thresholds=None,
        multi_label=False,
        num_labels=None,
        label_weights=None,
        from_logits=False,
    ):
        super().__init__(name=name or "auc", dtype=dtype)
        if curve not in ("ROC", "PR"):
            raise ValueError(f'Invalid curve: "{curve}". Valid options are: "ROC", "PR"')
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError(
                f'Invalid `summation_method` argument value "{summation_method}". Valid options '
                'are: "interpolation", "minoring", "majoring"'
            )
        if multi_label or label_weights is not None:
            raise ValueError("AUC with `multi_label` or `label_weights` is not supported.")
        if thresholds is not None:
            inner = sorted(float(t) for t in thresholds)
            num_thresholds = len(inner) + 2
        else:
            if num_thresholds <= 1:
                raise ValueError(
                    f"Argument `num_thresholds` must be an integer > 1. Received: "
                    f"num_thresholds={num_thresholds}"
                )
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self.num_thresholds = num_thresholds
        self.curve = curve
        self.summation_method = summation_method
        self.from_logits = from_logits
        self.multi_label = False
        self.num_labels = num_labels
        self._thresholds = xp.asarray([0.0 - epsilon(), *inner, 1.0 + epsilon()])
        shape = (num_thresholds,)
        self.true_positives = self.add_variable(shape, name="true_positives")
        self.false_positives = self.add_variable(shape, name="false_positives")
        self.true_negatives = self.add_variable(shape, name="true_negatives")
        self.false_negatives = self.add_variable(shape, name="false_negatives")

    @property
    def thresholds(self):
        return list(self._thresholds)

    def update_state(self, y_true, y_pred, sample_weight=None):
        predictions = as_array(y_pred, "float64")
        labels = as_array(y_true).reshape(-1).astype(bool)
        scores = predictions.reshape(-1)
        if self.from_logits:
            scores = 1 / (1 + xp.exp(-scores))
        if labels.shape != scores.shape:
            raise ValueError(
                f"AUC expects one prediction per label. Received y_true with "
                f"{labels.size} values and y_pred with {scores.size} values."
            )
        if sample_weight is None:
            weights = xp.ones_like(scores)
        else:
            # One weight per sample, spread over that sample's predictions.
            weight = as_array(sample_weight, "float64")
            weight = weight.reshape(weight.shape + (1,) * (predictions.ndim - weight.ndim))
            weights = xp.broadcast_to(weight, predictions.shape).reshape(-1)
        above = scores[None, :] > self._thresholds[:, None]
        positive = weights * labels
        negative = weights * ~labels
        tp = (above * positive).sum(axis=1)
        fp = (above * negative).sum(axis=1)
        for variable, delta in (
            (self.true_positives, tp),
            (self.false_positives, fp),
            (self.false_negatives, positive.sum() - tp),
            (self.true_negatives, negative.sum() - fp),
        ):
            variable.assign(variable.data + delta.astype(variable.dtype))

    def result(self):
        tp = self.true_positives.data.astype("float64")
        fp = self.false_positives.data.astype("float64")
        tn = self.true_negatives.data.astype("float64")
        fn = self.false_negatives.data.astype("float64")
        if self.curve == "PR" and self.summation_method == "interpolation":
            return xp.asarray(_interpolate_pr_auc(tp, fp, fn), self.dtype)
        recall = _safe_divide(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _safe_divide(fp, fp + tn), recall
        else:
            x, y = recall, _safe_divide(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2
        elif self.summation_method == "minoring":
            heights = xp.minimum(y[:-1], y[1:])
        else:
            heights = xp.maximum(y[:-1], y[1:])
        return xp.asarray(((x[:-1] - x[1:]) * heights).sum(), self.dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": None,
            "from_logits": self.from_logits,
        }


def _safe_divide(a, b):
    return xp.divide(a, b, out=xp.zeros_like(a), where=b != 0)


def _interpolate_pr_auc(tp, fp, fn):
    dtp = tp[:-1] - tp[1:]
    p = tp + fp
    dp = p[:-1] - p[1:]
    slope = _safe_divide(dtp, xp.maximum(dp, 0))
    intercept = tp[1:] - slope * p[1:]
    both = (p[:-1] > 0) & (p[1:] > 0)
    ratio = xp.where(both, _safe_divide(p[:-1], xp.maximum(p[1:], 0)), 1.0)
    ratio = xp.where(ratio > 0, ratio, 1.0)
    increments = _safe_divide(
        slope * (dtp + intercept * xp.log(ratio)), xp.maximum(tp[1:] + fn[1:], 0)
    )
    return increments.sum()


class _ThresholdCounts(Metric):
    """True/false positive/negative counts of ``y_pred > threshold`` per threshold."""

    _direction = "up"
    _counts = ()

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if top_k is not None:
            raise ValueError(f"{type(self).__name__} with `top_k` is not supported.")
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        values = (
            [0.5]
            if thresholds is None
            else ([thresholds] if isinstance(thresholds, (int, float)) else list(thresholds))
        )
        if any(not 0 <= t <= 1 for t in values):
            raise ValueError(f"Threshold values must be in [0, 1]. Received: {values}")
        self._single = thresholds is None or isinstance(thresholds, (int, float))
        self.thresholds = xp.asarray(values, "float64")
        for count in self._counts:
            setattr(self, count, self.add_variable((len(values),), name=count))

    def update_state(self, y_true, y_pred, sample_weight=None):
        labels, scores = as_array(y_true), as_array(y_pred, "float64")
        if self.class_id is not None:
            labels, scores = labels[..., self.class_id], scores[..., self.class_id]
        if labels.size != scores.size:
            raise ValueError(
                f"{type(self).__name__} expects one prediction per label. Received y_true with "
                f"{labels.size} values and y_pred with {scores.size} values."
            )
        weights = xp.ones(scores.size)
        if sample_weight is not None:
            weight = as_array(sample_weight, "float64")
            weight = weight.reshape(weight.shape + (1,) * (scores.ndim - weight.ndim))
            weights = xp.broadcast_to(weight, scores.shape).reshape(-1)
        labels = labels.reshape(-1).astype(bool)
        above = scores.reshape(-1)[None, :] > self.thresholds[:, None]
        counts = {
            "true_positives": (above & labels) @ weights,
            "false_positives": (above & ~labels) @ weights,
            "false_negatives": (~above & labels) @ weights,
        }
        for count in self._counts:
            variable = getattr(self, count)
            variable.assign(variable.data + counts[count].astype(variable.dtype))

    def _ratio(self, numerator, other):
        num = getattr(self, numerator).data
        den = num + getattr(self, other).data
        out = xp.divide(num, den, out=xp.zeros_like(num), where=den != 0)
        return out[0] if self._single else out

    def get_config(self):
        return {
            **super().get_config(),
            "thresholds": self.init_thresholds,
            "top_k": self.top_k,
            "class_id": self.class_id,
        }


class Precision(_ThresholdCounts):
    """``tp / (tp + fp)`` of ``y_pred > threshold`` (default 0.5) against 0/1 labels.

    Args:
        thresholds: a float or a list of floats in [0, 1]; a list gives one result each.
        top_k: not supported (must be None).
        class_id: compute for this class column only.
        name: the metric's name.
        dtype: dtype of the result.
    """

    _counts = ("true_positives", "false_positives")

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(thresholds, top_k, class_id, name or "precision", dtype)

    def result(self):
        return self._ratio("true_positives", "false_positives")


class Recall(_ThresholdCounts):
    """``tp / (tp + fn)`` of ``y_pred > threshold`` (default 0.5) against 0/1 labels.

    Args: as ``Precision``.
    """

    _counts = ("true_positives", "false_negatives")

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(thresholds, top_k, class_id, name or "recall", dtype)

    def result(self):
        return self._ratio("true_positives", "false_negatives")
