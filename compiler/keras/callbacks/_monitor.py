"""Shared by EarlyStopping and ModelCheckpoint: which direction of a monitored value is better."""

import operator

__all__ = ["monitor_op"]


def monitor_op(callback_name, monitor, mode, model):
    """``operator.lt`` (smaller is better) or ``operator.gt`` for ``monitor`` under ``mode``."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(
            f"{callback_name} mode {mode!r} is unknown. Expected one of 'auto', 'min', 'max'."
        )
    if mode == "min":
        return operator.lt
    if mode == "max":
        return operator.gt
    name = monitor.removeprefix("val_")
    if name == "loss" or name.endswith("_loss"):
        return operator.lt
    for metric in _model_metrics(model):
        if metric.name == name or name.endswith("_" + metric.name):
            direction = getattr(metric, "_direction", None)
            if direction == "up":
                return operator.gt
            if direction == "down":
                return operator.lt
    if "acc" in name or name.startswith("fmeasure") or "auc" in name:
        return operator.gt
    raise ValueError(
        f"{callback_name} callback received monitor={monitor!r} but Keras isn't able to "
        f"automatically determine whether that metric should be maximized or minimized. "
        f"Pass `mode='max'` in order to do early stopping based on the highest metric value, "
        f"or pass `mode='min'` in order to use the lowest value."
    )


def _model_metrics(model):
    compile_metrics = getattr(model, "_compile_metrics", None)
    return compile_metrics.metrics if compile_metrics is not None else []
