"""``Mean``, ``Sum`` and ``MeanMetricWrapper`` (a per-sample function averaged over batches)."""

from compiler.keras.backend import xp
from compiler.keras.metrics.metric import Metric

__all__ = ["Mean", "Sum", "MeanMetricWrapper", "as_array"]


def as_array(value, dtype=None):
    """Plain array of a tensor, array or number (metrics never record gradients)."""
    value = getattr(value, "data", value)
    return xp.asarray(value) if dtype is None else xp.asarray(value, dtype=dtype)


def _samplewise(values, sample_weight, dtype):
    """Keras's reduce_to_samplewise_values with mean: one value (and weight) per sample."""
    values = as_array(values, dtype)
    if sample_weight is not None:
        weight = as_array(sample_weight, dtype)
        if weight.ndim == values.ndim + 1 and weight.shape[-1] == 1:
            weight = weight[..., 0]
        elif values.ndim == weight.ndim + 1 and values.shape[-1] == 1:
            values = values[..., 0]
        if values.ndim > weight.ndim:
            values = values.mean(axis=tuple(range(weight.ndim, values.ndim)))
        weight = xp.broadcast_to(weight, values.shape)
        values = values * weight
        if weight.ndim > 1:
            weight = weight.mean(axis=tuple(range(1, weight.ndim)))
        sample_weight = weight
    if values.ndim > 1:
        values = values.mean(axis=tuple(range(1, values.ndim)))
    return values, sample_weight


class Sum(Metric):
    """The (weighted) sum of the values seen."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(name="total")

    def update_state(self, values, sample_weight=None):
        values, _ = _samplewise(values, sample_weight, self.dtype)
        self.total.assign(self.total.data + values.sum(dtype=self.dtype))

    def result(self):
        return self.total.data.copy()


class Mean(Metric):
    """The (weighted) mean of the values seen: ``total / count``."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(name="total")
        self.count = self.add_variable(name="count")

    def update_state(self, values, sample_weight=None):
        if isinstance(sample_weight, (int, float)) and as_array(values).ndim == 0:
            # The loss tracker's path: a scalar batch loss weighted by the batch size.
            value = as_array(values, self.dtype)
            self.total.assign(self.total.data + value * xp.asarray(sample_weight, self.dtype))
            self.count.assign(self.count.data + xp.asarray(sample_weight, self.dtype))
            return
        values, weight = _samplewise(values, sample_weight, self.dtype)
        self.total.assign(self.total.data + values.sum(dtype=self.dtype))
        if weight is not None:
            count = weight.sum(dtype=self.dtype)
        else:
            count = values.shape[0] if values.ndim >= 1 else 1
        self.count.assign(self.count.data + xp.asarray(count, self.dtype))

    def result(self):
        count = self.count.data
        if count == 0:
            return xp.zeros((), self.dtype)
        return (self.total.data / count).astype(self.dtype)


class MeanMetricWrapper(Mean):
    """Averages a per-sample function ``fn(y_true, y_pred, **kwargs)`` over all samples.

    Args:
        fn: the function, returning one value per sample (or per element).
        name: the metric's name.
        dtype: dtype of the result.
        **kwargs: passed on to ``fn``.
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", None), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs
        from compiler.keras import losses

        if getattr(fn, "__name__", None) in losses._BY_NAME and fn in losses._FUNCTIONS:
            self._direction = "down"

    def update_state(self, y_true, y_pred, sample_weight=None):
        mask = getattr(y_pred, "_keras_mask", None)
        values = self._fn(as_array(y_true), as_array(y_pred), **self._fn_kwargs)
        if mask is not None:
            from compiler.keras.losses import apply_mask

            # Masked steps weigh nothing; unlike a loss, no rescaling (Keras: reduction="sum").
            sample_weight = apply_mask(sample_weight, mask, self.dtype, "sum")
        return super().update_state(values, sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(), **self._fn_kwargs}
