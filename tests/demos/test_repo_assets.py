"""The assets committed in the repo's apps (written by the main job through bundle_apps): the
same bytes in both apps, consistent with their contract, their model and their golden data.

The bundle is committed: an app without it is a failure, never a skip.
"""

from __future__ import annotations

import json

from compiler.bundle import ANDROID_ASSETS, ANDROID_GOLDEN, FASHION_MNIST_CLASS_NAMES
from tests.demos._checks import (
    assert_apps_hold_the_same_bundle,
    assert_contract_matches_models,
    assert_golden_matches_model,
)
from tests.demos._tools import REPO

ANDROID = REPO / "android_demo"
IOS = REPO / "ios_demo"
ASSETS = ANDROID / ANDROID_ASSETS


def test_both_apps_hold_the_same_bundle():
    assert_apps_hold_the_same_bundle(ANDROID, IOS)


def test_models_labels_and_samples_match_the_contract():
    contract = assert_contract_matches_models(ASSETS)
    labels = (ASSETS / contract["labels_file"]).read_text(encoding="utf-8").splitlines()
    assert labels == list(FASHION_MNIST_CLASS_NAMES)
    for sample in contract["samples"]:
        assert (ASSETS / sample["file"]).is_file(), sample["file"]


def test_golden_matches_the_bundled_model():
    contract = json.loads((ASSETS / "contract.json").read_text(encoding="utf-8"))
    golden = json.loads((ANDROID / ANDROID_GOLDEN).read_text(encoding="utf-8"))
    model = (ASSETS / contract["models"]["tflite"]["file"]).read_bytes()
    assert_golden_matches_model(golden, model)


def test_both_committed_models_give_each_sample_the_same_class():
    """The point of shipping two formats: on the committed bundle the int8 .tflite (LiteRT's
    reference kernels) and the .onnx (our runtime, checked against onnxruntime by test_bundle)
    pick the same class for every sample, as the apps' "Both agree" line will show."""
    golden = json.loads((ANDROID / ANDROID_GOLDEN).read_text(encoding="utf-8"))
    assert golden["samples"] and "onnx" in golden
    for sample in golden["samples"]:
        assert sample["argmax"] == sample["onnx_argmax"], sample["file"]
