"""TFLite_Detection_PostProcess (the SSD decoder + NMS custom op) against LiteRT's reference
resolver: fast and regular NMS, float32 and uint8 inputs, with and without a background class.
The detected slots are compared exactly (float32 results of the same operations); slots past the
detections are compared where LiteRT writes them (regular mode)."""

from __future__ import annotations

import numpy as np
import pytest
from flatbuffers import flexbuffers

from runtime import Interpreter
from runtime.errors import InvalidModelError
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._builder import GraphBuilder
from tests.runtime.tflite._litert import litert_interpreter


def _options(**values) -> bytes:
    b = flexbuffers.Builder()
    with b.Map():
        for key, value in values.items():
            b.Key(key)
            if isinstance(value, bool):
                b.Bool(value)
            elif isinstance(value, int):
                b.Int(value)
            else:
                b.Float(value)
    return bytes(b.Finish())


def _anchors(n, rng):
    yx = rng.uniform(0.1, 0.9, (n, 2))
    hw = rng.uniform(0.05, 0.3, (n, 2))
    return np.concatenate([yx, hw], axis=1).astype(np.float32)


def detection_model(n, classes, background, options, quant=False, anchors=None):
    g = GraphBuilder()
    btype = T.UINT8 if quant else T.FLOAT32
    bq = {"scale": 0.05, "zero_point": 128} if quant else {}
    sq = {"scale": 1 / 256, "zero_point": 0} if quant else {}
    boxes = g.add((1, n, 4), btype, "boxes", **bq)
    scores = g.add((1, n, classes + background), btype, "scores", **sq)
    if quant:
        anchors_q = np.clip(np.round(anchors / 0.004), 0, 255).astype(np.uint8)
        a = g.add((n, 4), T.UINT8, "anchors", data=anchors_q, scale=0.004, zero_point=0)
    else:
        a = g.add((n, 4), T.FLOAT32, "anchors", data=anchors)
    slots = options["max_detections"] * options["max_classes_per_detection"]
    outs = [
        g.add((1, slots, 4), T.FLOAT32, "detection_boxes"),
        g.add((1, slots), T.FLOAT32, "detection_classes"),
        g.add((1, slots), T.FLOAT32, "detection_scores"),
        g.add((1,), T.FLOAT32, "num_detections"),
    ]
    g.custom("TFLite_Detection_PostProcess", [boxes, scores, a], outs, _options(**options))
    return g.finish([boxes, scores], outs)


def _run_both(data, feeds):
    results = []
    for it in (Interpreter(model_content=data), litert_interpreter(model_content=data)):
        it.allocate_tensors()
        for d, x in zip(it.get_input_details(), feeds):
            it.set_tensor(d["index"], x)
        it.invoke()
        results.append([it.get_tensor(d["index"]) for d in it.get_output_details()])
    return results


BASE = {
    "max_detections": 10,
    "max_classes_per_detection": 1,
    "detections_per_class": 4,
    "nms_score_threshold": 0.3,
    "nms_iou_threshold": 0.5,
    "y_scale": 10.0,
    "x_scale": 10.0,
    "h_scale": 5.0,
    "w_scale": 5.0,
}


@pytest.mark.parametrize(
    "regular, max_classes, background, quant",
    [
        (False, 1, 1, False),
        (False, 3, 0, False),
        (True, 1, 1, False),
        (True, 1, 0, False),
        (False, 1, 1, True),
        (True, 1, 1, True),
        (False, 2, 1, True),
    ],
)
def test_detection_postprocess_matches_litert(regular, max_classes, background, quant):
    n, classes = 60, 4
    rng = np.random.default_rng(n + 7 * max_classes + background + 3 * regular)
    anchors = _anchors(n, rng)
    options = {**BASE, "use_regular_nms": regular, "max_classes_per_detection": max_classes}
    options["num_classes"] = classes
    data = detection_model(n, classes, background, options, quant, anchors)
    if quant:
        boxes = rng.integers(100, 156, (1, n, 4)).astype(np.uint8)
        scores = rng.integers(0, 256, (1, n, classes + background)).astype(np.uint8)
    else:
        boxes = rng.normal(0, 2, (1, n, 4)).astype(np.float32)
        scores = rng.uniform(0, 1, (1, n, classes + background)).astype(np.float32)
    ours, ref = _run_both(data, [boxes, scores])
    count = int(ref[3][0])
    assert count > 2 and ours[3][0] == count
    valid = count * options["max_classes_per_detection"]
    if regular:
        valid = ours[1].shape[1] if max_classes == 1 else count
    for a, b in zip(ours[:3], ref[:3]):
        np.testing.assert_array_equal(a[:, :valid], b[:, :valid])


def test_bad_options_are_refused():
    anchors = _anchors(4, np.random.default_rng(0))
    for bad, message in (
        ({"nms_iou_threshold": 0.0}, "nms_iou_threshold"),
        ({"num_classes": 0}, "num_classes"),
        ({"detections_per_class": -1}, "detections_per_class"),
    ):
        options = {**BASE, "num_classes": 2, **bad}
        with pytest.raises(InvalidModelError, match=message):
            Interpreter(model_content=detection_model(4, 2, 1, options, anchors=anchors))
    g = GraphBuilder()
    ins = [g.add((1, 4, 4), name="b"), g.add((1, 4, 3), name="s")]
    a = g.add((4, 4), T.FLOAT32, "a", data=anchors)
    outs = [g.add((1, 1, 4)), g.add((1, 1)), g.add((1, 1)), g.add((1,))]
    g.custom("TFLite_Detection_PostProcess", ins + [a], outs, b"\xff\x00\x13")
    with pytest.raises(InvalidModelError, match="flexbuffer"):
        Interpreter(model_content=g.finish(ins, outs))


def test_inverted_decoded_boxes_are_an_error():
    """A negative anchor height turns a box upside down, which LiteRT refuses too."""
    anchors = _anchors(4, np.random.default_rng(0))
    anchors[2, 2] = -0.1
    options = {**BASE, "num_classes": 2}
    it = Interpreter(model_content=detection_model(4, 2, 1, options, anchors=anchors))
    it.allocate_tensors()
    it.set_tensor(0, np.zeros((1, 4, 4), np.float32))
    it.set_tensor(1, np.full((1, 4, 3), 0.5, np.float32))
    with pytest.raises(InvalidModelError, match="minimum above its maximum"):
        it.invoke()
