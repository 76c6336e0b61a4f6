"""``keras.metrics``: stateful metrics and the functions they average."""

import inspect

from compiler.keras.metrics.accuracy_metrics import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    TopKCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    top_k_categorical_accuracy,
)
from compiler.keras.metrics.confusion_metrics import AUC, Precision, Recall
from compiler.keras.metrics.metric import Metric, _snake
from compiler.keras.metrics.reduction_metrics import Mean, MeanMetricWrapper, Sum
from compiler.keras.metrics.regression_metrics import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    RootMeanSquaredError,
    SparseCategoricalCrossentropy,
)

_CLASSES = [
    Metric,
    Mean,
    Sum,
    MeanMetricWrapper,
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    TopKCategoricalAccuracy,
    MeanSquaredError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    RootMeanSquaredError,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    BinaryCrossentropy,
    AUC,
    Precision,
    Recall,
]
_BY_NAME = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update({_snake(cls.__name__): cls for cls in _CLASSES})
_BY_NAME.update(
    {
        "bce": BinaryCrossentropy,
        "BCE": BinaryCrossentropy,
        "mse": MeanSquaredError,
        "MSE": MeanSquaredError,
        "mae": MeanAbsoluteError,
        "MAE": MeanAbsoluteError,
        "mape": MeanAbsolutePercentageError,
        "MAPE": MeanAbsolutePercentageError,
    }
)
_BASES = ("Metric", "metric", "MeanMetricWrapper", "mean_metric_wrapper")


def get(identifier):
    """Returns a ``Metric`` instance (or a metric function) for a name, config, class or callable.

    ``"accuracy"`` / ``"acc"`` are resolved by ``compile`` from the loss and output shape, not
    here (here they mean exact-match ``Accuracy``).
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = _BY_NAME.get(identifier)
        if obj is None:
            valid = sorted({*(n for n in _BY_NAME if n not in _BASES), "acc"})
            raise ValueError(
                f"Could not interpret metric identifier: {identifier!r}. Valid metric names: "
                f"{valid}"
            )
    else:
        obj = identifier
    if inspect.isclass(obj):
        obj = obj()
    if not callable(obj):
        raise ValueError(f"Could not interpret metric identifier: {identifier!r}")
    return obj


def serialize(metric):
    """Keras 3's serialized form of a metric given to ``compile`` (names stay names)."""
    if metric is None or isinstance(metric, str):
        return metric
    if isinstance(metric, (list, tuple)):
        return [serialize(m) for m in metric]
    if isinstance(metric, dict):
        return {k: serialize(v) for k, v in metric.items()}
    if isinstance(metric, Metric):
        if type(metric).__name__ not in _BY_NAME:
            raise ValueError(f"Cannot serialize custom metric {metric!r}")
        return {
            "module": "keras.metrics",
            "class_name": type(metric).__name__,
            "config": metric.get_config(),
            "registered_name": None,
        }
    name = getattr(metric, "__name__", None)
    if name:
        return {
            "module": "builtins",
            "class_name": "function",
            "config": name,
            "registered_name": "function",
        }
    raise ValueError(f"Cannot serialize metric {metric!r}")


def deserialize(config, custom_objects=None):
    """Inverse of ``serialize`` (lists and dicts of metrics included)."""
    if config is None or isinstance(config, str) or callable(config):
        return config
    if isinstance(config, list):
        return [deserialize(c, custom_objects) for c in config]
    if isinstance(config, dict) and "class_name" not in config:
        return {k: deserialize(v, custom_objects) for k, v in config.items()}
    custom = custom_objects or {}
    if config["class_name"] == "function":
        name = config["config"]
        obj = custom.get(name) or _FUNCTIONS.get(name)
        if obj is None:
            from compiler.keras import losses

            obj = losses._BY_NAME.get(name)
        if obj is None:
            raise ValueError(f"Unknown metric function: {name!r}")
        return obj
    cls = custom.get(config["class_name"]) or _BY_NAME.get(config["class_name"])
    if cls is None:
        raise ValueError(
            f"Unknown metric class: {config['class_name']!r}. Valid: "
            f"{sorted(c.__name__ for c in _CLASSES)}"
        )
    return cls.from_config(dict(config.get("config") or {}))


_FUNCTIONS = {
    f.__name__: f
    for f in (
        accuracy,
        binary_accuracy,
        categorical_accuracy,
        sparse_categorical_accuracy,
        top_k_categorical_accuracy,
    )
}

__all__ = [
    "AUC",
    "Precision",
    "Recall",
    "Metric",
    "Mean",
    "Sum",
    "MeanMetricWrapper",
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "RootMeanSquaredError",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "BinaryCrossentropy",
    "accuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "top_k_categorical_accuracy",
    "get",
    "serialize",
    "deserialize",
]
