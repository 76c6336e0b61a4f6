"""NON_MAX_SUPPRESSION_V4 and NON_MAX_SUPPRESSION_V5 (float32): greedy (V4) and soft (V5,
Gaussian) non-max suppression on one class.

References: ``tflite/kernels/non_max_suppression.cc`` and
``reference/non_max_suppression.h``. Inputs: boxes [N, 4] (two corners, in either order),
scores [N], max_output_size, iou_threshold, score_threshold (and V5's soft_nms_sigma), scalars.
Candidates above the score threshold sit in a ``std::priority_queue`` ordered by score; the best
is compared with the boxes selected since it was last looked at, newest first: an IoU at or
above the threshold drops it, otherwise (V5) its score decays by ``exp(-0.5 / sigma * iou^2)``
and, once decayed, it goes back to the queue. A candidate whose score did not change is
selected. The queue is a binary heap with libstdc++'s push_heap/pop_heap, reproduced here so
that equal scores come out in LiteRT's order. Outputs: the selected indices (and V5's scores),
zero-padded to max_output_size, and their count.
"""

from __future__ import annotations

import numpy as np

from runtime.tflite.kernels import _common as c


class _Heap:
    """``std::priority_queue`` of [score, index, suppress_begin] lists (max-heap on score)
    with libstdc++'s sift-up and sift-down, so that ties pop in the same order."""

    def __init__(self):
        self.items: list[list] = []

    def push(self, item) -> None:
        a = self.items
        a.append(item)
        self._sift_up(len(a) - 1, 0, item)

    def _sift_up(self, hole: int, top: int, value) -> None:
        a = self.items
        parent = (hole - 1) // 2
        while hole > top and a[parent][0] < value[0]:
            a[hole] = a[parent]
            hole = parent
            parent = (hole - 1) // 2
        a[hole] = value

    def pop(self):
        a = self.items
        top = a[0]
        last = a.pop()
        n = len(a)
        if n == 0:
            return top
        # __adjust_heap from the root over the remaining n items, then push ``last`` up.
        hole, child = 0, 0
        while child < (n - 1) // 2:
            child = 2 * (child + 1)
            if a[child][0] < a[child - 1][0]:
                child -= 1
            a[hole] = a[child]
            hole = child
        if n % 2 == 0 and child == (n - 2) // 2:
            child = 2 * (child + 1)
            a[hole] = a[child - 1]
            hole = child - 1
        self._sift_up(hole, 0, last)
        return top

    def __len__(self) -> int:
        return len(self.items)


def _iou(boxes, i: int, j: int) -> np.float32:
    """``ComputeIntersectionOverUnion`` in float32 (corners in either order)."""
    bi, bj = boxes[i], boxes[j]
    yi0, yi1 = min(bi[0], bi[2]), max(bi[0], bi[2])
    xi0, xi1 = min(bi[1], bi[3]), max(bi[1], bi[3])
    yj0, yj1 = min(bj[0], bj[2]), max(bj[0], bj[2])
    xj0, xj1 = min(bj[1], bj[3]), max(bj[1], bj[3])
    area_i = (yi1 - yi0) * (xi1 - xi0)
    area_j = (yj1 - yj0) * (xj1 - xj0)
    if area_i <= 0 or area_j <= 0:
        return np.float32(0)
    inter = max(min(yi1, yj1) - max(yi0, yj0), np.float32(0)) * max(
        min(xi1, xj1) - max(xi0, xj0), np.float32(0)
    )
    return inter / (area_i + area_j - inter)


def _suppress(boxes, scores, limit, iou_threshold, score_threshold, sigma):
    heap = _Heap()
    for i, s in enumerate(scores.tolist()):
        if np.float32(s) > score_threshold:
            heap.push([np.float32(s), i, 0])
    outputs = min(len(heap), limit)
    scale = np.float32(-0.5) / sigma if sigma > 0 else np.float32(0)
    selected: list[int] = []
    selected_scores: list[np.float32] = []
    while len(selected) < outputs and len(heap):
        cand = heap.pop()
        original = cand[0]
        hard = False
        for j in range(len(selected) - 1, cand[2] - 1, -1):
            iou = _iou(boxes, cand[1], selected[j])
            if iou >= iou_threshold:
                hard = True
                break
            if sigma > 0:
                cand[0] = np.float32(cand[0] * np.exp(np.float32(scale * iou * iou)))
            if cand[0] <= score_threshold:
                break
        cand[2] = len(selected)
        if not hard:
            if cand[0] == original:
                selected.append(cand[1])
                selected_scores.append(cand[0])
            if cand[0] > score_threshold:
                heap.push(cand)
    return selected, selected_scores


def _prepare(ctx: c.OpContext, v5: bool) -> c.Eval:
    n_in = 6 if v5 else 5
    ctx.check_arity(n_in, 3 if v5 else 2)
    ctx.require_types((c.F32,), inputs=(0, 1), outputs=())
    if (
        ctx.in_type(2) != c.I32
        or ctx.out_type(0) != c.I32
        or ctx.out_type(len(ctx.outputs) - 1) != c.I32
    ):
        raise ctx.fail("max_output_size, selected_indices and valid_outputs must be int32")
    for k in range(3, n_in):
        if ctx.in_type(k) != c.F32:
            raise ctx.fail(f"input {k} must be a float32 scalar")
    if v5 and ctx.out_type(1) != c.F32:
        raise ctx.fail("selected_scores must be float32")

    def run(boxes, scores, max_size, iou, score, *sigma):
        if boxes.ndim != 2 or boxes.shape[1] != 4 or scores.shape != (boxes.shape[0],):
            raise ctx.fail(
                f"boxes {list(boxes.shape)} and scores {list(scores.shape)} do not agree"
            )
        for name, v in (
            ("max_output_size", max_size),
            ("iou_threshold", iou),
            ("score_threshold", score),
        ):
            if v.size != 1:
                raise ctx.fail(f"{name} must be a scalar")
        limit = int(max_size.ravel()[0])
        if limit < 0:
            raise ctx.fail(f"max_output_size {limit} is negative")
        c.check_alloc(ctx, (limit,), "selected_indices")
        s = np.float32(sigma[0].ravel()[0]) if sigma else np.float32(0)
        if sigma and (sigma[0].size != 1 or not s >= 0):
            raise ctx.fail("soft_nms_sigma must be a non-negative scalar")
        iou_t, score_t = np.float32(iou.ravel()[0]), np.float32(score.ravel()[0])
        if not 0 <= iou_t <= 1:
            raise ctx.fail(f"iou_threshold {iou_t} must be in [0, 1]")
        chosen, chosen_scores = _suppress(
            boxes.astype(np.float32), scores, limit, iou_t, score_t, s
        )
        indices = np.zeros(limit, np.int32)
        indices[: len(chosen)] = chosen
        count = np.array(len(chosen), np.int32)
        if not v5:
            return [indices, count]
        values = np.zeros(limit, np.float32)
        values[: len(chosen)] = chosen_scores
        return [indices, values, count]

    return run


def prepare_v4(ctx: c.OpContext) -> c.Eval:
    return _prepare(ctx, v5=False)


def prepare_v5(ctx: c.OpContext) -> c.Eval:
    return _prepare(ctx, v5=True)
