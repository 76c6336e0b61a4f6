"""NonMaxSuppression (onnx.ai/onnx/operators/onnx__NonMaxSuppression.html).

Per batch and class: boxes scoring above ``score_threshold`` are taken in decreasing score
(ties: the lower box index first), and each taken box suppresses the remaining ones whose IoU
with it exceeds ``iou_threshold``. Corner boxes may list their corners in either order. Each
box taken is one turn of a loop and is charged to the run's loop budget (one more per
_BOXES_PER_TURN boxes it is compared with), so a hostile box count cannot make the quadratic
part run unbounded.
"""

import numpy as np

from runtime._budget import active
from runtime.errors import InvalidModelError

# Boxes compared in one charged loop turn: real detectors compare a taken box with at most a
# few thousand candidates (one turn each); a million boxes cost a turn per 64 Ki compared.
_BOXES_PER_TURN = 1 << 16


def _scalar(value, default, cast, what):
    if value is None or value.size == 0:
        return default
    if value.size != 1:
        raise InvalidModelError(f"NonMaxSuppression: {what} must hold one value")
    return cast(value.reshape(-1)[0])


def _corners(boxes, center_point_box):
    if center_point_box == 0:
        y1, x1, y2, x2 = np.moveaxis(boxes.astype(np.float64), -1, 0)
        return np.minimum(y1, y2), np.minimum(x1, x2), np.maximum(y1, y2), np.maximum(x1, x2)
    if center_point_box == 1:
        xc, yc, w, h = np.moveaxis(boxes.astype(np.float64), -1, 0)
        return yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2
    raise InvalidModelError(
        f"NonMaxSuppression: center_point_box must be 0 or 1; received {center_point_box}"
    )


def NonMaxSuppression(
    boxes,
    scores,
    max_output_boxes_per_class=None,
    iou_threshold=None,
    score_threshold=None,
    *,
    center_point_box=0,
):
    if boxes.ndim != 3 or boxes.shape[2] != 4 or scores.ndim != 3:
        raise InvalidModelError(
            f"NonMaxSuppression: boxes {list(boxes.shape)} must be [batch, boxes, 4] and scores "
            f"{list(scores.shape)} [batch, classes, boxes]"
        )
    if scores.shape[0] != boxes.shape[0] or scores.shape[2] != boxes.shape[1]:
        raise InvalidModelError(
            f"NonMaxSuppression: boxes {list(boxes.shape)} and scores {list(scores.shape)} differ "
            "in batch or box count"
        )
    limit = max(_scalar(max_output_boxes_per_class, 0, int, "max_output_boxes_per_class"), 0)
    iou_max = _scalar(iou_threshold, 0.0, float, "iou_threshold")
    if not 0.0 <= iou_max <= 1.0:
        raise InvalidModelError(f"NonMaxSuppression: iou_threshold {iou_max} is not in [0, 1]")
    score_min = _scalar(score_threshold, None, float, "score_threshold")
    y1, x1, y2, x2 = _corners(boxes, center_point_box)
    area = (y2 - y1) * (x2 - x1)
    budget = active()
    selected = []
    for b in range(boxes.shape[0]):
        for c in range(scores.shape[1]):
            s = scores[b, c].astype(np.float64)
            candidates = np.arange(s.size) if score_min is None else np.flatnonzero(s > score_min)
            # Decreasing score, lower index first among equals (a stable sort of -score).
            candidates = candidates[np.argsort(-s[candidates], kind="stable")]
            taken = 0
            while candidates.size and taken < limit:
                i, rest = candidates[0], candidates[1:]
                for _ in range(1 + rest.size // _BOXES_PER_TURN):
                    budget.iterate("NonMaxSuppression")
                selected.append((b, c, i))
                taken += 1
                inter_h = np.minimum(y2[b, i], y2[b, rest]) - np.maximum(y1[b, i], y1[b, rest])
                inter_w = np.minimum(x2[b, i], x2[b, rest]) - np.maximum(x1[b, i], x1[b, rest])
                inter = np.maximum(inter_h, 0) * np.maximum(inter_w, 0)
                union = area[b, i] + area[b, rest] - inter
                with np.errstate(invalid="ignore", divide="ignore"):
                    iou = np.where(
                        (area[b, i] > 0) & (area[b, rest] > 0) & (union > 0), inter / union, 0.0
                    )
                candidates = rest[~(iou > iou_max)]
    return np.asarray(selected, dtype=np.int64).reshape(-1, 3)
