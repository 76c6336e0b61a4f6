"""What ``Model.compile`` builds: the per-output losses and metrics, resolved on the first batch.

Follows Keras 3's ``trainers/compile_utils.py``: ``loss`` / ``metrics`` may be one entry, a list
(one entry per output) or a dict keyed by output name; ``"accuracy"`` / ``"acc"`` (and the loss
``"crossentropy"`` / ``"ce"``) become the binary, sparse or categorical variant from the shapes
of the labels and the predictions; with several outputs, metric names get the output name as a
prefix (``"cls_accuracy"``) and each loss gets a ``"<output>_loss"`` tracker.
"""

from compiler.keras import losses as losses_module
from compiler.keras import metrics as metrics_module

__all__ = ["CompileLoss", "CompileMetrics"]


def _shape_kind(y_true, y_pred):
    t_rank, p_rank = len(y_true.shape), len(y_pred.shape)
    t_last = y_true.shape[-1] if t_rank else None
    p_last = y_pred.shape[-1] if p_rank else None
    is_binary = p_last == 1
    is_sparse = t_rank < p_rank or (t_last == 1 and p_last is not None and p_last > 1)
    return is_binary, is_sparse


def get_metric(identifier, y_true, y_pred):
    if identifier is None:
        return None
    if str(identifier).lower() in ("accuracy", "acc"):
        is_binary, is_sparse = _shape_kind(y_true, y_pred)
        if is_binary:
            metric = metrics_module.BinaryAccuracy(name=str(identifier))
        elif is_sparse:
            metric = metrics_module.SparseCategoricalAccuracy(name=str(identifier))
        else:
            metric = metrics_module.CategoricalAccuracy(name=str(identifier))
    else:
        metric = metrics_module.get(identifier)
    if not isinstance(metric, metrics_module.Metric):
        metric = metrics_module.MeanMetricWrapper(metric)
    if isinstance(identifier, str):
        metric.name = identifier
    return metric


def get_loss(identifier, y_true, y_pred):
    if identifier is None:
        return None
    if str(identifier).lower() in ("crossentropy", "ce"):
        is_binary, is_sparse = _shape_kind(y_true, y_pred)
        if is_binary:
            loss = losses_module.binary_crossentropy
        elif is_sparse:
            loss = losses_module.sparse_categorical_crossentropy
        else:
            loss = losses_module.categorical_crossentropy
    else:
        loss = losses_module.get(identifier)
    if not isinstance(loss, losses_module.Loss):
        name = identifier if isinstance(identifier, str) else getattr(loss, "__name__", None)
        loss = losses_module.LossFunctionWrapper(loss, name=name)
    return loss


def _per_output(value, output_names, argument):
    """One entry per output from a single value, a list or a dict keyed by output name."""
    n = len(output_names)
    if isinstance(value, dict):
        unknown = [k for k in value if k not in output_names]
        if unknown:
            raise ValueError(
                f"In the dict argument `{argument}`, key(s) {unknown} do not correspond to any "
                f"model output. Model outputs: {output_names}. Received: {argument}={value}"
            )
        return [value.get(name) for name in output_names]
    if isinstance(value, (list, tuple)):
        if n == 1:
            return [list(value) if argument.endswith("metrics") else _single(value, argument)]
        if len(value) != n:
            raise ValueError(
                f"For a model with multiple outputs, when providing the `{argument}` argument as "
                f"a list, it should have as many entries as the model has outputs. Received: "
                f"{argument}={value} of length {len(value)} whereas the model has {n} outputs."
            )
        return list(value)
    if argument.endswith("metrics") and value is not None and n > 1:
        raise ValueError(
            f"Expected `{argument}` argument to be a list, tuple, or dict. Received instead: "
            f"{argument}={value!r} of type {type(value)}"
        )
    return [value] * n


def _single(value, argument):
    if len(value) != 1:
        raise ValueError(
            f"The model has a single output but `{argument}` is a list of {len(value)} entries: "
            f"{value}"
        )
    return value[0]


class CompileLoss:
    """The total loss: the sum of each output's loss times its weight."""

    def __init__(self, loss, loss_weights=None, output_names=None):
        if loss_weights is not None and not isinstance(
            loss_weights, (list, tuple, dict, float, int)
        ):
            raise ValueError(
                "Expected `loss_weights` argument to be a float (single output case) or a list, "
                f"tuple, or dict (multiple output case). Received instead: "
                f"loss_weights={loss_weights} of type {type(loss_weights)}"
            )
        self._user_loss = loss
        self._user_loss_weights = loss_weights
        self.output_names = list(output_names or [])
        self.built = False
        self.metrics = []
        self._losses = []
        # Resolve names now: an unknown loss name fails in compile(), as in Keras.
        for entry in _flatten(loss):
            if isinstance(entry, str) and entry.lower() not in ("crossentropy", "ce"):
                losses_module.get(entry)

    def build(self, y_true, y_pred):
        names = self.output_names or [f"output_{i}" for i in range(len(y_pred))]
        per_loss = _per_output(self._user_loss, names, "loss")
        weights = self._user_loss_weights
        if weights is None or isinstance(weights, (int, float)):
            per_weight = [weights] * len(names)
        else:
            per_weight = _per_output(weights, names, "loss_weights")
        self._losses = []
        for i, (name, loss, weight) in enumerate(zip(names, per_loss, per_weight, strict=True)):
            if loss is not None:
                self._losses.append((i, name, get_loss(loss, y_true[i], y_pred[i]), weight))
        if not self._losses:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
        if len(self._losses) > 1:
            self.metrics = [
                metrics_module.Mean(name=f"{name}_loss") for _, name, _, _ in self._losses
            ]
        self.built = True

    def __call__(self, y_true, y_pred, sample_weight=None):
        """``y_true`` / ``y_pred`` / ``sample_weight``: lists in output order."""
        if not self.built:
            self.build(y_true, y_pred)
        total = None
        trackers = self.metrics or [None] * len(self._losses)
        for (i, _, loss, weight), tracker in zip(self._losses, trackers, strict=True):
            weights = sample_weight[i] if sample_weight is not None else None
            value = loss(y_true[i], y_pred[i], weights)
            if tracker is not None:
                tracker.update_state(value.data, sample_weight=int(y_pred[i].shape[0]))
            if weight is not None:
                value = value * float(weight)
            total = value if total is None else total + value
        return total


class CompileMetrics:
    """The metrics given to ``compile``, one ``MetricsList`` per output."""

    def __init__(self, metrics, weighted_metrics, output_names=None):
        for argument, value in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if value and not isinstance(value, (list, tuple, dict)):
                raise ValueError(
                    f"Expected `{argument}` argument to be a list, tuple, or dict. Received "
                    f"instead: {argument}={value!r} of type {type(value)}"
                )
            for entry in _flatten(value):
                if isinstance(entry, str) and entry.lower() not in ("accuracy", "acc"):
                    metrics_module.get(entry)
        self._user_metrics = metrics
        self._user_weighted_metrics = weighted_metrics
        self.output_names = list(output_names or [])
        self.built = False
        self._flat = []
        self._flat_weighted = []

    @property
    def metrics(self):
        return [m for group in self._flat + self._flat_weighted for m in group[1]]

    def build(self, y_true, y_pred):
        names = self.output_names or [f"output_{i}" for i in range(len(y_pred))]
        self._flat = self._build_set(self._user_metrics, names, y_true, y_pred, "metrics")
        self._flat_weighted = self._build_set(
            self._user_weighted_metrics, names, y_true, y_pred, "weighted_metrics"
        )
        self.built = True

    def _build_set(self, metrics, names, y_true, y_pred, argument):
        if not metrics:
            return []
        if len(names) == 1:
            if isinstance(metrics, dict):
                _per_output(metrics, names, argument)  # validates the keys
            flat = _flatten(metrics)
            return [(0, [get_metric(m, y_true[0], y_pred[0]) for m in flat if m is not None], None)]
        groups = []
        for i, entry in enumerate(_per_output(metrics, names, argument)):
            if entry is None:
                continue
            entries = entry if isinstance(entry, (list, tuple)) else [entry]
            groups.append((i, [get_metric(m, y_true[i], y_pred[i]) for m in entries], names[i]))
        return groups

    def update_state(self, y_true, y_pred, sample_weight=None):
        if not self.built:
            self.build(y_true, y_pred)
        for i, group, _ in self._flat:
            for metric in group:
                metric.update_state(y_true[i], y_pred[i])
        for i, group, _ in self._flat_weighted:
            weights = sample_weight[i] if sample_weight is not None else None
            for metric in group:
                metric.update_state(y_true[i], y_pred[i], sample_weight=weights)

    def reset_state(self):
        for metric in self.metrics:
            metric.reset_state()

    def result(self):
        results, seen = {}, {}
        for weighted, groups in ((False, self._flat), (True, self._flat_weighted)):
            for _, group, output_name in groups:
                for metric in group:
                    name = f"{output_name}_{metric.name}" if output_name else metric.name
                    if name in seen and weighted:
                        base = f"weighted_{metric.name}"
                        name = f"{output_name}_{base}" if output_name else base
                    if name in seen:
                        seen[name] += 1
                        name = f"{name}_{seen[name] - 1}"
                    else:
                        seen[name] = 1
                    results[name] = metric.result()
        return results


def _flatten(value):
    if isinstance(value, dict):
        return [x for v in value.values() for x in _flatten(v)]
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _flatten(v)]
    return [value]
