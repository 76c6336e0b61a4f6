"""Fill the Android and iOS demo apps with an exported image classifier.

``bundle_apps`` copies the int8 ``.tflite`` (and optionally the ``.onnx``) into both apps and
writes, next to them, everything the apps need and nothing they must hard-code:

- ``contract.json``: the model files (name, size, sha256), the input and output tensors as the
  model itself declares them (read back through ``runtime.Interpreter``, LiteRT's Python API),
  the image geometry, the normalization ``x / 255``, the polarity (light garment on black) and
  the sample images with their labels;
- ``labels.txt``: one class name per line, in class-index order;
- ``samples/NN_<label>.png``: a few real test images, 8-bit grayscale PNG;
- ``golden.json`` (Android unit-test resources and the iOS test target): per sample its pixels,
  the int8 bytes the app must feed the model, and the model's int8 output and argmax; and every
  pixel value quantized with other scales (``quantize_cases``), exact ties included.
  With an ``.onnx``: its float32 input for every pixel value (``x / 255``) and, per sample,
  its float32 output and argmax from ``runtime.InferenceSession``.

The apps quantize an input pixel ``p`` (0..255) exactly as ``quantize_pixels`` does here, in
float32 arithmetic: ``q = clamp(round_half_away(float32(p) / 255 / scale) + zero_point)``. The
value before rounding is never negative, so Kotlin's ``Math.round`` (half up) and Swift's
``rounded()`` (half away from zero) agree with it bit for bit, as does TFLite's quantizer;
numpy's ``np.round`` (half to even) would not, which is why it is not used.

Every file is written atomically (temporary file, then ``os.replace``) and the bytes depend only
on the inputs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compiler._outputs import atomic_write

__all__ = [
    "FASHION_MNIST_CLASS_NAMES",
    "BundleError",
    "BundleResult",
    "bundle_apps",
    "encode_png_gray",
    "normalize_pixels",
    "quantize_pixels",
]

FASHION_MNIST_CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

# The apps' roots, relative to the current directory (the repository root in the READMEs). Never
# derived from this file's location: installed without -e, that is site-packages.
DEFAULT_ANDROID_DIR = Path("android_demo")
DEFAULT_IOS_DIR = Path("ios_demo")

# Where each app keeps its bundled files, relative to the app's root directory.
ANDROID_ASSETS = Path("app/src/main/assets")
ANDROID_GOLDEN = Path("app/src/test/resources/golden.json")
IOS_ASSETS = Path("FashionDemo/DemoAssets")
IOS_GOLDEN = Path("FashionDemoTests/golden.json")

CONTRACT_FILE = "contract.json"
LABELS_FILE = "labels.txt"
SAMPLES_DIR = "samples"
PIXEL_DIVISOR = 255.0
CONTRACT_VERSION = 1


class BundleError(ValueError):
    """The model, the samples or the labels cannot make a working demo app."""


@dataclass(frozen=True)
class BundleResult:
    """What ``bundle_apps`` wrote.

    Attributes:
        contract: The contract, as written to both apps' ``contract.json``.
        golden: The golden data, as written for the apps' unit tests.
        files: Every file written, absolute paths, in writing order.
    """

    contract: dict
    golden: dict
    files: tuple[Path, ...]


def quantize_pixels(pixels: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Quantizes 0..255 pixels to int8 exactly as the demo apps do.

    Args:
        pixels: Integer array of pixel values in 0..255 (light garment on black).
        scale: The input tensor's quantization scale (rounded to float32, as the apps hold it).
        zero_point: The input tensor's zero point.

    Returns:
        An int8 array of the same shape.
    """
    normalized = pixels.astype(np.float32) / np.float32(PIXEL_DIVISOR)
    value = normalized / np.float32(scale)
    # value >= 0, so floor(value + 0.5) is round-half-away-from-zero; the float64 sum is exact.
    rounded = np.floor(value.astype(np.float64) + 0.5) + int(zero_point)
    return np.clip(rounded, -128, 127).astype(np.int8)


def encode_png_gray(image: np.ndarray) -> bytes:
    """Encodes a 2-D uint8 array as an 8-bit grayscale, non-interlaced PNG (deterministic)."""
    if image.ndim != 2 or image.dtype != np.uint8:
        raise BundleError(
            f"PNG image must be a 2-D uint8 array. Received: shape={image.shape}, "
            f"dtype={image.dtype}"
        )
    height, width = image.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    # bit depth 8, colour type 0 (grayscale), compression 0, filter method 0, no interlace
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + image[y].tobytes() for y in range(height))  # filter type 0: None
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def bundle_apps(
    tflite_path: str | os.PathLike,
    onnx_path: str | os.PathLike | None,
    sample_images: np.ndarray,
    sample_labels: Sequence[int] | np.ndarray,
    class_names: Sequence[str] = FASHION_MNIST_CLASS_NAMES,
    *,
    android_dir: str | os.PathLike | None = DEFAULT_ANDROID_DIR,
    ios_dir: str | os.PathLike | None = DEFAULT_IOS_DIR,
    interpreter_class: Callable | None = None,
) -> BundleResult:
    """Copies an int8 image classifier and its contract into the Android and iOS demo apps.

    Args:
        tflite_path: The full-int8 ``.tflite`` (int8 input ``[1, H, W, 1]``, int8 output
            ``[1, num_classes]``).
        onnx_path: The matching ``.onnx`` (float input, x/255), or ``None`` to bundle only the
            ``.tflite``.
        sample_images: uint8 array ``[N, H, W]`` or ``[N, H, W, 1]``, light garment on black
            (Fashion-MNIST's own polarity), 1 <= N <= 32.
        sample_labels: N true class indices.
        class_names: One name per class, in class-index order (default: Keras's Fashion-MNIST
            names).
        android_dir: Root of the Android Studio project, an existing directory (``None`` skips
            Android). Default: ``android_demo`` in the current directory.
        ios_dir: Root of the iOS project, an existing directory (``None`` skips iOS).
            Default: ``ios_demo`` in the current directory.
        interpreter_class: A class with LiteRT's Python ``Interpreter`` API, taking
            ``model_content=``; defaults to ``runtime.Interpreter``.

    Returns:
        A ``BundleResult`` with the contract, the golden data and the files written.

    Raises:
        BundleError: The model is not a one-input int8 image classifier matching the samples
            and the class names, the samples or labels are malformed, or an app root is not
            an existing directory.
        OSError: A file cannot be read or written.
    """
    tflite_path = Path(tflite_path)
    tflite_bytes = tflite_path.read_bytes()
    onnx_file = None if onnx_path is None else (Path(onnx_path).name, Path(onnx_path).read_bytes())
    class_names = _check_class_names(class_names)
    if interpreter_class is None:
        from runtime import Interpreter as interpreter_class

    interpreter = interpreter_class(model_content=tflite_bytes)
    interpreter.allocate_tensors()
    input_detail, output_detail = _check_model(interpreter, tflite_path.name, len(class_names))
    height, width = (int(d) for d in input_detail["shape"][1:3])
    images, labels = _check_samples(sample_images, sample_labels, height, width, len(class_names))

    sample_files = [
        f"{SAMPLES_DIR}/{i:02d}_{_slug(class_names[label])}.png" for i, label in enumerate(labels)
    ]
    contract = _contract(
        (tflite_path.name, tflite_bytes),
        onnx_file,
        input_detail,
        output_detail,
        class_names,
        sample_files,
        labels,
    )
    golden = _golden(interpreter, input_detail, output_detail, images, labels, sample_files)
    if onnx_file is not None:
        _add_onnx_golden(golden, contract["models"]["onnx"], onnx_file[1], images)

    roots = _check_roots(android_dir, ios_dir)
    files: dict[Path, bytes] = {}
    assets = {
        tflite_path.name: tflite_bytes,
        CONTRACT_FILE: _json_bytes(contract),
        LABELS_FILE: "".join(name + "\n" for name in class_names).encode("utf-8"),
    }
    if onnx_file is not None:
        assets[onnx_file[0]] = onnx_file[1]
    assets.update((name, encode_png_gray(image)) for name, image in zip(sample_files, images))
    asset_dirs = []
    for root, assets_dir, golden_path in roots:
        asset_dirs.append(root / assets_dir)
        files.update((root / assets_dir / name, data) for name, data in assets.items())
        files[root / golden_path] = _json_bytes(golden)
    for path, data in files.items():
        _write_atomic(path, data)
    for assets_dir in asset_dirs:
        _remove_stale_assets(assets_dir, set(assets))
    return BundleResult(contract=contract, golden=golden, files=tuple(files))


def _check_roots(android_dir, ios_dir) -> list[tuple[Path, Path, Path]]:
    # The roots must exist: a mistyped path or the wrong current directory must not grow a
    # stray app skeleton, nor clean stale models out of a directory that is not an app.
    roots = []
    for role, root, assets_dir, golden_path in (
        ("android_dir", android_dir, ANDROID_ASSETS, ANDROID_GOLDEN),
        ("ios_dir", ios_dir, IOS_ASSETS, IOS_GOLDEN),
    ):
        if root is None:
            continue
        path = Path(root)
        if not path.is_dir():
            raise BundleError(
                f"{role} must be an existing app directory (run from the repository root, or "
                f"pass {role}=). Received: {str(root)!r} (resolved: {str(path.resolve())!r})"
            )
        roots.append((path.resolve(), assets_dir, golden_path))
    return roots


def _check_class_names(class_names: Sequence[str]) -> tuple[str, ...]:
    names = tuple(class_names)
    bad = [n for n in names if not isinstance(n, str) or not n.strip() or "\n" in n or "\r" in n]
    if len(names) < 2 or bad or len(set(names)) != len(names):
        raise BundleError(
            "class_names must be at least 2 distinct non-empty one-line strings. "
            f"Received: {names!r}"
        )
    return names


def _check_model(interpreter, model_name: str, num_classes: int) -> tuple[dict, dict]:
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    if len(inputs) != 1 or len(outputs) != 1:
        raise BundleError(
            f"Model {model_name} must have 1 input and 1 output. "
            f"Received: {len(inputs)} inputs, {len(outputs)} outputs"
        )
    expected = {
        "input": (inputs[0], "[1, H, W, 1]", lambda s: len(s) == 4 and s[0] == 1 and s[3] == 1),
        "output": (outputs[0], f"[1, {num_classes}]", lambda s: s == [1, num_classes]),
    }
    for role, (detail, shape_text, shape_ok) in expected.items():
        dtype = np.dtype(detail["dtype"])
        shape = [int(d) for d in detail["shape"]]
        scale, zero_point = detail["quantization"]
        if dtype != np.int8 or not shape_ok(shape) or not scale > 0:
            raise BundleError(
                f"Model {model_name} {role} {detail['name']!r} must be quantized int8 "
                f"{shape_text}. Received: dtype={dtype}, shape={shape}, scale={scale}, "
                f"zero_point={zero_point}"
            )
    return inputs[0], outputs[0]


def _check_samples(images, labels, height: int, width: int, num_classes: int):
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (height, width):
        raise BundleError(
            f"sample_images must be uint8 [N, {height}, {width}] (or [N, {height}, {width}, 1]). "
            f"Received: dtype={images.dtype}, shape={np.asarray(images).shape}"
        )
    labels = np.asarray(labels)
    if not 1 <= len(images) <= 32 or labels.shape != (len(images),):
        raise BundleError(
            f"Expected 1 to 32 sample images and one label each. Received: {len(images)} images, "
            f"labels of shape {labels.shape}"
        )
    integer = np.issubdtype(labels.dtype, np.integer)
    if not integer or labels.min() < 0 or labels.max() >= num_classes:
        raise BundleError(
            f"sample_labels must be integers in [0, {num_classes}). Received: {labels.tolist()}"
        )
    return images, [int(label) for label in labels]


def _tensor_entry(detail: dict) -> dict:
    scale, zero_point = detail["quantization"]
    return {
        "name": str(detail["name"]),
        "shape": [int(d) for d in detail["shape"]],
        "dtype": np.dtype(detail["dtype"]).name,
        # float32 values written as the float64 that holds them exactly: the apps read them
        # back as Float and get the same bits.
        "scale": float(np.float32(scale)),
        "zero_point": int(zero_point),
    }


def _file_entry(name: str, data: bytes) -> dict:
    return {"file": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _onnx_entry(name: str, data: bytes) -> dict:
    import onnx

    try:
        graph = onnx.load_model_from_string(data).graph
    except Exception as exc:  # onnx raises DecodeError and others; the file is the problem
        raise BundleError(f"ONNX file {name} cannot be parsed: {exc}") from exc
    initializers = {t.name for t in graph.initializer}

    def value_entry(value) -> dict:
        tensor_type = value.type.tensor_type
        dims = tensor_type.shape.dim
        return {
            "name": value.name,
            "shape": [d.dim_value if d.HasField("dim_value") else None for d in dims],
            "dtype": np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor_type.elem_type)).name,
        }

    inputs = [v for v in graph.input if v.name not in initializers]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise BundleError(
            f"ONNX file {name} must have 1 input and 1 output. "
            f"Received: {len(inputs)} inputs, {len(graph.output)} outputs"
        )
    return {
        **_file_entry(name, data),
        "input": value_entry(inputs[0]),
        "output": value_entry(graph.output[0]),
    }


def _contract(
    tflite_file, onnx_file, input_detail, output_detail, class_names, sample_files, labels
) -> dict:
    _, height, width, channels = (int(d) for d in input_detail["shape"])
    models = {
        "tflite": {
            **_file_entry(*tflite_file),
            "input": _tensor_entry(input_detail),
            "output": _tensor_entry(output_detail),
        }
    }
    if onnx_file is not None:
        models["onnx"] = _onnx_entry(*onnx_file)
    return {
        "contract_version": CONTRACT_VERSION,
        "task": "image_classification",
        "models": models,
        "labels_file": LABELS_FILE,
        "num_classes": len(class_names),
        "image": {
            "height": height,
            "width": width,
            "channels": channels,
            "layout": "NHWC",
            "polarity": "light_on_dark",
            "normalization": {"rule": "x/255", "divisor": PIXEL_DIVISOR},
            "quantize_rounding": "half_away_from_zero",
        },
        "samples": [{"file": f, "label": label} for f, label in zip(sample_files, labels)],
    }


def _golden(interpreter, input_detail, output_detail, images, labels, sample_files) -> dict:
    in_scale, in_zero_point = input_detail["quantization"]
    out_scale, out_zero_point = output_detail["quantization"]
    samples = []
    for image, label, name in zip(images, labels, sample_files):
        quantized = quantize_pixels(image, in_scale, in_zero_point)
        interpreter.set_tensor(input_detail["index"], quantized.reshape(input_detail["shape"]))
        interpreter.invoke()
        output = np.asarray(interpreter.get_tensor(output_detail["index"])).reshape(-1)
        best = int(np.argmax(output))  # first maximum, as the apps' loops pick it
        confidence = np.float32(out_scale) * np.float32(int(output[best]) - int(out_zero_point))
        samples.append(
            {
                "file": name,
                "label": label,
                "pixels": image.reshape(-1).tolist(),
                "input_int8": quantized.reshape(-1).tolist(),
                "output_int8": output.astype(np.int8).tolist(),
                "argmax": best,
                "confidence": float(confidence),
            }
        )
    return {
        "about": "Written by compiler.bundle from the bundled model; read by the apps' unit tests."
        " quantize_cases: every pixel 0..255, in order, quantized with other scales.",
        "input": _tensor_entry(input_detail),
        "output": _tensor_entry(output_detail),
        "samples": samples,
        "quantize_cases": quantize_cases(),
    }


def normalize_pixels(pixels: np.ndarray) -> np.ndarray:
    """0..255 pixels to the ONNX model's float32 input, ``float32(p) / 255`` as the apps do."""
    return pixels.astype(np.float32) / np.float32(PIXEL_DIVISOR)


def _add_onnx_golden(golden: dict, entry: dict, onnx_bytes: bytes, images: np.ndarray) -> None:
    # The .onnx keeps a float32 input (x / 255) and a float32 output. Its golden outputs come
    # from our runtime (runtime.InferenceSession, onnxruntime's API); tests/demos checks them
    # against onnxruntime itself. The apps must reproduce the float32 input bit for bit.
    from runtime import InferenceSession

    session = InferenceSession(onnx_bytes)
    shape = [1 if d is None else int(d) for d in entry["input"]["shape"]]
    if len(shape) != 4 or shape[1:3] != list(images.shape[1:3]):
        raise BundleError(
            f"ONNX file {entry['file']} input must be [N, {images.shape[1]}, "
            f"{images.shape[2]}, 1] float32. Received: {entry['input']}"
        )
    if entry["input"]["dtype"] != "float32" or entry["output"]["dtype"] != "float32":
        raise BundleError(
            f"ONNX file {entry['file']} must take and give float32. Received: input "
            f"{entry['input']['dtype']}, output {entry['output']['dtype']}"
        )
    golden["onnx"] = {
        "input": entry["input"],
        "output": entry["output"],
        # float32(p) / 255 for every pixel value p = 0..255, in order.
        "pixel_float32": normalize_pixels(np.arange(256)).tolist(),
    }
    for sample, image in zip(golden["samples"], images):
        x = normalize_pixels(image).reshape(shape)
        output = np.asarray(session.run(None, {entry["input"]["name"]: x})[0], np.float32)
        output = output.reshape(-1)
        best = int(np.argmax(output))
        sample["onnx_output_float32"] = output.tolist()
        sample["onnx_argmax"] = best
        sample["onnx_score"] = float(output[best])


# Scales the apps must quantize exactly like quantize_pixels: (1/255)/1.5 in float32 makes
# x/255/scale an exact .5 for every odd pixel (128 ties, where half-to-even rounding would
# differ from half-away half the time); 0.4 makes pixel 255 an exact 2.5; then typical and
# seeded random ones.
_TIE_SCALES = ((0.0026143791619688272, -128), (0.4, -10))
_TYPICAL_SCALES = ((1 / 255, -128), (0.00390625, -128), (0.037230949848890305, -5))


def quantize_cases() -> list[dict]:
    """Every pixel value quantized with a set of scales and zero points (deterministic)."""
    rng = np.random.default_rng(20261127)
    randoms = [(float(10 ** rng.uniform(-3, -1)), int(rng.integers(-128, 128))) for _ in range(6)]
    pixels = np.arange(256)
    return [
        {
            "scale": float(np.float32(scale)),
            "zero_point": zero_point,
            "int8": quantize_pixels(pixels, scale, zero_point).tolist(),
        }
        for scale, zero_point in (*_TIE_SCALES, *_TYPICAL_SCALES, *randoms)
    ]


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "class"


def _json_bytes(value: dict) -> bytes:
    text = json.dumps(value, indent=1, ensure_ascii=False)
    # Arrays of numbers, null or plain strings on one line: readable shapes, short golden files.
    # JSON strings hold no raw newline, so ",\n" inside such an array is always a separator.
    text = _SCALAR_ARRAY.sub(lambda m: "[" + re.sub(r",\n\s*", ", ", m.group(1)) + "]", text)
    return (text + "\n").encode("utf-8")


_SCALAR_ARRAY = re.compile(r"\[\n\s*([^\[\]{}]*?)\n\s*\]")


def _remove_stale_assets(assets_dir: Path, keep: set[str]) -> None:
    # Models and samples of an earlier bundle would ship in the apps without being in the
    # contract. Only the kinds of file bundle_apps writes are touched.
    stale = [*assets_dir.glob("*.tflite"), *assets_dir.glob("*.onnx")]
    stale += assets_dir.glob(f"{SAMPLES_DIR}/*.png")
    for path in stale:
        if path.relative_to(assets_dir).as_posix() not in keep:
            path.unlink()


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda handle: handle.write(data))
