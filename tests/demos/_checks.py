"""Checks shared by the tests of a fresh bundle (test_bundle) and of the repo's committed one
(test_repo_assets): the bundle agrees with the model it holds, in both apps."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from compiler.bundle import ANDROID_ASSETS, ANDROID_GOLDEN, IOS_ASSETS, IOS_GOLDEN, quantize_pixels
from tests.demos._tools import litert_reference_class


def reference_interpreter(model: bytes):
    interpreter = litert_reference_class()(model_content=model)
    interpreter.allocate_tensors()
    return interpreter


def assert_apps_hold_the_same_bundle(android: Path, ios: Path) -> None:
    """Same files, same bytes, in both apps' assets; same golden data."""
    android_assets, ios_assets = android / ANDROID_ASSETS, ios / IOS_ASSETS
    files = sorted(p.relative_to(android_assets) for p in android_assets.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(ios_assets) for p in ios_assets.rglob("*") if p.is_file())
    for name in files:
        assert (android_assets / name).read_bytes() == (ios_assets / name).read_bytes(), name
    assert (android / ANDROID_GOLDEN).read_bytes() == (ios / IOS_GOLDEN).read_bytes()


def assert_contract_matches_models(assets: Path) -> dict:
    """Every model file's size and sha256, and the .tflite's tensors read back, equal the
    contract's. Returns the contract."""
    contract = json.loads((assets / "contract.json").read_text(encoding="utf-8"))
    for entry in contract["models"].values():
        data = (assets / entry["file"]).read_bytes()
        assert len(data) == entry["bytes"], entry["file"]
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["file"]
    tflite = contract["models"]["tflite"]
    interpreter = reference_interpreter((assets / tflite["file"]).read_bytes())
    for entry, detail in (
        (tflite["input"], interpreter.get_input_details()[0]),
        (tflite["output"], interpreter.get_output_details()[0]),
    ):
        assert entry["name"] == detail["name"]
        assert entry["shape"] == detail["shape"].tolist()
        assert entry["dtype"] == np.dtype(detail["dtype"]).name == "int8"
        assert np.float32(entry["scale"]) == np.float32(detail["quantization"][0])
        assert entry["zero_point"] == detail["quantization"][1]
    return contract


def assert_golden_matches_model(golden: dict, model: bytes) -> None:
    """Each sample's int8 input is quantize_pixels of its pixels, and its int8 output, argmax
    and confidence are what LiteRT's reference kernels give for that input."""
    interpreter = reference_interpreter(model)
    detail, output = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    out_scale, out_zero_point = output["quantization"]
    assert golden["samples"]
    for sample in golden["samples"]:
        quantized = quantize_pixels(np.array(sample["pixels"], np.uint8), *detail["quantization"])
        assert sample["input_int8"] == quantized.tolist(), sample["file"]
        interpreter.set_tensor(detail["index"], quantized.reshape(detail["shape"]))
        interpreter.invoke()
        scores = interpreter.get_tensor(output["index"]).reshape(-1)
        assert sample["output_int8"] == scores.tolist(), sample["file"]
        assert sample["argmax"] == int(np.argmax(scores))
        expected = np.float32(out_scale) * np.float32(int(scores.max()) - out_zero_point)
        assert np.float32(sample["confidence"]) == expected
