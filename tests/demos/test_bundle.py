"""compiler.bundle.bundle_apps: what it writes into the two apps, and what it refuses."""

from __future__ import annotations

import hashlib
import struct
import zlib

import numpy as np
import pytest

from compiler.bundle import (
    ANDROID_ASSETS,
    DEFAULT_ANDROID_DIR,
    DEFAULT_IOS_DIR,
    FASHION_MNIST_CLASS_NAMES,
    IOS_ASSETS,
    BundleError,
    bundle_apps,
    encode_png_gray,
    normalize_pixels,
    quantize_pixels,
)
from tests.demos._checks import (
    assert_apps_hold_the_same_bundle,
    assert_contract_matches_models,
    assert_golden_matches_model,
)
from tests.demos._tools import fixture, litert_reference_class
from tests.demos.conftest import copy_apps


def decode_png_gray(data: bytes) -> np.ndarray:
    """A strict reader for what encode_png_gray claims to write (checks every CRC)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        chunks.append((kind, body))
        pos += 12 + length
    assert [k for k, _ in chunks][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", chunks[0][1]
    )
    assert (depth, colour, compression, filtering, interlace) == (8, 0, 0, 0, 0)
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    rows = np.frombuffer(raw, np.uint8).reshape(height, width + 1)
    assert (rows[:, 0] == 0).all(), "only filter type 0 is written"
    return rows[:, 1:].copy()


def test_models_are_byte_identical_copies_in_both_apps(bundled):
    for app, assets in ((bundled.android, ANDROID_ASSETS), (bundled.ios, IOS_ASSETS)):
        for model in (bundled.tflite, bundled.onnx):
            assert (app / assets / model.name).read_bytes() == model.read_bytes()


def test_both_apps_get_the_same_contract_labels_samples_and_golden(bundled):
    assert_apps_hold_the_same_bundle(bundled.android, bundled.ios)


def test_labels_file_is_keras_fashion_mnist_names(bundled):
    text = (bundled.android / ANDROID_ASSETS / "labels.txt").read_text(encoding="utf-8")
    assert text.splitlines() == list(FASHION_MNIST_CLASS_NAMES)
    assert text.endswith("Ankle boot\n") and "\r" not in text


def test_contract_matches_the_model_read_back(bundled):
    contract = assert_contract_matches_models(bundled.android / ANDROID_ASSETS)
    assert contract == bundled.result.contract
    assert contract["models"]["tflite"]["file"] == bundled.tflite.name
    onnx = contract["models"]["onnx"]
    assert onnx["sha256"] == hashlib.sha256(bundled.onnx.read_bytes()).hexdigest()
    assert onnx["input"] == {"name": "input_layer", "shape": [None, 28, 28, 1], "dtype": "float32"}
    image = contract["image"]
    assert (image["height"], image["width"], image["channels"]) == (28, 28, 1)
    assert image["polarity"] == "light_on_dark"
    assert image["normalization"] == {"rule": "x/255", "divisor": 255.0}
    assert contract["labels_file"] == "labels.txt" and contract["num_classes"] == 10


def test_sample_pngs_hold_the_images(bundled):
    samples = bundled.result.contract["samples"]
    assert [s["label"] for s in samples] == bundled.labels.tolist()
    for sample, image in zip(samples, bundled.images):
        png = (bundled.android / ANDROID_ASSETS / sample["file"]).read_bytes()
        np.testing.assert_array_equal(decode_png_gray(png), image)


def test_golden_input_is_the_apps_quantization_and_output_is_the_models(bundled):
    golden = bundled.result.golden
    assert [s["pixels"] for s in golden["samples"]] == bundled.images.reshape(
        len(bundled.images), -1
    ).tolist()
    assert_golden_matches_model(golden, bundled.tflite.read_bytes())


def test_our_runtime_writes_the_same_golden_as_litert_reference(bundled, tmp_path):
    """The default interpreter is runtime.Interpreter; its int8 outputs must be bit-exact."""
    (tmp_path / "a").mkdir()
    result = bundle_apps(
        bundled.tflite,
        bundled.onnx,
        bundled.images,
        bundled.labels,
        android_dir=tmp_path / "a",
        ios_dir=None,
    )
    assert result.golden == bundled.result.golden
    assert result.contract == bundled.result.contract


def test_quantize_rounds_ties_away_from_zero_in_float32():
    scale = np.float32(0.4)
    value = np.float32(np.float32(255) / np.float32(255)) / scale
    assert value == np.float32(2.5), "precondition: an exact tie"
    # np.round would give 2 (half to even); the apps and TFLite give 3.
    assert quantize_pixels(np.array([255]), scale, -10).tolist() == [3 - 10]
    assert quantize_pixels(np.array([0, 255]), 1 / 1024, 0).tolist() == [0, 127]
    assert quantize_pixels(np.array([0]), 1 / 255, -200).tolist() == [-128]


def test_golden_quantize_cases_exercise_ties():
    from compiler.bundle import quantize_cases

    cases = quantize_cases()
    assert cases == quantize_cases(), "deterministic"
    ties = differing = 0
    for case in cases:
        scale = np.float32(case["scale"])
        value = (np.arange(256, dtype=np.float32) / np.float32(255)) / scale
        is_tie = (value.astype(np.float64) * 2) % 2 == 1
        ties += int(is_tie.sum())
        half_even = np.clip(np.round(value.astype(np.float64)) + case["zero_point"], -128, 127)
        differs = np.asarray(case["int8"]) != half_even
        assert (differs <= is_tie).all(), "only ties may differ from half-to-even"
        differing += int(differs.sum())
    assert ties >= 100 and differing >= 30


def test_quantize_agrees_with_float32_reference_for_every_pixel():
    pixels = np.arange(256)
    for scale, zero_point in ((0.037230949848890305, -5), (1 / 255, -128), (0.0039215689, 0)):
        value = (pixels.astype(np.float32) / np.float32(255)) / np.float32(scale)
        expected = np.clip(np.floor(value.astype(np.float64) + 0.5) + zero_point, -128, 127)
        assert quantize_pixels(pixels, scale, zero_point).tolist() == expected.astype(int).tolist()


def test_bundling_is_deterministic_and_leaves_no_temporary_files(bundled, tmp_path):
    first = copy_apps(tmp_path / "first")
    second = copy_apps(tmp_path / "second")
    args = (bundled.tflite, bundled.onnx, bundled.images, bundled.labels)
    reference = litert_reference_class()
    for android, ios in (first, second, first):  # the third run overwrites the first
        bundle_apps(*args, android_dir=android, ios_dir=ios, interpreter_class=reference)
    for a, b in zip(first, second):
        files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
        files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
        assert files_a == files_b
        assert not [f for f in files_a if f.name.endswith(".tmp")]
        for name in files_a:
            assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_rebundling_removes_stale_models_and_samples(bundled, tmp_path):
    reference = litert_reference_class()
    android = tmp_path / "android"
    android.mkdir()
    bundle_apps(
        bundled.tflite,
        bundled.onnx,
        bundled.images,
        bundled.labels,
        android_dir=android,
        ios_dir=None,
        interpreter_class=reference,
    )
    renamed = tmp_path / "renamed.int8.tflite"
    renamed.write_bytes(bundled.tflite.read_bytes())
    result = bundle_apps(
        renamed,
        None,
        bundled.images[:2],
        bundled.labels[:2],
        android_dir=android,
        ios_dir=None,
        interpreter_class=reference,
    )
    assets = android / ANDROID_ASSETS
    names = sorted(p.relative_to(assets).as_posix() for p in assets.rglob("*") if p.is_file())
    samples = [s["file"] for s in result.contract["samples"]]
    assert names == sorted(["contract.json", "labels.txt", "renamed.int8.tflite", *samples])
    assert len(samples) == 2 and "onnx" not in result.contract["models"]
    assert not (tmp_path / "ios").exists()


def test_default_app_roots_are_in_the_current_directory(bundled, tmp_path, monkeypatch):
    # Not next to compiler/: installed without -e that is site-packages.
    assert not DEFAULT_ANDROID_DIR.is_absolute() and not DEFAULT_IOS_DIR.is_absolute()
    args = (bundled.tflite, None, bundled.images[:2], bundled.labels[:2])
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BundleError, match=r"android_dir must be an existing app directory"):
        bundle_apps(*args, interpreter_class=litert_reference_class())
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "android_demo").mkdir()
    with pytest.raises(BundleError, match=r"ios_dir must be an existing app directory"):
        bundle_apps(*args, interpreter_class=litert_reference_class())
    assert list((tmp_path / "android_demo").iterdir()) == []
    (tmp_path / "ios_demo").mkdir()
    result = bundle_apps(*args, interpreter_class=litert_reference_class())
    assert tmp_path / "android_demo" / ANDROID_ASSETS / "contract.json" in result.files
    assert tmp_path / "ios_demo" / IOS_ASSETS / "contract.json" in result.files
    assert all(path.is_relative_to(tmp_path) for path in result.files)


def test_png_encoder_rejects_non_uint8():
    with pytest.raises(BundleError, match="uint8"):
        encode_png_gray(np.zeros((2, 2), np.float32))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"images": "float"}, "sample_images must be uint8"),
        ({"images": "shape"}, r"\[N, 28, 28\]"),
        ({"labels": [0, 10]}, r"integers in \[0, 10\)"),
        ({"labels": [0]}, "one label each"),
        ({"class_names": FASHION_MNIST_CLASS_NAMES[:9]}, r"int8 \[1, 9\]"),
        ({"class_names": ("a",) * 10}, "distinct"),
        ({"model": "slide_cnn.float.tflite"}, "must be quantized int8"),
        ({"model": "mlp_multi.int8.tflite"}, "must have 1 input and 1 output"),
        ({"onnx": "garbage"}, "cannot be parsed"),
    ],
)
def test_bad_inputs_raise_a_typed_error_and_write_nothing(bundled, tmp_path, change, message):
    images, labels = bundled.images[:2], bundled.labels[:2]
    if change.get("images") == "float":
        images = images.astype(np.float32)
    if change.get("images") == "shape":
        images = images[:, :27]
    labels = change.get("labels", labels)
    tflite = fixture(change["model"]) if "model" in change else bundled.tflite
    onnx = bundled.onnx
    if change.get("onnx") == "garbage":
        onnx = tmp_path / "garbage.onnx"
        onnx.write_bytes(b"\x08not an onnx model")
    with pytest.raises(BundleError, match=message):
        bundle_apps(
            tflite,
            onnx,
            images,
            labels,
            change.get("class_names", FASHION_MNIST_CLASS_NAMES),
            android_dir=tmp_path / "android",
            ios_dir=tmp_path / "ios",
            interpreter_class=litert_reference_class(),
        )
    assert not (tmp_path / "android").exists() and not (tmp_path / "ios").exists()


def test_onnx_golden_is_onnxruntimes_output_for_the_apps_input(bundled):
    """Our runtime wrote the .onnx golden outputs; onnxruntime itself (graph optimizations off,
    so its QDQ ops run as written) gives the same float32 values for the same float32 input."""
    from tests import _oracles as oracles

    ort = oracles.require("onnxruntime", oracles.ONNXRUNTIME)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(
        bundled.onnx.read_bytes(), options, providers=["CPUExecutionProvider"]
    )
    golden = bundled.result.golden
    table = np.asarray(golden["onnx"]["pixel_float32"], np.float32)
    np.testing.assert_array_equal(table, normalize_pixels(np.arange(256)))
    assert (table.view(np.uint32) == (np.arange(256, dtype=np.float32) / 255).view(np.uint32)).all()
    name = golden["onnx"]["input"]["name"]
    for sample, image in zip(golden["samples"], bundled.images):
        x = table[image].reshape(1, *image.shape, 1)
        expected = session.run(None, {name: x})[0].reshape(-1)
        np.testing.assert_array_equal(
            np.asarray(sample["onnx_output_float32"], np.float32), expected
        )
        assert sample["onnx_argmax"] == int(np.argmax(expected))
        assert np.float32(sample["onnx_score"]) == expected.max()


def test_no_onnx_golden_without_an_onnx(bundled, tmp_path):
    (tmp_path / "a").mkdir()
    result = bundle_apps(
        bundled.tflite,
        None,
        bundled.images[:2],
        bundled.labels[:2],
        android_dir=tmp_path / "a",
        ios_dir=None,
        interpreter_class=litert_reference_class(),
    )
    assert "onnx" not in result.golden
    assert not [key for s in result.golden["samples"] for key in s if key.startswith("onnx")]
