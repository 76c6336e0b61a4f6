"""Losses with Keras 3's names, defaults and math (``keras.losses``).

Each loss is a function ``fn(y_true, y_pred) -> per-sample values`` built from the frontend's
ops (so autodiff gives its gradient) and a ``Loss`` class that reduces those values
(``"sum_over_batch_size"``: sum of weighted values / number of values). Probabilities are
clipped to ``[epsilon, 1 - epsilon]`` (1e-7) as Keras does; ``from_logits=True`` uses
``log_softmax`` / a stable log-sigmoid instead, and so do probabilities that a softmax /
sigmoid just produced in a training step (TensorFlow-Keras's ``_keras_logits``).
"""

import inspect

from compiler.keras import ops
from compiler.keras.backend import epsilon, floatx, xp
from compiler.keras.ops import Tensor

__all__ = [
    "Loss",
    "LossFunctionWrapper",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError",
    "Huber",
    "LogCosh",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "BinaryCrossentropy",
    "KLDivergence",
    "Poisson",
    "Hinge",
    "SquaredHinge",
    "mean_squared_error",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "huber",
    "log_cosh",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "binary_crossentropy",
    "kl_divergence",
    "poisson",
    "hinge",
    "squared_hinge",
    "get",
    "serialize",
    "deserialize",
    "apply_mask",
]

_REDUCTIONS = ("sum_over_batch_size", "sum", "none", None, "mean", "mean_with_sample_weight")


def _pair(y_true, y_pred):
    """``y_pred`` as a float tensor (keeps its graph), ``y_true`` as a constant of its dtype."""
    y_pred = ops.as_tensor(y_pred)
    if y_pred.dtype.kind != "f":
        y_pred = ops.cast(y_pred, floatx())
    y_true = ops.as_tensor(y_true)
    if y_true.dtype != y_pred.dtype:
        y_true = ops.cast(y_true, y_pred.dtype)
    if y_true.shape != y_pred.shape:
        try:
            xp.broadcast_shapes(y_true.shape, y_pred.shape)
        except ValueError:
            raise ValueError(
                "Arguments `target` and `output` must have compatible shapes. Received: "
                f"target.shape={y_true.shape}, output.shape={y_pred.shape}"
            ) from None
    return y_true, y_pred


def _check_same_shape(y_true, y_pred, name):
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"Arguments `target` and `output` of `{name}` must have the same shape. "
            f"Received: target.shape={y_true.shape}, output.shape={y_pred.shape}"
        )


# ----------------------------------------------------------------- regression
def mean_squared_error(y_true, y_pred):
    """``mean(square(y_true - y_pred), axis=-1)``."""
    y_true, y_pred = _pair(y_true, y_pred)
    return ops.mean(ops.square(y_true - y_pred), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """``mean(abs(y_true - y_pred), axis=-1)``."""
    y_true, y_pred = _pair(y_true, y_pred)
    return ops.mean(ops.abs(y_true - y_pred), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """``100 * mean(abs((y_true - y_pred) / max(abs(y_true), epsilon)), axis=-1)``."""
    y_true, y_pred = _pair(y_true, y_pred)
    diff = ops.abs((y_true - y_pred) / ops.maximum(ops.abs(y_true), epsilon()))
    return 100.0 * ops.mean(diff, axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    """``mean(square(log(y_true + 1) - log(y_pred + 1)), axis=-1)`` with values floored at eps."""
    y_true, y_pred = _pair(y_true, y_pred)
    first = ops.log(ops.maximum(y_pred, epsilon()) + 1.0)
    second = ops.log(ops.maximum(y_true, epsilon()) + 1.0)
    return ops.mean(ops.square(first - second), axis=-1)


def huber(y_true, y_pred, delta=1.0):
    """``0.5 * e^2`` where ``|e| <= delta``, else ``delta * |e| - 0.5 * delta^2``; mean on -1."""
    y_true, y_pred = _pair(y_true, y_pred)
    error = y_pred - y_true
    abs_error = ops.abs(error)
    quadratic = 0.5 * ops.square(error)
    linear = delta * abs_error - 0.5 * delta * delta
    return ops.mean(ops.where(abs_error <= delta, quadratic, linear), axis=-1)


def log_cosh(y_true, y_pred):
    """``mean(log(cosh(y_pred - y_true)), axis=-1)``, as ``x + softplus(-2x) - log(2)``."""
    y_true, y_pred = _pair(y_true, y_pred)
    x = y_pred - y_true
    return ops.mean(x + ops.softplus(-2.0 * x) - float(xp.log(2.0)), axis=-1)


# ----------------------------------------------------------------- probabilistic
def _smooth_categorical(y_true, label_smoothing):
    if not label_smoothing:
        return y_true
    num_classes = y_true.shape[-1]
    return y_true * (1.0 - label_smoothing) + (label_smoothing / num_classes)


def _logits_of(output, primitive, axis=None):
    """The input of the softmax / sigmoid that produced ``output``, when recorded.

    Keras's TensorFlow backend (the reference) keeps these logits on the activation's output
    (``_keras_logits``) and its cross-entropies use them instead of the probabilities: no
    clipping, exact gradients however confident the model. Our autodiff graph records the
    same link while training (``output._op`` / ``output._parents``).
    """
    from compiler.keras.ops._core import PRIMITIVES

    if output._op is None or output._op is not PRIMITIVES.get(primitive):
        return None
    if axis is not None and output._ctx[1] % output.ndim != axis % output.ndim:
        return None
    return output._parents[0]


def _log_probabilities(output, from_logits, axis):
    if not from_logits:
        logits = _logits_of(output, "softmax", axis)
        if logits is not None:
            output, from_logits = logits, True
    if from_logits:
        return ops.log_softmax(output, axis=axis)
    output = output / ops.sum(output, axis=axis, keepdims=True)
    return ops.log(ops.clip(output, epsilon(), 1.0 - epsilon()))


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """``-sum(y_true * log(y_pred), axis)`` for one-hot (or soft) labels.

    Without ``from_logits`` the predictions are renormalized to sum to one and clipped to
    ``[epsilon, 1 - epsilon]`` before the log, as Keras's backends do.
    """
    if isinstance(axis, bool):
        raise ValueError(f"`axis` must be of type `int`. Received: axis={axis}")
    y_true, y_pred = _pair(y_true, y_pred)
    _check_same_shape(y_true, y_pred, "categorical_crossentropy")
    if y_pred.ndim < 1:
        raise ValueError(
            f"Expected predictions with at least 1 dimension. Received: {y_pred.shape}"
        )
    y_true = _smooth_categorical(y_true, label_smoothing)
    return -ops.sum(y_true * _log_probabilities(y_pred, from_logits, axis), axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Cross-entropy for integer labels of shape ``y_pred.shape[:-1]`` (or with a trailing 1)."""
    y_pred = ops.as_tensor(y_pred)
    if y_pred.dtype.kind != "f":
        y_pred = ops.cast(y_pred, floatx())
    labels = xp.asarray(y_true.data if isinstance(y_true, Tensor) else y_true)
    if labels.ndim == y_pred.ndim and labels.shape[-1:] == (1,):
        labels = labels[..., 0]
    if labels.shape != y_pred.shape[:-1]:
        raise ValueError(
            "Arguments `target` and `output` of `sparse_categorical_crossentropy` must have the "
            f"same shape up until the last dimension: target.shape={labels.shape}, "
            f"output.shape={y_pred.shape}"
        )
    if labels.dtype.kind == "f":
        labels = labels.astype("int64")
    valid = None
    num_classes = y_pred.shape[-1]
    if ignore_class is not None:
        valid = labels != ignore_class
        labels = xp.where(valid, labels, 0)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"Received a label value outside the valid range [0, {num_classes}) in "
            f"`sparse_categorical_crossentropy`: min={int(labels.min())}, "
            f"max={int(labels.max())}"
        )
    one_hot = (labels[..., None] == xp.arange(num_classes)).astype(y_pred.dtype)
    if axis not in (-1, y_pred.ndim - 1):
        one_hot = xp.moveaxis(one_hot, -1, axis)
    values = -ops.sum(one_hot * _log_probabilities(y_pred, from_logits, axis), axis=axis)
    if valid is not None:
        values = values * valid.astype(y_pred.dtype)
    return values


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """``mean(-(y log p + (1 - y) log(1 - p)), axis)``; stable log-sigmoid for logits."""
    y_true, y_pred = _pair(y_true, y_pred)
    _check_same_shape(y_true, y_pred, "binary_crossentropy")
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if not from_logits:
        logits = _logits_of(y_pred, "sigmoid")
        if logits is not None:
            y_pred, from_logits = logits, True
    if from_logits:
        # -log(sigmoid(x)) = softplus(-x) and -log(1 - sigmoid(x)) = softplus(x).
        values = y_true * ops.softplus(-y_pred) + (1.0 - y_true) * ops.softplus(y_pred)
    else:
        p = ops.clip(y_pred, epsilon(), 1.0 - epsilon())
        values = -(y_true * ops.log(p) + (1.0 - y_true) * ops.log(1.0 - p))
    return ops.mean(values, axis=axis)


def kl_divergence(y_true, y_pred):
    """``sum(y_true * log(y_true / y_pred), axis=-1)`` with both clipped to ``[eps, 1]``."""
    y_true, y_pred = _pair(y_true, y_pred)
    y_true = ops.clip(y_true, epsilon(), 1.0)
    y_pred = ops.clip(y_pred, epsilon(), 1.0)
    return ops.sum(y_true * ops.log(y_true / y_pred), axis=-1)


def poisson(y_true, y_pred):
    """``mean(y_pred - y_true * log(y_pred + epsilon), axis=-1)``."""
    y_true, y_pred = _pair(y_true, y_pred)
    return ops.mean(y_pred - y_true * ops.log(y_pred + epsilon()), axis=-1)


def _hinge_labels(y_true):
    data = y_true.data
    if data.size and xp.all((data == 0) | (data == 1)):
        return 2.0 * y_true - 1.0
    return y_true


def hinge(y_true, y_pred):
    """``mean(maximum(1 - y_true * y_pred, 0), axis=-1)``; 0/1 labels become -1/1."""
    y_true, y_pred = _pair(y_true, y_pred)
    return ops.mean(ops.maximum(1.0 - _hinge_labels(y_true) * y_pred, 0.0), axis=-1)


def squared_hinge(y_true, y_pred):
    """``mean(square(maximum(1 - y_true * y_pred, 0)), axis=-1)``."""
    y_true, y_pred = _pair(y_true, y_pred)
    return ops.mean(ops.square(ops.maximum(1.0 - _hinge_labels(y_true) * y_pred, 0.0)), axis=-1)


# ----------------------------------------------------------------- classes
def _squeeze_or_expand(y_true, y_pred):
    """Keras's squeeze_or_expand_to_same_rank: when the ranks differ by one and the longer
    has a trailing axis of 1, a rank-1 partner gains that axis, otherwise the axis goes."""
    t, p = y_true.ndim, y_pred.ndim
    if t == p + 1 and y_true.shape[-1] == 1:
        if p == 1:
            y_pred = ops.expand_dims(y_pred, axis=-1)
        else:
            y_true = ops.squeeze(y_true, axis=-1)
    elif p == t + 1 and y_pred.shape[-1] == 1:
        if t == 1:
            y_true = ops.expand_dims(y_true, axis=-1)
        else:
            y_pred = ops.squeeze(y_pred, axis=-1)
    return y_true, y_pred


def apply_mask(sample_weight, mask, dtype, reduction):
    """Folds a Keras mask (``y_pred._keras_mask``) into the sample weights.

    For mean reductions the valid entries are scaled by ``total / valid`` so that the sum over
    the batch divided by the number of entries is the mean over the valid entries only.
    """
    mask = xp.asarray(getattr(mask, "data", mask)).astype(dtype)
    if reduction in ("mean", "sum_over_batch_size"):
        valid = mask.sum()
        mask = mask * (mask.size / valid if valid else 0.0)
    if sample_weight is None:
        return mask
    weight = xp.asarray(getattr(sample_weight, "data", sample_weight), dtype=dtype)
    if weight.ndim == mask.ndim + 1 and weight.shape[-1] == 1:
        weight = weight[..., 0]
    while weight.ndim < mask.ndim:
        weight = weight[..., None]
    return weight * mask


def _reduce(values, sample_weight, reduction):
    if sample_weight is not None:
        weight = ops.as_tensor(
            xp.asarray(getattr(sample_weight, "data", sample_weight), dtype=values.dtype)
        )
        if weight.ndim == values.ndim + 1 and weight.shape[-1] == 1:
            weight = ops.squeeze(weight, axis=-1)
        while weight.ndim < values.ndim:
            weight = ops.expand_dims(weight, axis=-1)
        values = values * weight
    if reduction in (None, "none") or values.ndim == 0:
        return values
    total = ops.sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        denominator = float(xp.sum(weight.data)) if weight.size else 0.0
        return total * (1.0 / denominator) if denominator else total * 0.0
    return total * (1.0 / values.size) if values.size else total


class Loss:
    """Base class of losses: ``call(y_true, y_pred)`` gives per-sample values, then reduction.

    Args:
        name: the loss's name.
        reduction: ``"sum_over_batch_size"`` (default), ``"sum"``, ``"mean"``,
            ``"mean_with_sample_weight"`` or ``None`` / ``"none"``.
        dtype: computation dtype, default ``floatx()``.
    """

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in _REDUCTIONS:
            raise ValueError(
                f"Invalid value for argument `reduction`. Expected one of {_REDUCTIONS}. "
                f"Received: reduction={reduction}"
            )
        self.name = name or _snake(type(self).__name__)
        self.reduction = reduction
        self.dtype = dtype or floatx()

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.as_tensor(y_pred)
        mask = y_pred._keras_mask
        if y_pred.dtype != xp.dtype(self.dtype):
            y_pred = ops.cast(y_pred, self.dtype)
        values = self.call(y_true, y_pred)
        if mask is not None:
            sample_weight = apply_mask(sample_weight, mask, values.dtype, self.reduction)
        return _reduce(values, sample_weight, self.reduction)

    def call(self, y_true, y_pred):
        raise NotImplementedError(f"{type(self).__name__} must implement `call`.")

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class LossFunctionWrapper(Loss):
    """A ``Loss`` around a function ``fn(y_true, y_pred, **kwargs)``."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(
            name=name or getattr(fn, "__name__", None), reduction=reduction, dtype=dtype
        )
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        y_true = ops.as_tensor(y_true) if not isinstance(y_true, Tensor) else y_true
        if self.fn is not sparse_categorical_crossentropy:
            y_true, y_pred = _squeeze_or_expand(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        return {**super().get_config(), **self._fn_kwargs}

    def __repr__(self):
        return f"<LossFunctionWrapper({self.fn.__name__}, kwargs={self._fn_kwargs})>"


def _wrapper_class(class_name, fn, default_name, params, doc):
    """Builds a thin ``LossFunctionWrapper`` subclass with Keras's constructor signature."""

    def __init__(
        self, *args, reduction="sum_over_batch_size", name=default_name, dtype=None, **kwargs
    ):
        values = dict(params)
        for key, value in zip(params, args, strict=False):
            values[key] = value
        unknown = set(kwargs) - set(params)
        if unknown or len(args) > len(params):
            raise TypeError(f"{class_name}() got unexpected arguments: {sorted(unknown) or args}")
        values.update(kwargs)
        LossFunctionWrapper.__init__(
            self, fn, reduction=reduction, name=name, dtype=dtype, **values
        )
        for key, value in values.items():
            setattr(self, key, value)

    return type(class_name, (LossFunctionWrapper,), {"__init__": __init__, "__doc__": doc})


MeanSquaredError = _wrapper_class(
    "MeanSquaredError",
    mean_squared_error,
    "mean_squared_error",
    {},
    "Mean of squares of errors: ``mean(square(y_true - y_pred))``.",
)
MeanAbsoluteError = _wrapper_class(
    "MeanAbsoluteError",
    mean_absolute_error,
    "mean_absolute_error",
    {},
    "Mean of absolute errors: ``mean(abs(y_true - y_pred))``.",
)
MeanAbsolutePercentageError = _wrapper_class(
    "MeanAbsolutePercentageError",
    mean_absolute_percentage_error,
    "mean_absolute_percentage_error",
    {},
    "``100 * mean(abs((y_true - y_pred) / y_true))``.",
)
MeanSquaredLogarithmicError = _wrapper_class(
    "MeanSquaredLogarithmicError",
    mean_squared_logarithmic_error,
    "mean_squared_logarithmic_error",
    {},
    "``mean(square(log(y_true + 1) - log(y_pred + 1)))``.",
)
Huber = _wrapper_class(
    "Huber",
    huber,
    "huber_loss",
    {"delta": 1.0},
    "Huber loss: quadratic for errors below ``delta``, linear above.",
)
LogCosh = _wrapper_class(
    "LogCosh", log_cosh, "log_cosh", {}, "Logarithm of the hyperbolic cosine of the error."
)
CategoricalCrossentropy = _wrapper_class(
    "CategoricalCrossentropy",
    categorical_crossentropy,
    "categorical_crossentropy",
    {"from_logits": False, "label_smoothing": 0.0, "axis": -1},
    "Cross-entropy between one-hot labels and predicted probabilities (or logits).\n\n"
    "Args:\n    from_logits: whether ``y_pred`` are logits.\n    label_smoothing: float in "
    "[0, 1].\n    axis: the class axis.\n    reduction: see ``Loss``.\n    name: the name.",
)
SparseCategoricalCrossentropy = _wrapper_class(
    "SparseCategoricalCrossentropy",
    sparse_categorical_crossentropy,
    "sparse_categorical_crossentropy",
    {"from_logits": False, "ignore_class": None},
    "Cross-entropy between integer labels and predicted probabilities (or logits).",
)
BinaryCrossentropy = _wrapper_class(
    "BinaryCrossentropy",
    binary_crossentropy,
    "binary_crossentropy",
    {"from_logits": False, "label_smoothing": 0.0, "axis": -1},
    "Cross-entropy between 0/1 labels and predicted probabilities (or logits).",
)
KLDivergence = _wrapper_class(
    "KLDivergence",
    kl_divergence,
    "kl_divergence",
    {},
    "Kullback-Leibler divergence ``sum(y_true * log(y_true / y_pred))``.",
)
Poisson = _wrapper_class(
    "Poisson", poisson, "poisson", {}, "Poisson loss ``mean(y_pred - y_true * log(y_pred))``."
)
Hinge = _wrapper_class(
    "Hinge", hinge, "hinge", {}, "Hinge loss ``mean(maximum(1 - y_true * y_pred, 0))``."
)
SquaredHinge = _wrapper_class(
    "SquaredHinge",
    squared_hinge,
    "squared_hinge",
    {},
    "Squared hinge loss ``mean(square(maximum(1 - y_true * y_pred, 0)))``.",
)

_CLASSES = [
    Loss,
    LossFunctionWrapper,
    MeanSquaredError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    Huber,
    LogCosh,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    BinaryCrossentropy,
    KLDivergence,
    Poisson,
    Hinge,
    SquaredHinge,
]
_FUNCTIONS = [
    mean_squared_error,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_logarithmic_error,
    huber,
    log_cosh,
    categorical_crossentropy,
    sparse_categorical_crossentropy,
    binary_crossentropy,
    kl_divergence,
    poisson,
    hinge,
    squared_hinge,
]
_BY_NAME = {obj.__name__: obj for obj in _CLASSES + _FUNCTIONS}
_BY_NAME.update(
    {
        "bce": binary_crossentropy,
        "BCE": binary_crossentropy,
        "kld": kl_divergence,
        "KLD": kl_divergence,
        "mae": mean_absolute_error,
        "MAE": mean_absolute_error,
        "mse": mean_squared_error,
        "MSE": mean_squared_error,
        "mape": mean_absolute_percentage_error,
        "MAPE": mean_absolute_percentage_error,
        "msle": mean_squared_logarithmic_error,
        "MSLE": mean_squared_logarithmic_error,
    }
)


def get(identifier):
    """Returns a loss function or ``Loss`` instance for a name, config dict, class or callable."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = _BY_NAME.get(identifier)
        if obj is None:
            raise ValueError(
                f"Could not interpret loss identifier: {identifier!r}. Valid loss names: "
                f"{sorted(n for n in _BY_NAME if n not in ('Loss', 'LossFunctionWrapper'))}"
            )
    else:
        obj = identifier
    if inspect.isclass(obj):
        obj = obj()
    if not callable(obj):
        raise ValueError(f"Could not interpret loss identifier: {identifier!r}")
    return obj


def serialize(loss):
    """Keras 3's serialized form: a function by name, a ``Loss`` as a class config dict."""
    if loss is None or isinstance(loss, str):
        return loss
    if isinstance(loss, Loss):
        if type(loss).__name__ not in _BY_NAME:
            raise ValueError(f"Cannot serialize custom loss {loss!r}")
        return {
            "module": "keras.losses",
            "class_name": type(loss).__name__,
            "config": loss.get_config(),
            "registered_name": None,
        }
    name = getattr(loss, "__name__", None)
    if name in _BY_NAME:
        return {
            "module": "builtins",
            "class_name": "function",
            "config": name,
            "registered_name": "function",
        }
    raise ValueError(f"Cannot serialize loss {loss!r}: not a Keras loss")


def deserialize(config, custom_objects=None):
    """Inverse of ``serialize``; also accepts a plain name."""
    if config is None or callable(config):
        return config
    if isinstance(config, str):
        return get(config)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret serialized loss: {config!r}")
    custom = custom_objects or {}
    if config["class_name"] == "function":
        name = config["config"]
        obj = custom.get(name) or _BY_NAME.get(name)
        if obj is None:
            raise ValueError(f"Unknown loss function: {name!r}. Valid: {sorted(_BY_NAME)}")
        return obj
    cls = custom.get(config["class_name"]) or _BY_NAME.get(config["class_name"])
    if cls is None or not inspect.isclass(cls):
        raise ValueError(
            f"Unknown loss class: {config['class_name']!r}. Valid: "
            f"{sorted(c.__name__ for c in _CLASSES)}"
        )
    return cls.from_config(dict(config.get("config") or {}))


def _snake(name):
    import re

    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()
