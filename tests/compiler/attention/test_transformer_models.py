"""Small transformers made by real Keras 3, through the whole product.

A ViT-style classifier (patch Conv2D, position Embedding over ``ops.arange`` added in the graph,
two pre-norm MultiHeadAttention blocks with GELU MLPs, GlobalAveragePooling1D, Dense) and a
sequence model (causal self-attention, cross-attention with a separate key, EinsumDense,
Attention), random weights and perturbed LayerNormalization parameters, saved by real Keras:

* the frontend loads each file and predicts like Keras (1e-4 of the output's scale);
* ``compile`` writes float ``.tflite`` / ``.onnx``: LiteRT and onnxruntime run them like Keras
  (1e-4), and so does our runtime;
* it writes int8 files: our runtime is bit-exact with LiteRT's reference kernels on every
  tensor of the ``.tflite``; the ``.onnx`` opens in onnxruntime at its default optimization
  level and our ``InferenceSession`` agrees with onnxruntime's unfused QDQ evaluation; the
  int8 logits' cosine similarity to the float ones is reported and bounded.
"""

from __future__ import annotations

import numpy as np
import pytest

import compiler
import runtime
from compiler import keras as ours
from tests._oracles import KERAS, LITERT, ONNXRUNTIME, require

real = require("keras", KERAS)
litert = require("ai_edge_litert.interpreter", LITERT)
ort = require("onnxruntime", ONNXRUNTIME)

FLOAT_TOLERANCE = 1e-4
MIN_COSINE = 0.99


def _perturb_norms(model, rng):
    for layer in model.layers:
        if type(layer).__name__ == "LayerNormalization":
            gamma, beta = layer.get_weights()
            layer.set_weights(
                [
                    (gamma + 0.3 * rng.standard_normal(gamma.shape)).astype(np.float32),
                    (0.2 * rng.standard_normal(beta.shape)).astype(np.float32),
                ]
            )


def build_vit():
    layers = real.layers
    image = real.Input((32, 32, 3), name="image")
    x = layers.Conv2D(32, 8, strides=8, name="patches")(image)  # 4 x 4 patches
    x = layers.Reshape((16, 32))(x)
    positions = layers.Embedding(
        16, 32, embeddings_initializer=real.initializers.RandomNormal(stddev=0.5)
    )(real.ops.arange(16))
    x = x + positions  # a constant of the graph: Keras saves it inside the Add node
    for i in range(2):
        h = layers.LayerNormalization(epsilon=1e-6, name=f"norm_{i}a")(x)
        h = layers.MultiHeadAttention(4, 8, dropout=0.1, name=f"attention_{i}")(h, h)
        x = layers.Add()([x, h])
        h = layers.LayerNormalization(epsilon=1e-6, name=f"norm_{i}b")(x)
        h = layers.Dense(64, activation="gelu")(h)
        h = layers.Dropout(0.1)(h)
        h = layers.Dense(32)(h)
        x = layers.Add()([x, h])
    x = layers.LayerNormalization(epsilon=1e-6)(x)
    x = layers.GlobalAveragePooling1D()(x)
    return real.Model(image, layers.Dense(10, name="logits")(x), name="vit")


def build_sequence():
    layers = real.layers
    seq = real.Input((12, 16), name="sequence")
    x = layers.Dense(32)(seq)
    h = layers.MultiHeadAttention(4, 8, name="causal")(x, x, use_causal_mask=True)
    x = layers.LayerNormalization()(layers.Add()([x, h]))
    memory = layers.EinsumDense(
        "abc,cd->abd", output_shape=(None, 24), bias_axes="d", activation="relu"
    )(x)
    cross = layers.MultiHeadAttention(2, 6, output_shape=20, name="cross")
    x = cross(x, memory, key=layers.Dense(10)(memory))
    x = layers.Attention(use_scale=True)([x, x], use_causal_mask=True)
    x = layers.GlobalAveragePooling1D()(x)
    return real.Model(seq, layers.Dense(5, name="logits")(x), name="sequence")


MODELS = {"vit": (build_vit, (32, 32, 3)), "sequence": (build_sequence, (12, 16))}


def relative_error(got, want) -> float:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    return float(np.abs(got - want).max() / max(1.0, float(np.abs(want).max())))


def cosine(a, b) -> float:
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _run_tflite(interp, x):
    (detail,) = interp.get_input_details()
    interp.resize_tensor_input(detail["index"], list(x.shape))
    interp.allocate_tensors()
    interp.set_tensor(detail["index"], x.astype(np.float32))
    interp.invoke()
    (out,) = interp.get_output_details()
    return np.array(interp.get_tensor(out["index"]))


def _reference(path, **kwargs):
    return litert.Interpreter(
        model_path=str(path),
        experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF,
        **kwargs,
    )


def _ort(path, optimized=True):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    if optimized:
        # On x86 CPUs without VNNI onnxruntime rewrites int8 QDQ groups to uint8 x int8
        # kernels that saturate pairwise sums; keeping them int8 keeps the file's arithmetic.
        options.add_session_config_entry("session.qdqisint8allowed", "1")
    else:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _run_onnx(session, x):
    return session.run(None, {session.get_inputs()[0].name: x.astype(np.float32)})[0]


@pytest.fixture(scope="module", params=sorted(MODELS))
def made(request, tmp_path_factory):
    """(name, .keras path, test inputs, Keras's outputs, calibration inputs)."""
    name = request.param
    build, shape = MODELS[name]
    real.utils.set_random_seed(7)
    model = build()
    rng = np.random.default_rng(7)
    _perturb_norms(model, rng)
    path = tmp_path_factory.mktemp(name) / f"{name}.keras"
    model.save(path)
    x = rng.standard_normal((6, *shape)).astype(np.float32)
    calibration = rng.standard_normal((48, *shape)).astype(np.float32)
    return name, path, x, np.asarray(model.predict(x, verbose=0)), calibration


@pytest.fixture(scope="module")
def float_files(made):
    name, path, *_ = made
    return compiler.compile(path, out_dir=path.parent / "float").files


@pytest.fixture(scope="module")
def int8_files(made):
    name, path, _, _, calibration = made
    out = path.parent / "int8"
    return compiler.compile(path, out_dir=out, quantize="int8", calibration=calibration).files


def test_frontend_predicts_like_keras(made):
    name, path, x, want, _ = made
    model = ours.models.load_model(path)
    assert relative_error(model.predict(x, verbose=0), want) <= FLOAT_TOLERANCE


def test_float_files_run_like_keras(made, float_files):
    name, _, x, want, _ = made
    tflite, onnx = float_files["tflite"], float_files["onnx"]
    errors = {
        "litert": relative_error(_run_tflite(litert.Interpreter(model_path=str(tflite)), x), want),
        "onnxruntime": relative_error(_run_onnx(_ort(onnx), x), want),
    }
    for where, error in errors.items():
        assert error <= FLOAT_TOLERANCE, f"{name}: {where} float error {error:.3g}"


def test_float_files_run_like_keras_in_our_runtime(made, float_files):
    name, _, x, want, _ = made
    tflite = runtime.Interpreter(model_path=str(float_files["tflite"]))
    assert relative_error(_run_tflite(tflite, x), want) <= FLOAT_TOLERANCE
    session = runtime.InferenceSession(str(float_files["onnx"]))
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    assert relative_error(got, want) <= FLOAT_TOLERANCE


def test_float_tflite_uses_batch_matmul_builtins(float_files):
    interp = litert.Interpreter(model_path=str(float_files["tflite"]))
    ops = {op["op_name"] for op in interp._get_ops_details()}
    assert {"BATCH_MATMUL", "SOFTMAX", "FULLY_CONNECTED", "TRANSPOSE"} <= ops, sorted(ops)


def test_int8_tflite_bit_exact_with_litert_reference(made, int8_files):
    name, _, x, want, _ = made
    path = int8_files["tflite"]
    ours_it = runtime.Interpreter(model_path=str(path), experimental_preserve_all_tensors=True)
    ref = _reference(path, experimental_preserve_all_tensors=True)
    got, expected = _run_tflite(ours_it, x), _run_tflite(ref, x)
    np.testing.assert_array_equal(got, expected)
    compared = 0
    for i, detail in enumerate(ours_it.get_tensor_details()):
        try:
            a = ref.get_tensor(i)
        except ValueError:
            continue
        b = ours_it.get_tensor(i)
        if a.dtype.kind == "f":
            np.testing.assert_allclose(b, a, rtol=0, atol=1e-5, err_msg=detail["name"])
        else:
            np.testing.assert_array_equal(b, a, err_msg=detail["name"])
        compared += 1
    assert compared > 30
    ops = {op["op_name"] for op in ref._get_ops_details()}
    assert {"BATCH_MATMUL", "SOFTMAX", "FULLY_CONNECTED"} <= ops
    similarity = cosine(expected, want)
    print(f"\n{name}: int8 .tflite logits cosine to Keras float {similarity:.5f}")
    assert similarity >= MIN_COSINE


def test_int8_onnx_opens_and_agrees(made, int8_files):
    name, _, x, want, _ = made
    path = int8_files["onnx"]
    fused = _run_onnx(_ort(path), x)  # opens at the default optimization level
    plain = _run_onnx(_ort(path, optimized=False), x)
    session = runtime.InferenceSession(str(path))
    ours_out = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(ours_out, plain, rtol=0, atol=1e-5)
    similarity = cosine(fused, want)
    print(f"\n{name}: int8 .onnx (onnxruntime) logits cosine to Keras float {similarity:.5f}")
    assert similarity >= MIN_COSINE
