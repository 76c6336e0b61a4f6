"""Training check: a small ViT made by real Keras 3 learns Fashion-MNIST with the frontend, real
Keras reads back what it learned, and its int8 export keeps the float accuracy.

The ViT: 7x7 patches of the 28x28 images by a strided Conv2D, a position Embedding over
``ops.arange`` added in the graph, two pre-norm blocks (LayerNormalization, MultiHeadAttention,
residual Add; LayerNormalization, GELU MLP, residual Add), GlobalAveragePooling1D and a
softmax head. Trained on a class-balanced subset for a few epochs.
"""

import numpy as np
import pytest

import compiler
import runtime
from compiler import keras
from tests._oracles import KERAS, ONNXRUNTIME, fashion_mnist, require

real = require("keras", KERAS)

TRAIN, TEST = 3000, 1000


def _real_vit():
    layers = real.layers
    image = real.Input((28, 28, 1), name="image")
    x = layers.Conv2D(32, 7, strides=7, name="patches")(image)
    x = layers.Reshape((16, 32))(x)
    x = x + layers.Embedding(16, 32, name="positions")(real.ops.arange(16))
    for i in range(2):
        h = layers.LayerNormalization(epsilon=1e-6)(x)
        h = layers.MultiHeadAttention(4, 8, name=f"attention_{i}")(h, h)
        x = layers.Add()([x, h])
        h = layers.LayerNormalization(epsilon=1e-6)(x)
        h = layers.Dense(64, activation="gelu")(h)
        h = layers.Dense(32)(h)
        x = layers.Add()([x, h])
    x = layers.LayerNormalization(epsilon=1e-6)(x)
    x = layers.GlobalAveragePooling1D()(x)
    return real.Model(image, layers.Dense(10, activation="softmax", name="classes")(x))


def _subset(images, labels, count, seed):
    """``count`` images, the same number of each class, in [0, 1]."""
    rng = np.random.default_rng(seed)
    picks = np.concatenate(
        [rng.choice(np.flatnonzero(labels == k), count // 10, replace=False) for k in range(10)]
    )
    rng.shuffle(picks)
    return (images[picks][..., None] / 255).astype(np.float32), labels[picks].astype(np.int64)


def _accuracy(probs, labels):
    return float(np.mean(np.argmax(probs, axis=1) == labels))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    (x_train, y_train), (x_test, y_test) = fashion_mnist()
    x_train, y_train = _subset(x_train, y_train, TRAIN, 0)
    x_test, y_test = _subset(x_test, y_test, TEST, 1)
    real.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("vit") / "vit.keras"
    _real_vit().save(path)
    keras.utils.set_random_seed(0)
    model = keras.models.load_model(path)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(x_train, y_train, batch_size=64, epochs=4, verbose=0)
    return model, history, x_train, x_test, y_test, path.parent


def test_it_learns(trained):
    model, history, _, x_test, y_test, _ = trained
    losses = history.history["loss"]
    assert losses[-1] < 0.6 * losses[0], losses
    assert _accuracy(model.predict(x_test, verbose=0), y_test) >= 0.65  # chance is 0.10


def test_real_keras_reads_the_trained_model(trained):
    model, _, _, x_test, _, workdir = trained
    path = workdir / "trained.keras"
    model.save(path)
    theirs = real.models.load_model(path).predict(x_test[:64], verbose=0)
    np.testing.assert_allclose(theirs, model.predict(x_test[:64], verbose=0), atol=1e-5)


def test_int8_export_keeps_accuracy_within_one_point(trained, tmp_path):
    model, _, x_train, x_test, y_test, _ = trained
    float_accuracy = _accuracy(model.predict(x_test, verbose=0), y_test)
    files = compiler.compile(
        model, out_dir=tmp_path, stem="vit", quantize="int8", calibration=x_train[:256]
    ).files
    interp = runtime.Interpreter(model_path=str(files["tflite"]))
    (detail,) = interp.get_input_details()
    interp.resize_tensor_input(detail["index"], list(x_test.shape))
    interp.allocate_tensors()
    interp.set_tensor(detail["index"], x_test)
    interp.invoke()
    int8_accuracy = _accuracy(interp.get_tensor(interp.get_output_details()[0]["index"]), y_test)
    assert abs(int8_accuracy - float_accuracy) <= 0.01, (float_accuracy, int8_accuracy)
    ort = require("onnxruntime", ONNXRUNTIME)
    options = ort.SessionOptions()
    options.add_session_config_entry("session.qdqisint8allowed", "1")  # see test_transformer_models
    session = ort.InferenceSession(str(files["onnx"]), options, providers=["CPUExecutionProvider"])
    onnx_probs = session.run(None, {session.get_inputs()[0].name: x_test})[0]
    onnx_accuracy = _accuracy(onnx_probs, y_test)
    assert abs(onnx_accuracy - float_accuracy) <= 0.01, (float_accuracy, onnx_accuracy)
