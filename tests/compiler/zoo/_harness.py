"""The zoo check: one real Keras 3 model through the whole product.

``check_zoo_model(name, workdir)``:

1. real Keras builds the model (random weights, perturbed BatchNorm statistics), saves
   ``.keras`` and predicts (``_build_real``, in its own process);
2. the frontend loads the file and predicts like Keras (1e-4 of the output's scale);
3. ``compiler.compile`` writes float ``.tflite`` / ``.onnx``: LiteRT and onnxruntime run them
   like Keras (1e-4);
4. it writes int8 ``.tflite`` / ``.onnx`` from the model's calibration images: our runtime is
   bit-exact with LiteRT's reference kernels on the ``.tflite``; the ``.onnx`` opens in
   onnxruntime at its default optimization level; the int8 logits of both files stay close
   to the float ones (cosine similarity).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import compiler
import runtime
from compiler import keras

BUILDER = Path(__file__).with_name("_build_real.py")
FLOAT_TOLERANCE = 1e-4


@dataclass
class ZooResult:
    """What the check measured, for the test's report and the benchmark."""

    name: str
    float_error: dict
    int8_cosine: dict
    files: dict


def build_with_real_keras(name: str, workdir: Path, timeout: float = 300) -> Path:
    """Runs ``_build_real`` for ``name``; returns the ``.keras`` path (``.io.npz`` beside)."""
    # The numpy backend whatever this process chose (other tests import Keras on JAX).
    env = dict(os.environ, KERAS_BACKEND="numpy")
    done = subprocess.run(
        [sys.executable, str(BUILDER), name, str(workdir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"real Keras could not build {name}:\n{done.stderr[-4000:]}")
    return workdir / f"{name}.keras"


def relative_error(got, want) -> float:
    """Max absolute error over the output's scale (max |want|, at least 1)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    return float(np.abs(got - want).max() / max(1.0, float(np.abs(want).max())))


def cosine(a, b) -> float:
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def run_litert(path: Path, x: np.ndarray, reference: bool = False) -> np.ndarray:
    from ai_edge_litert import interpreter as litert

    kwargs = {}
    if reference:
        kwargs["experimental_op_resolver_type"] = litert.OpResolverType.BUILTIN_REF
    return _run_tflite(litert.Interpreter(model_path=str(path), **kwargs), x)


def run_ours(path: Path, x: np.ndarray) -> np.ndarray:
    return _run_tflite(runtime.Interpreter(model_path=str(path)), x)


def _run_tflite(interp, x: np.ndarray) -> np.ndarray:
    (detail,) = interp.get_input_details()
    interp.resize_tensor_input(detail["index"], list(x.shape))
    interp.allocate_tensors()
    interp.set_tensor(detail["index"], x.astype(np.float32))
    interp.invoke()
    (out,) = interp.get_output_details()
    return np.array(interp.get_tensor(out["index"]))


def onnx_session(path: Path):
    """onnxruntime at its default optimization level (ORT_ENABLE_ALL, the QDQ fusions on)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    # On x86 CPUs without VNNI onnxruntime rewrites int8 QDQ groups to uint8 x int8 kernels
    # that saturate pairwise sums to int16; keeping them int8 keeps its arithmetic the file's.
    options.add_session_config_entry("session.qdqisint8allowed", "1")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_onnx(path: Path, x: np.ndarray) -> np.ndarray:
    session = onnx_session(path)
    return session.run(None, {session.get_inputs()[0].name: x.astype(np.float32)})[0]


def check_zoo_model(name: str, workdir: Path, min_cosine: float = 0.98) -> ZooResult:
    """Runs every check above on zoo model ``name``; raises AssertionError on a failure."""
    source = build_with_real_keras(name, workdir)
    io = np.load(workdir / f"{name}.io.npz")
    x, want, calibration = io["x"], io["y"], io["calibration"]

    model = keras.models.load_model(source)
    float_error = {"frontend": relative_error(model.predict(x, verbose=0), want)}

    out = workdir / "out"
    floats = compiler.compile(source, out_dir=out).files
    float_error["litert"] = relative_error(run_litert(floats["tflite"], x), want)
    float_error["onnxruntime"] = relative_error(run_onnx(floats["onnx"], x), want)
    for where, error in float_error.items():
        assert error <= FLOAT_TOLERANCE, f"{name}: {where} float error {error:.3g}"

    ints = compiler.compile(source, out_dir=out, quantize="int8", calibration=calibration).files
    reference = run_litert(ints["tflite"], x, reference=True)
    np.testing.assert_array_equal(run_ours(ints["tflite"], x), reference, err_msg=name)
    import onnxruntime as ort

    # Opens as a user opens it: no options, the default optimization level and providers.
    ort.InferenceSession(str(ints["onnx"]), providers=["CPUExecutionProvider"])
    cosines = {"tflite": cosine(reference, want), "onnx": cosine(run_onnx(ints["onnx"], x), want)}
    for fmt, value in cosines.items():
        assert value >= min_cosine, f"{name}: int8 {fmt} logits cosine {value:.4f} < {min_cosine}"
    files = {f"float.{k}": v.stat().st_size for k, v in floats.items()}
    files.update({f"int8.{k}": v.stat().st_size for k, v in ints.items()})
    return ZooResult(name, float_error, cosines, files)
