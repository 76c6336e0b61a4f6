"""A small real-data run: the slide CNN trained briefly on real Fashion-MNIST keeps its accuracy
through int8, and the int8 .tflite and .onnx agree on the class."""

import numpy as np
import pytest

import compiler
import runtime
from compiler import keras
from compiler.keras import layers
from tests import _oracles as oracles


@pytest.fixture(scope="module")
def data():
    (x, y), (xt, yt) = oracles.fashion_mnist()
    return (
        x[:3000, ..., None] / np.float32(255),
        y[:3000],
        xt[:1000, ..., None] / np.float32(255),
        yt[:1000],
    )


def test_int8_keeps_accuracy_and_formats_agree(data, tmp_path):
    x, y, xt, yt = data
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x, y, batch_size=128, epochs=2, verbose=0)
    float_acc = np.mean(model.predict(xt, verbose=0).argmax(1) == yt)
    assert float_acc > 0.7  # it learned

    result = compiler.compile(model, out_dir=tmp_path, quantize="int8", calibration=x[:500])
    it = runtime.Interpreter(model_path=str(result.files["tflite"]))
    inp = it.get_input_details()[0]
    it.resize_tensor_input(inp["index"], list(xt.shape))
    it.allocate_tensors()
    it.set_tensor(inp["index"], xt)
    it.invoke()
    tflite = it.get_tensor(it.get_output_details()[0]["index"])
    onnx = runtime.InferenceSession(str(result.files["onnx"])).run(None, {inp["name"]: xt})[0]

    int8_acc = np.mean(tflite.argmax(1) == yt)
    assert int8_acc >= float_acc - 0.015, (float_acc, int8_acc)
    assert np.mean(tflite.argmax(1) == onnx.argmax(1)) >= 0.99
    # Every tensor stays within a few steps of its float value on real images.
    assert min(t.snr_db for t in result.quantization_report.tensors) > 20
