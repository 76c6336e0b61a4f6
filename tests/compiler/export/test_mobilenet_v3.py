"""keras.applications MobileNetV3 (Small and Large, minimalistic or not) through the product.

Real Keras 3 builds each model (the zoo's ``_build_real``, in its own process on Keras's numpy
backend) with random weights and perturbed BatchNormalization statistics. Then: the frontend
loads the file and predicts like Keras (1e-4 of the logits' scale); ``compile`` writes float
``.tflite`` / ``.onnx`` that LiteRT, onnxruntime and our runtime run like Keras (1e-4); the
int8 ``.tflite`` runs bit-exact in our runtime and LiteRT's reference kernels, HARD_SWISH
included, with no float island; the int8 ``.onnx`` opens in onnxruntime at its default
optimization level and both int8 files keep the float logits' direction (cosine >= 0.99).
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import compiler
import runtime
from compiler import keras
from tests._oracles import KERAS, LITERT, ONNXRUNTIME, require

require("keras", KERAS)
litert = require("ai_edge_litert.interpreter", LITERT)
ort = require("onnxruntime", ONNXRUNTIME)

# The zoo's builder (real Keras, numpy backend, perturbed BatchNormalization statistics).
BUILDER = Path(__file__).parents[1] / "zoo" / "_build_real.py"
VARIANTS = {
    "small": "MobileNetV3Small",
    "small_minimalistic": "MobileNetV3SmallMinimalistic",
    "large": "MobileNetV3Large",
    "large_minimalistic": "MobileNetV3LargeMinimalistic",
}
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """variant -> (.keras path, io arrays), each built once per module by real Keras."""
    out = tmp_path_factory.mktemp("mobilenet_v3")
    cache = {}

    def get(variant):
        if variant not in cache:
            env = dict(os.environ, KERAS_BACKEND="numpy")
            done = subprocess.run(
                [sys.executable, str(BUILDER), VARIANTS[variant], str(out)],
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert done.returncode == 0, done.stderr[-3000:]
            name = VARIANTS[variant]
            cache[variant] = (out / f"{name}.keras", np.load(out / f"{name}.io.npz"))
        return cache[variant]

    return get


def _error(got, want) -> float:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape
    return float(np.abs(got - want).max() / max(1.0, float(np.abs(want).max())))


def _cosine(a, b) -> float:
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _tflite(interp, x):
    (detail,) = interp.get_input_details()
    interp.resize_tensor_input(detail["index"], list(x.shape))
    interp.allocate_tensors()
    interp.set_tensor(detail["index"], x)
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"])


def _onnxruntime(path, x):
    options = ort.SessionOptions()  # default optimization level: ORT_ENABLE_ALL
    options.intra_op_num_threads = 1
    # Without VNNI onnxruntime's u8s8 kernels saturate; int8 QDQ groups keep the file's math.
    options.add_session_config_entry("session.qdqisint8allowed", "1")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def _our_onnx(path, x):
    session = runtime.InferenceSession(str(path))
    return session.run(None, {session.get_inputs()[0].name: x})[0]


@pytest.mark.parametrize("variant", VARIANTS)
def test_mobilenet_v3_loads_compiles_and_runs_like_keras(built, variant, tmp_path):
    path, io = built(variant)
    x, want, calibration = io["x"], io["y"], io["calibration"]

    model = keras.saving.load_model(path)
    assert _error(model.predict(x, verbose=0), want) <= TOLERANCE

    result = compiler.compile(path, out_dir=tmp_path)
    files = result.files
    if not variant.endswith("minimalistic"):
        assert result.report.ops.get("HARD_SWISH", 0) > 0
    errors = {
        "litert": _error(_tflite(litert.Interpreter(model_path=str(files["tflite"])), x), want),
        "runtime": _error(_tflite(runtime.Interpreter(model_path=str(files["tflite"])), x), want),
        "onnxruntime": _error(_onnxruntime(files["onnx"], x), want),
        "runtime onnx": _error(_our_onnx(files["onnx"], x), want),
    }
    assert max(errors.values()) <= TOLERANCE, errors

    result = compiler.compile(path, out_dir=tmp_path, quantize="int8", calibration=calibration)
    assert result.report.float_islands == []
    ints = result.files
    reference = _tflite(
        litert.Interpreter(
            model_path=str(ints["tflite"]),
            experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF,
        ),
        x,
    )
    ours = _tflite(runtime.Interpreter(model_path=str(ints["tflite"])), x)
    np.testing.assert_array_equal(ours, reference)
    assert _cosine(reference, want) >= 0.99
    assert _cosine(_onnxruntime(ints["onnx"], x), want) >= 0.99


def test_mobilenet_v3_trains_in_the_frontend(built):
    path, io = built("small")
    keras.utils.set_random_seed(0)  # Dropout's masks: the same run every time
    model = keras.saving.load_model(path)
    x = io["calibration"][:8]
    y = np.arange(8) % 10
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=6, batch_size=8, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before
