"""Resize against onnxruntime over a seeded sweep of every mode x coordinate transform x
antialias x exclude_outside x cubic_coeff_a, with random 4-D inputs, scales (up and down,
fractional output lengths) or sizes, and crop boxes. onnxruntime refuses some combinations
(e.g. antialias with some transforms); those are skipped."""

import itertools
import zlib

import numpy as np
import pytest
from onnx import helper, numpy_helper

from runtime.onnx import InferenceSession
from tests.runtime.onnx.helpers import ort_session

MODES = ("nearest", "linear", "cubic")
TRANSFORMS = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
              "tf_crop_and_resize", "half_pixel_symmetric", "tf_half_pixel_for_nn")  # fmt: skip


def _combos():
    for mode, transform, antialias, exclude, a in itertools.product(
        MODES, TRANSFORMS, (0, 1), (0, 1), (-0.75, -0.5)
    ):
        if (mode == "nearest" and antialias) or (mode != "cubic" and (a != -0.75 or exclude)):
            continue  # onnxruntime takes exclude_outside and cubic_coeff_a with cubic only
        yield mode, transform, antialias, exclude, a


def _model(x, consts, **attrs):
    node = helper.make_node("Resize", ["x", *consts], ["y"], **attrs)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", 1, list(x.shape))],
        [helper.make_empty_tensor_value_info("y")],
        [numpy_helper.from_array(v, k) for k, v in consts.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=8)


@pytest.mark.parametrize("combo", list(_combos()), ids=lambda c: "-".join(map(str, c)))
def test_resize_matches_onnxruntime(combo):
    mode, transform, antialias, exclude, a = combo
    rng = np.random.default_rng(zlib.crc32(repr(combo).encode()))  # the same draws every run
    compared = 0
    for _ in range(3):
        x = rng.normal(size=(1, 2, *rng.integers(2, 7, size=2))).astype(np.float32)
        roi = np.zeros(0, np.float32)
        if transform == "tf_crop_and_resize":
            starts = rng.uniform(-0.2, 0.2, size=2)  # boxes reaching beyond the image too
            ends = rng.uniform(0.8, 1.2, size=2)
            roi = np.array([0, 0, *starts, 1, 1, *ends], np.float32)
        consts = {"roi": roi}
        if rng.random() < 0.5:
            consts["scales"] = np.zeros(0, np.float32)
            consts["sizes"] = np.array([1, 2, *rng.integers(1, 12, size=2)], np.int64)
        else:
            picks = rng.choice([0.3, 0.5, 0.6, 0.7, 1.0, 1.3, 1.5, 2.0, 2.5, 3.0], size=2)
            consts["scales"] = np.array([1, 1, *picks], np.float32)
        model = _model(
            x, consts, mode=mode, coordinate_transformation_mode=transform, antialias=antialias,
            exclude_outside=exclude, cubic_coeff_a=a, extrapolation_value=-7.0,
        )  # fmt: skip
        try:
            (expected,) = ort_session(model).run(None, {"x": x})
        except Exception:  # onnxruntime refuses this combination: nothing to compare
            continue
        (got,) = InferenceSession(model.SerializeToString()).run(None, {"x": x})
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
        compared += 1
    assert compared or antialias, "onnxruntime refused every draw of a plain combination"
