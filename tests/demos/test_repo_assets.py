"""The assets committed in the repo's apps (written by the main job through bundle_apps): the
same bytes in both apps, consistent with their contract, their model and their golden data.

Skipped only while the apps hold no bundled assets yet (a fresh checkout before the main job
first runs); tool problems never skip here.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from compiler.bundle import (
    ANDROID_ASSETS,
    ANDROID_GOLDEN,
    FASHION_MNIST_CLASS_NAMES,
    IOS_ASSETS,
    IOS_GOLDEN,
    quantize_pixels,
)
from tests.demos._tools import REPO, litert_reference_class

ANDROID = REPO / "android_demo" / ANDROID_ASSETS
IOS = REPO / "ios_demo" / IOS_ASSETS

pytestmark = pytest.mark.skipif(
    not (ANDROID / "contract.json").is_file(),
    reason="android_demo has no bundled assets yet (the main job writes them)",
)


@pytest.fixture(scope="module")
def contract() -> dict:
    return json.loads((ANDROID / "contract.json").read_text())


def test_both_apps_hold_the_same_bundle():
    files = sorted(p.relative_to(ANDROID) for p in ANDROID.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(IOS) for p in IOS.rglob("*") if p.is_file())
    for name in files:
        assert (ANDROID / name).read_bytes() == (IOS / name).read_bytes(), name
    golden = REPO / "android_demo" / ANDROID_GOLDEN
    assert golden.read_bytes() == (REPO / "ios_demo" / IOS_GOLDEN).read_bytes()


def test_models_match_the_contract(contract):
    for entry in contract["models"].values():
        data = (ANDROID / entry["file"]).read_bytes()
        assert len(data) == entry["bytes"], entry["file"]
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["file"]
    tflite = contract["models"]["tflite"]
    interpreter = litert_reference_class()(model_content=(ANDROID / tflite["file"]).read_bytes())
    interpreter.allocate_tensors()
    for entry, detail in (
        (tflite["input"], interpreter.get_input_details()[0]),
        (tflite["output"], interpreter.get_output_details()[0]),
    ):
        assert (entry["name"], entry["shape"]) == (detail["name"], detail["shape"].tolist())
        assert entry["dtype"] == np.dtype(detail["dtype"]).name == "int8"
        assert np.float32(entry["scale"]) == np.float32(detail["quantization"][0])
        assert entry["zero_point"] == detail["quantization"][1]


def test_labels_and_samples(contract):
    labels = (ANDROID / contract["labels_file"]).read_text(encoding="utf-8").splitlines()
    assert labels == list(FASHION_MNIST_CLASS_NAMES)
    for sample in contract["samples"]:
        assert (ANDROID / sample["file"]).is_file(), sample["file"]


def test_golden_matches_the_bundled_model(contract):
    golden = json.loads((REPO / "android_demo" / ANDROID_GOLDEN).read_text())
    tflite = contract["models"]["tflite"]
    interpreter = litert_reference_class()(model_content=(ANDROID / tflite["file"]).read_bytes())
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    output_index = interpreter.get_output_details()[0]["index"]
    for sample in golden["samples"]:
        pixels = np.array(sample["pixels"], np.uint8)
        quantized = quantize_pixels(pixels, *detail["quantization"])
        assert sample["input_int8"] == quantized.tolist(), sample["file"]
        interpreter.set_tensor(detail["index"], quantized.reshape(detail["shape"]))
        interpreter.invoke()
        assert sample["output_int8"] == interpreter.get_tensor(output_index)[0].tolist()
