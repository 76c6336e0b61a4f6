"""Shared models and runners for the QAT tests: small mobile-style nets with non-trivial
BatchNormalization statistics, and the int8 outputs of a compiled file in our runtime."""

from __future__ import annotations

import numpy as np

import compiler
import runtime
from compiler import keras
from compiler.keras import layers
from compiler.quantize.params import round_half_away


def perturb_batch_norms(model, seed=0):
    """Gives every BatchNormalization statistics far from the identity (folding matters)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            n = layer.moving_mean.data.shape[0]
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, n).astype("float32"),
                    rng.normal(0, 0.2, n).astype("float32"),
                    rng.normal(0, 0.2, n).astype("float32"),
                    rng.uniform(0.3, 2.0, n).astype("float32"),
                ]
            )
    return model


def mobile_net(seed=0, classes=5):
    """Conv/BN/ReLU6, an inverted residual block (expand, depthwise, linear project, Add), a
    Concatenate, global average pooling and a softmax Dense."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((10, 10, 2), name="image")
    x = layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU(6.0)(x)
    y = layers.Conv2D(16, 1, use_bias=False)(x)
    y = layers.BatchNormalization()(y)
    y = layers.ReLU(6.0)(y)
    y = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(y)
    y = layers.BatchNormalization()(y)
    y = layers.Activation("relu6")(y)
    y = layers.Conv2D(8, 1)(y)
    y = layers.BatchNormalization()(y)
    x = layers.Add()([x, y])
    x = layers.Concatenate()([x, y])
    x = layers.MaxPooling2D(2)(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(12, activation="relu")(x)
    outputs = layers.Dense(classes, activation="softmax")(x)
    return perturb_batch_norms(keras.Model(inputs, outputs, name="mobile"), seed)


def images(n=64, seed=1, shape=(10, 10, 2)):
    return np.random.default_rng(seed).random((n, *shape)).astype("float32")


def compile_int8(model, out_dir, **options):
    return compiler.compile(model, to="tflite", out_dir=out_dir, quantize="int8", **options)


def runtime_int8_outputs(path, x):
    """The int8 output of the io=int8 ``.tflite`` at ``path`` on float inputs ``x`` (quantized
    with the file's input parameters), and the output's (scale, zero point)."""
    interpreter = runtime_int8_run(path, x)
    out = interpreter.get_output_details()[0]
    return interpreter.get_tensor(out["index"]), out["quantization"]


def runtime_int8_run(path, x):
    """Our interpreter of the io=int8 ``.tflite`` at ``path``, invoked on float inputs ``x``
    quantized with the file's input parameters."""
    interpreter = runtime.Interpreter(model_path=str(path))
    inp = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(inp["index"], list(x.shape))
    interpreter.allocate_tensors()
    scale, zp = inp["quantization"]
    q = np.clip(round_half_away(x / np.float32(scale)) + zp, -128, 127).astype(np.int8)
    interpreter.set_tensor(inp["index"], q)
    interpreter.invoke()
    return interpreter


def simulated_int8(qat_model, x, params):
    """The QAT model's simulated outputs as int8 codes of the file's output parameters."""
    scale, zp = params
    sim = qat_model.predict(x, verbose=0)
    return (round_half_away(sim / np.float32(scale)) + zp).astype(np.int64)
