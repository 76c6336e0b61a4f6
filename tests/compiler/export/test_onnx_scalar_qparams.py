"""Per-tensor quantization parameters are written as true ONNX scalars.

onnxruntime fuses DequantizeLinear -> AveragePool -> QuantizeLinear into QLinearAveragePool,
whose schema requires scalar scales and zero points; a ``[1]``-shaped initializer made the
whole int8 ``.onnx`` of NASNetMobile fail to open at the default optimization level.
"""

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from compiler import keras
from compiler.export.onnx import write_onnx
from compiler.lower import lower_model
from compiler.passes import optimize
from compiler.quantize import calibration_batches, quantize_graph
from tests._oracles import ONNXRUNTIME, require

ort = require("onnxruntime", ONNXRUNTIME)


def _pooling_model():
    layers = keras.layers
    x = keras.Input((12, 12, 3))
    y = layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    a = layers.AveragePooling2D(3, strides=1, padding="same")(y)
    b = layers.MaxPooling2D(2, strides=1, padding="same")(y)
    y = layers.Add()([a, b])
    y = layers.Cropping2D(((1, 0), (0, 1)))(y)
    y = layers.AveragePooling2D(2)(y)
    # No Dense head: onnxruntime's QGemm on AVX2 without VNNI saturates (u8s8), which would
    # hide what this test is about.
    return keras.Model(x, layers.GlobalAveragePooling2D()(y))


@pytest.fixture(scope="module")
def int8_onnx():
    keras.utils.set_random_seed(3)
    graph = optimize(lower_model(_pooling_model())).graph
    rng = np.random.default_rng(0)
    calibration = rng.standard_normal((16, 12, 12, 3)).astype(np.float32)
    q = quantize_graph(graph, "int8", calibration_batches(graph, calibration))
    return write_onnx(q)


def test_per_tensor_scales_and_zero_points_are_scalars(int8_onnx):
    model = onnx.load_from_string(int8_onnx)
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    checked = 0
    for node in model.graph.node:
        if node.op_type not in ("QuantizeLinear", "DequantizeLinear"):
            continue
        per_axis = inits.get(node.input[1], np.zeros(1)).size > 1
        for name in node.input[1:]:
            if name in inits and not per_axis:
                assert inits[name].ndim == 0, f"{node.name}: {name} has shape {inits[name].shape}"
                checked += 1
    assert checked > 10


def test_opens_and_fuses_at_default_optimization_and_agrees(int8_onnx, tmp_path):
    options = ort.SessionOptions()  # default level: ORT_ENABLE_ALL
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    fused = ort.InferenceSession(int8_onnx, options, providers=["CPUExecutionProvider"])
    ops = {n.op_type for n in onnx.load(tmp_path / "optimized.onnx").graph.node}
    assert "QLinearAveragePool" in ops, sorted(ops)
    plain_options = ort.SessionOptions()
    plain_options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    plain = ort.InferenceSession(int8_onnx, plain_options, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).standard_normal((5, 12, 12, 3)).astype(np.float32)
    name = fused.get_inputs()[0].name
    got, want = fused.run(None, {name: x})[0], plain.run(None, {name: x})[0]
    # Integer kernels round where the float QDQ evaluation does not: one output step or two.
    step = _output_step(int8_onnx)
    assert np.abs(got - want).max() <= 2 * step + 1e-6


def _output_step(data: bytes) -> float:
    model = onnx.load_from_string(data)
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    output = model.graph.output[0].name
    (last,) = [n for n in model.graph.node if output in n.output]
    return float(inits[last.input[1]])
