"""A small model trained by the frontend keeps its accuracy in 16x8: the compiled file's
predictions agree with the float model's (int16 activations leave only the int8 weights'
rounding)."""

import numpy as np

import runtime
from compiler import keras
from compiler.export.tflite import write_tflite
from compiler.lower import lower_model
from compiler.passes import PassManager, default_passes
from compiler.quantize import quantize_graph


def _bars(rng, n):
    """10x10 images of a horizontal bar, a vertical bar or a square, with noise."""
    x = rng.normal(0, 0.2, (n, 10, 10, 1)).astype(np.float32)
    y = rng.integers(0, 3, n)
    for i, label in enumerate(y):
        a, b = rng.integers(1, 8, 2)
        if label == 0:
            x[i, a, 1:9, 0] += 2.0
        elif label == 1:
            x[i, 1:9, b, 0] += 2.0
        else:
            x[i, a : a + 3, b : b + 3, 0] += 2.0
    return x, y


def test_16x8_keeps_a_trained_models_accuracy():
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    x_train, y_train = _bars(rng, 480)
    x_test, y_test = _bars(rng, 300)
    model = keras.Sequential(
        [
            keras.Input((10, 10, 1)),
            keras.layers.Conv2D(8, 3, activation="relu", padding="same"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=15, batch_size=32, verbose=0)
    p_float = model.predict(x_test, verbose=0)
    float_accuracy = np.mean(p_float.argmax(1) == y_test)
    assert float_accuracy > 0.9  # the task is learned

    graph = PassManager(default_passes()).call(lower_model(model)).graph
    q = quantize_graph(graph, "int16x8", x_train[:100])
    it = runtime.Interpreter(model_content=write_tflite(q))
    it.resize_tensor_input(it.get_input_details()[0]["index"], list(x_test.shape))
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x_test)
    it.invoke()
    p16 = it.get_tensor(it.get_output_details()[0]["index"])
    assert np.mean(p16.argmax(1) == p_float.argmax(1)) >= 0.99
    assert abs(np.mean(p16.argmax(1) == y_test) - float_accuracy) <= 0.01
    assert np.abs(p16 - p_float).max() < 0.02
