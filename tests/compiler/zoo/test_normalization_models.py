"""EfficientNetB0, EfficientNetV2B0, ConvNeXt and a model of every preprocessing and
normalization layer, built by real Keras 3, through the whole product.

Each model is built in its own process by ``_build_normalization`` (real Keras, numpy backend,
perturbed normalization statistics), then: the frontend loads it and predicts like Keras;
``compile`` writes float ``.tflite`` / ``.onnx`` that LiteRT and onnxruntime run like Keras
(1e-4 of the output's scale); it writes int8 files from the calibration images, on which our
runtime is bit-exact with LiteRT's reference kernels and whose ``.onnx`` opens and runs in
onnxruntime at its default optimization level; our ``InferenceSession`` runs both ``.onnx``.
ConvNeXtTiny is the real 28M-parameter model at 32x32; ConvNeXtMini is ConvNeXt's own builder
at its smallest, with StochasticDepth.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import compiler
import runtime
from compiler import keras
from tests._oracles import KERAS, LITERT, ONNXRUNTIME, missing
from tests.compiler.zoo._harness import (
    FLOAT_TOLERANCE,
    cosine,
    relative_error,
    run_litert,
    run_onnx,
    run_ours,
)

BUILDER = Path(__file__).with_name("_build_normalization.py")

for _module, _install in (
    ("keras", KERAS),
    ("jax", KERAS),
    ("ai_edge_litert", LITERT),
    ("onnxruntime", ONNXRUNTIME),
):
    if importlib.util.find_spec(_module) is None:
        missing(f"the oracle {_module}", _install)


def _build(name: str, workdir: Path) -> Path:
    env = dict(os.environ, KERAS_BACKEND="numpy")
    done = subprocess.run(
        [sys.executable, str(BUILDER), name, str(workdir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"real Keras could not build {name}:\n{done.stderr[-4000:]}"
    return workdir / f"{name}.keras"


def _run_our_onnx(path: Path, x: np.ndarray) -> np.ndarray:
    session = runtime.InferenceSession(str(path))
    return session.run(None, {session.get_inputs()[0].name: x})[0]


# name -> (op types the float .tflite must hold, least int8 logits cosine)
MODELS = {
    "EfficientNetB0": ({"LOGISTIC", "MUL", "DEPTHWISE_CONV_2D", "PAD"}, 0.995),
    "EfficientNetV2B0": ({"LOGISTIC", "MUL", "DEPTHWISE_CONV_2D"}, 0.995),
    "ConvNeXtTiny": ({"MEAN", "SQUARED_DIFFERENCE", "RSQRT", "GELU"}, 0.99),
    "ConvNeXtMini": ({"MEAN", "SQUARED_DIFFERENCE", "RSQRT", "GELU"}, 0.98),
    "Preprocessing": ({"RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "SLICE", "RSQRT"}, 0.995),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_through_the_whole_product(name, tmp_path):
    source = _build(name, tmp_path)
    io = np.load(tmp_path / f"{name}.io.npz")
    x, want, calibration = io["x"], io["y"], io["calibration"]
    ops_wanted, min_cosine = MODELS[name]

    model = keras.models.load_model(source)
    errors = {"frontend": relative_error(model.predict(x, verbose=0), want)}

    floats = compiler.compile(source, out_dir=tmp_path / "float")
    assert ops_wanted <= set(floats.report.ops), floats.report.ops
    errors["litert"] = relative_error(run_litert(floats.files["tflite"], x), want)
    errors["onnxruntime"] = relative_error(run_onnx(floats.files["onnx"], x), want)
    errors["our onnx runtime"] = relative_error(_run_our_onnx(floats.files["onnx"], x), want)
    for where, error in errors.items():
        assert error <= FLOAT_TOLERANCE, f"{name}: {where} float error {error:.3g}"

    ints = compiler.compile(
        source, out_dir=tmp_path / "int8", quantize="int8", calibration=calibration
    )
    reference = run_litert(ints.files["tflite"], x, reference=True)
    np.testing.assert_array_equal(run_ours(ints.files["tflite"], x), reference, err_msg=name)
    assert cosine(reference, want) >= min_cosine
    assert cosine(run_onnx(ints.files["onnx"], x), want) >= min_cosine
    assert cosine(_run_our_onnx(ints.files["onnx"], x), want) >= min_cosine


@pytest.mark.parametrize(
    "name, counts",
    [
        # 5 blocks + stem + 3 downsamplings + head, all over the channel axis.
        ("ConvNeXtMini", {13: (0, 0), 17: (10, 0), 21: (10, 0)}),
        # LayerNormalization over (H, W, C) and after the pooling; one GroupNormalization.
        ("Preprocessing", {13: (0, 0), 17: (2, 0), 21: (2, 1)}),
    ],
)
def test_onnx_normalization_nodes_by_opset(name, counts, tmp_path):
    """LayerNormalization nodes from opset 17, GroupNormalization from 21 (its per-channel
    version); builtins below. onnxruntime and our InferenceSession run each file like Keras."""
    import onnx

    source = _build(name, tmp_path)
    io = np.load(tmp_path / f"{name}.io.npz")
    for opset, (layer_norms, group_norms) in counts.items():
        path = compiler.compile(source, to="onnx", out_dir=tmp_path / str(opset), opset=opset)
        path = path.files["onnx"]
        kinds = [node.op_type for node in onnx.load(str(path)).graph.node]
        assert (kinds.count("LayerNormalization"), kinds.count("GroupNormalization")) == (
            layer_norms,
            group_norms,
        ), opset
        for run in (run_onnx, _run_our_onnx):
            assert relative_error(run(path, io["x"]), io["y"]) <= FLOAT_TOLERANCE, (opset, run)
