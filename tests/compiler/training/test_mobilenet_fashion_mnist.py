"""Training check: a small MobileNetV2-style network learns Fashion-MNIST with the frontend,
and its int8 export keeps the float accuracy.

32x32 inputs (the 28x28 images zero-padded), inverted residual blocks (1x1 expansion, ReLU6,
3x3 depthwise, 1x1 linear projection, BatchNormalization after each, a residual add where the
shape allows), global average pooling and a softmax head. Trained on a class-balanced subset
for a few epochs; the int8 ``.tflite`` is run in our runtime and the int8 ``.onnx`` in
onnxruntime on the test subset.
"""

import numpy as np
import pytest

import compiler
import runtime
from compiler import keras
from tests._oracles import ONNXRUNTIME, require
from tests.compiler.zoo._harness import onnx_session

TRAIN, TEST = 3000, 1000
layers = keras.layers


def _bn(name):
    # momentum 0.9 (Keras's default is 0.99): a few hundred steps must be enough for the
    # moving statistics that inference uses to follow the batch statistics.
    return layers.BatchNormalization(momentum=0.9, name=name)


def _inverted_residual(x, expansion, filters, stride, name):
    channels = x.shape[-1]
    y = layers.Conv2D(channels * expansion, 1, use_bias=False, name=f"{name}_expand")(x)
    y = _bn(name=f"{name}_expand_bn")(y)
    y = layers.ReLU(6.0, name=f"{name}_expand_relu")(y)
    y = layers.DepthwiseConv2D(
        3, strides=stride, padding="same", use_bias=False, name=f"{name}_dw"
    )(y)
    y = _bn(name=f"{name}_dw_bn")(y)
    y = layers.ReLU(6.0, name=f"{name}_dw_relu")(y)
    y = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_project")(y)
    y = _bn(name=f"{name}_project_bn")(y)
    if stride == 1 and channels == filters:
        y = layers.Add(name=f"{name}_add")([x, y])
    return y


def _mobilenet_v2_style():
    x = keras.Input((32, 32, 1))
    y = layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False, name="stem")(x)
    y = _bn(name="stem_bn")(y)
    y = layers.ReLU(6.0, name="stem_relu")(y)
    y = _inverted_residual(y, 2, 16, 1, "block1")
    y = _inverted_residual(y, 3, 24, 2, "block2")
    y = _inverted_residual(y, 3, 24, 1, "block3")
    y = _inverted_residual(y, 3, 32, 2, "block4")
    y = layers.GlobalAveragePooling2D()(y)
    return keras.Model(x, layers.Dense(10, activation="softmax", name="classes")(y))


def _subset(images, labels, count, seed):
    """``count`` images, the same number of each class, zero-padded to 32x32, in [0, 1]."""
    rng = np.random.default_rng(seed)
    picks = np.concatenate(
        [rng.choice(np.flatnonzero(labels == k), count // 10, replace=False) for k in range(10)]
    )
    rng.shuffle(picks)
    x = np.pad(images[picks], ((0, 0), (2, 2), (2, 2)))[..., None].astype(np.float32) / 255
    return x, labels[picks].astype(np.int64)


@pytest.fixture(scope="module")
def trained():
    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    x_train, y_train = _subset(x_train, y_train, TRAIN, 0)
    x_test, y_test = _subset(x_test, y_test, TEST, 1)
    keras.utils.set_random_seed(0)
    model = _mobilenet_v2_style()
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(x_train, y_train, batch_size=64, epochs=4, verbose=0)
    return model, history, x_train, x_test, y_test


def test_it_learns(trained):
    model, history, _, x_test, y_test = trained
    losses = history.history["loss"]
    assert losses[-1] < 0.7 * losses[0], losses
    accuracy = float(np.mean(np.argmax(model.predict(x_test, verbose=0), axis=1) == y_test))
    assert accuracy >= 0.65, accuracy  # chance is 0.10


def test_int8_export_keeps_accuracy_within_one_point(trained, tmp_path):
    model, _, x_train, x_test, y_test = trained
    float_accuracy = float(np.mean(np.argmax(model.predict(x_test, verbose=0), axis=1) == y_test))
    files = compiler.compile(
        model, out_dir=tmp_path, stem="mnv2", quantize="int8", calibration=x_train[:256]
    ).files
    interp = runtime.Interpreter(model_path=str(files["tflite"]))
    (detail,) = interp.get_input_details()
    interp.resize_tensor_input(detail["index"], list(x_test.shape))
    interp.allocate_tensors()
    interp.set_tensor(detail["index"], x_test)
    interp.invoke()
    probs = interp.get_tensor(interp.get_output_details()[0]["index"])
    int8_accuracy = float(np.mean(np.argmax(probs, axis=1) == y_test))
    assert abs(int8_accuracy - float_accuracy) <= 0.01, (float_accuracy, int8_accuracy)
    require("onnxruntime", ONNXRUNTIME)
    session = onnx_session(files["onnx"])
    onnx_probs = session.run(None, {session.get_inputs()[0].name: x_test})[0]
    onnx_accuracy = float(np.mean(np.argmax(onnx_probs, axis=1) == y_test))
    assert abs(onnx_accuracy - float_accuracy) <= 0.01, (float_accuracy, onnx_accuracy)
