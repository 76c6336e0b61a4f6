"""A QAT model compiles to 16x8 from its learned ranges: no calibration data, every int16
activation scale is max(|min|, |max|) / 32767 of its learned range, and the file is exact
with LiteRT's reference kernels."""

import numpy as np
import pytest

import compiler
import runtime
from compiler import keras
from compiler.quantize import prepare_qat
from compiler.quantize.int16x8 import int16_params
from compiler.quantize.qat import strip_qat
from runtime.tflite.model import read_model
from runtime.tflite.schema import TensorType
from tests.runtime.tflite._litert import compare_all_tensors, litert_interpreter


@pytest.fixture(scope="module")
def qat_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 8, 8, 1)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    qat = prepare_qat(model)
    qat.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    qat.fit(x, y, epochs=1, batch_size=16, verbose=0)
    return qat, x


def test_learned_ranges_make_the_16x8_file(qat_model, tmp_path):
    qat, x = qat_model
    result = compiler.compile(qat, out_dir=tmp_path, quantize="int16x8", to="tflite")
    data = result.files["tflite"].read_bytes()
    learned = strip_qat(qat).ranges
    graph = read_model(data).subgraphs[0]
    checked = 0
    for tensor in graph.tensors:
        if tensor.type == TensorType.INT16 and tensor.name in learned:
            expected = int16_params(*learned[tensor.name])
            assert np.float32(tensor.quantization.scale[0]) == expected.scale[0], tensor.name
            checked += 1
    assert checked >= 2
    ours = runtime.Interpreter(model_content=data, experimental_preserve_all_tensors=True)
    ref = litert_interpreter(model_content=data)
    for it in (ours, ref):
        it.resize_tensor_input(0, [4, 8, 8, 1])
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x[:4])
        it.invoke()
    assert compare_all_tensors(ours, ref) >= len(graph.operators)
