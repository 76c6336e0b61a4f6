"""TFLite_Detection_PostProcess: the SSD box decoder and non-max suppression that LiteRT's
resolvers ship as a custom op (float32 or uint8 inputs).

Reference: ``tflite/kernels/detection_postprocess.cc``. Options are a flexbuffer map:
max_detections, max_classes_per_detection, detections_per_class (default 100),
use_regular_nms (default false), nms_score_threshold, nms_iou_threshold, num_classes and the
y/x/h/w scales. Inputs: box encodings [1, N, >=4] (y, x, h, w), class scores [1, N, C or C+1]
(a leading background column is skipped), anchors [N, 4] (y, x, h, w). Each box is decoded in
double and stored as float32 corners: center = enc / scale * anchor_size + anchor_center,
half size = 0.5 * exp(enc / scale) * anchor_size. uint8 inputs are dequantized in float32.

Non-max suppression on one score column keeps the scores >= the threshold, visits them by
decreasing score (a stable sort), selects a box unless an already selected one overlaps it by
an IoU (float32, in the kernel's order of operations) above the IoU threshold, and stops at
the allowed count. Fast mode suppresses on each box's best class score and reports its
max_classes_per_detection best classes; regular mode runs per class (at most
min(detections_per_class, max_detections) each) and keeps the best max_detections of all,
merged stably by score. Outputs: boxes [1, D, 4], classes [1, D], scores [1, D] and the number
of detections [1], D = max_detections * max_classes_per_detection. Slots past the detections
are 0 here (LiteRT leaves the fast mode's unwritten). Ties between a box's class scores in fast
mode with several classes per detection are ordered stably here; LiteRT's partial_sort leaves
their order to the C++ library.
"""

from __future__ import annotations

import numpy as np
from flatbuffers import flexbuffers

from runtime.tflite.kernels import _common as c

_OUTPUT_NAMES = ("boxes", "classes", "scores", "num_detections")


def _options(ctx: c.OpContext) -> dict:
    raw = ctx.op.custom_options
    try:
        options = flexbuffers.Loads(raw) if raw else None
    except Exception as e:  # any failure to decode the file's bytes is the file's fault
        raise ctx.fail(f"custom_options are not a flexbuffer map ({type(e).__name__})") from None
    if not isinstance(options, dict):
        raise ctx.fail("custom_options must be a flexbuffer map")

    def number(key, kind, default=None):
        value = options.get(key, default)
        if value is None or isinstance(value, (bytes, str, list, dict)):
            raise ctx.fail(f"custom option {key!r} is missing or not a number: {value!r}")
        return kind(value)

    return {
        "max_detections": number("max_detections", int),
        "max_classes": number("max_classes_per_detection", int),
        "per_class": number("detections_per_class", int, 100),
        "regular": bool(options.get("use_regular_nms", False)),
        "score_threshold": np.float32(number("nms_score_threshold", float)),
        "iou_threshold": np.float32(number("nms_iou_threshold", float)),
        "num_classes": number("num_classes", int),
        "scales": [np.float32(number(f"{k}_scale", float)) for k in "yxhw"],
    }


def prepare(ctx: c.OpContext) -> c.Eval:
    if len(ctx.inputs) != 3 or None in ctx.inputs or len(ctx.outputs) != 4:
        raise ctx.fail(f"needs 3 inputs and 4 outputs, has {len(ctx.inputs)}/{len(ctx.outputs)}")
    o = _options(ctx)
    for key, name in (
        ("max_detections", "max_detections"),
        ("max_classes", "max_classes_per_detection"),
        ("per_class", "detections_per_class"),
    ):
        if o[key] < 0:
            raise ctx.fail(f"{name} must be non-negative, is {o[key]}")
    if o["num_classes"] <= 0:
        raise ctx.fail(f"num_classes must be positive, is {o['num_classes']}")
    if not 0 < o["iou_threshold"] <= 1:
        raise ctx.fail(f"nms_iou_threshold {o['iou_threshold']} must be in (0, 1]")
    if o["regular"] and min(o["per_class"], o["max_detections"]) <= 0:
        raise ctx.fail("regular NMS needs detections_per_class and max_detections > 0")
    if not o["regular"] and o["max_classes"] <= 0:
        raise ctx.fail("fast NMS needs max_classes_per_detection > 0")
    box_type, score_type = ctx.in_type(0), ctx.in_type(1)
    if box_type not in (c.F32, c.U8) or score_type not in (c.F32, c.U8):
        raise ctx.unsupported("box encodings and class scores must be float32 or uint8")
    if ctx.in_type(2) != box_type:
        raise ctx.fail("anchors must have the box encodings' type")
    for k, name in enumerate(_OUTPUT_NAMES):
        if ctx.out_type(k) != c.F32:
            raise ctx.fail(f"output {name} must be float32")
    dequant = [
        c.per_tensor_qparams(ctx, ctx.inputs[k], name) if ctx.in_type(k) == c.U8 else None
        for k, name in enumerate(("box encodings", "class scores", "anchors"))
    ]
    slots = o["max_detections"] * o["max_classes"]
    c.check_alloc(ctx, (slots, 4), "detection boxes")

    def run(encodings, class_scores, anchors):
        n = _check_shapes(ctx, encodings, class_scores, anchors, o["num_classes"])
        enc = _float(encodings[0, :, :4], dequant[0])
        anc = _float(anchors[:n], dequant[2])
        scores = _float(class_scores[0], dequant[1])
        boxes = _decode(enc, anc, o["scales"])
        if np.any(boxes[:, 0] > boxes[:, 2]) or np.any(boxes[:, 1] > boxes[:, 3]):
            raise ctx.fail("a decoded box has its minimum above its maximum")
        offset = scores.shape[1] - o["num_classes"]
        scores = scores[:, offset:]
        result = _regular(boxes, scores, o) if o["regular"] else _fast(boxes, scores, o)
        return _outputs(boxes, result, slots)

    return run


def _check_shapes(ctx, encodings, class_scores, anchors, num_classes) -> int:
    if encodings.ndim != 3 or encodings.shape[0] != 1 or encodings.shape[2] < 4:
        raise ctx.fail(f"box encodings must be [1, N, >=4], are {list(encodings.shape)}")
    n = encodings.shape[1]
    if class_scores.ndim != 3 or class_scores.shape[:2] != (1, n):
        raise ctx.fail(f"class scores must be [1, {n}, C], are {list(class_scores.shape)}")
    if class_scores.shape[2] - num_classes not in (0, 1):
        raise ctx.fail(
            f"class scores have {class_scores.shape[2]} columns for {num_classes} classes"
        )
    if anchors.ndim != 2 or anchors.shape[0] < n or anchors.shape[1] != 4:
        raise ctx.fail(f"anchors must be [{n}, 4], are {list(anchors.shape)}")
    return n


def _float(x, qparams):
    if qparams is None:
        return x.astype(np.float32, copy=False)
    scale, zero_point = qparams
    return ((x.astype(np.float32) - np.float32(zero_point)) * scale).astype(np.float32)


def _decode(enc, anchors, scales):
    e, a = enc.astype(np.float64), anchors.astype(np.float64)
    sy, sx, sh, sw = (np.float64(s) for s in scales)
    with np.errstate(all="ignore"):
        yc = (e[:, 0] / sy * a[:, 2] + a[:, 0]).astype(np.float32)
        xc = (e[:, 1] / sx * a[:, 3] + a[:, 1]).astype(np.float32)
        half_h = (0.5 * np.exp(e[:, 2] / sh) * a[:, 2]).astype(np.float32)
        half_w = (0.5 * np.exp(e[:, 3] / sw) * a[:, 3]).astype(np.float32)
        return np.stack([yc - half_h, xc - half_w, yc + half_h, xc + half_w], axis=1)


def _nms(boxes, scores, threshold, iou_threshold, limit) -> list[int]:
    """Indices (into ``boxes``) selected by greedy non-max suppression, best first."""
    kept = np.flatnonzero(scores >= threshold)
    order = kept[np.argsort(-scores[kept], kind="stable")]
    y0, x0, y1, x1 = (np.ascontiguousarray(boxes[order, k]) for k in range(4))
    active = np.ones(len(order), bool)
    selected: list[int] = []
    with np.errstate(all="ignore"):
        area = (y1 - y0) * (x1 - x0)
        for i in range(len(order)):
            if len(selected) >= limit:
                break
            if not active[i]:
                continue
            selected.append(int(order[i]))
            if area[i] <= 0:  # ComputeIntersectionOverUnion gives 0: suppresses nothing
                continue
            # IoU with every later box (already suppressed ones too: it only turns flags off),
            # in float32 and in the kernel's order of operations.
            rest = slice(i + 1, None)
            h = np.maximum(np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest]), 0)
            w = np.maximum(np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest]), 0)
            inter = h * w
            iou = inter / (area[i] + area[rest] - inter)
            active[rest] &= ~((iou > iou_threshold) & (area[rest] > 0))
    return selected


def _fast(boxes, scores, o):
    """[(box, class, score, slot)] of fast (class-agnostic) NMS."""
    per_box = min(o["max_classes"], o["num_classes"])
    if per_box == 1:
        classes = np.argmax(scores, axis=1)[:, None]
    else:
        classes = np.argsort(-scores, axis=1, kind="stable")[:, :per_box]
    best = scores[np.arange(len(scores)), classes[:, 0]]
    selected = _nms(boxes, best, o["score_threshold"], o["iou_threshold"], o["max_detections"])
    picks = []
    for k, box in enumerate(selected):
        for col in range(per_box):
            cls = int(classes[box, col])
            picks.append((box, cls, scores[box, cls], o["max_classes"] * k + col))
    return picks, len(selected)


def _regular(boxes, scores, o):
    """[(box, class, score, slot)] of per-class NMS merged by score."""
    limit = min(o["per_class"], o["max_detections"])
    merged: list[tuple] = []  # (score, box, class), best first
    for cls in range(scores.shape[1]):
        column = scores[:, cls]
        chosen = _nms(boxes, column, o["score_threshold"], o["iou_threshold"], limit)
        # std::inplace_merge is stable: earlier entries stay before equal new ones.
        merged = sorted(merged + [(column[b], b, cls) for b in chosen], key=lambda t: -t[0])
        merged = merged[: o["max_detections"]]
    picks = [(b, cls, score, k) for k, (score, b, cls) in enumerate(merged)]
    return picks, len(merged)


def _outputs(boxes, result, slots):
    picks, count = result
    out_boxes = np.zeros((1, slots, 4), np.float32)
    out_classes = np.zeros((1, slots), np.float32)
    out_scores = np.zeros((1, slots), np.float32)
    for box, cls, score, slot in picks:
        out_boxes[0, slot] = boxes[box]
        out_classes[0, slot] = cls
        out_scores[0, slot] = score
    return [out_boxes, out_classes, out_scores, np.array([count], np.float32)]
