"""NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (onnx.ai/onnx/operators, opsets 12,
13, 22), as inference graphs exported from training code carry them.

NLL: ``loss[n, d...] = -weight[c] * input[n, c, d...]`` with ``c = target[n, d...]``; a target
equal to ``ignore_index`` contributes 0 and weighs 0. Reduction ``none`` keeps the
per-element losses, ``sum`` adds them, ``mean`` divides the sum by the total weight of the
targets not ignored (by their count without ``weight``). SoftmaxCrossEntropyLoss is NLL of
``log_prob = LogSoftmax(scores, axis=1)``, which is its optional second output.
"""

import numpy as np

from runtime.errors import InvalidInputError, InvalidModelError


def NegativeLogLikelihoodLoss(input, target, weight=None, *, ignore_index=None, reduction="mean"):
    return _nll(input, target, weight, ignore_index, reduction, "NegativeLogLikelihoodLoss")


def SoftmaxCrossEntropyLoss(scores, labels, weights=None, *, ignore_index=None, reduction="mean"):
    op = "SoftmaxCrossEntropyLoss"
    if scores.ndim < 2:
        raise InvalidModelError(f"{op}: scores {list(scores.shape)} must be [N, C, ...]")
    x = scores.astype(np.float64 if scores.dtype == np.float64 else np.float32)
    shifted = x - x.max(axis=1, keepdims=True)
    log_prob = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = _nll(log_prob, labels, weights, ignore_index, reduction, op)
    return loss.astype(scores.dtype), log_prob.astype(scores.dtype)


def _nll(x, target, weight, ignore_index, reduction, op):
    if reduction not in ("none", "sum", "mean"):
        raise InvalidModelError(f"{op}: reduction {reduction!r}; expected none, sum or mean")
    if x.ndim < 2 or target.shape != (x.shape[0], *x.shape[2:]):
        raise InvalidModelError(
            f"{op}: input {list(x.shape)} and target {list(target.shape)}; expected [N, C, d...] "
            "and [N, d...]"
        )
    classes = x.shape[1]
    if weight is not None and weight.shape != (classes,):
        raise InvalidModelError(f"{op}: weight {list(weight.shape)}; expected [{classes}]")
    target = target.astype(np.int64)
    ignored = target == ignore_index if ignore_index is not None else np.zeros(target.shape, bool)
    bad = ~ignored & ((target < 0) | (target >= classes))
    if bad.any():
        raise InvalidInputError(f"{op}: a target lies outside [0, {classes}): {target[bad][0]}")
    safe = np.where(ignored, 0, target)
    picked = np.take_along_axis(x, safe[:, None], axis=1)[:, 0]
    w = np.ones(target.shape, x.dtype) if weight is None else weight[safe].astype(x.dtype)
    w = np.where(ignored, x.dtype.type(0), w)
    loss = -picked * w
    if reduction == "none":
        return loss.astype(x.dtype)
    if reduction == "sum":
        return np.asarray(loss.sum(), dtype=x.dtype)
    if weight is None and ignore_index is None:  # an empty batch averages to 0 (onnxruntime)
        return np.asarray(loss.mean() if loss.size else 0, dtype=x.dtype)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(loss.sum() / w.sum(), dtype=x.dtype)
