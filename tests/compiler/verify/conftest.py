"""Tiny models compiled once per session for the ``compile verify`` tests."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import compiler
from compiler import keras
from tests.fixtures import KERAS3

FIXTURES = KERAS3


@dataclass
class Compiled:
    dir: Path
    keras: Path
    data: Path  # one named array per input, from the calibration distribution
    float_tflite: Path
    float_onnx: Path
    int8_tflite: Path  # float inputs and outputs, int8 inside
    int8_onnx: Path
    int8io_tflite: Path  # int8 inputs and outputs
    int8io_onnx: Path


def _classifier() -> keras.Model:
    """Dense(16, relu) -> Dense(4, softmax) with seeded weights; the last layer's weights are
    large enough that the classes are well apart, so int8 keeps Keras's top-1."""
    rng = np.random.default_rng(7)
    model = keras.Sequential(
        [
            keras.Input((6,), name="features"),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(4, activation="softmax", name="probs"),
        ],
        name="tiny",
    )
    model.get_layer("hidden").set_weights(
        [rng.normal(0, 0.5, (6, 16)).astype("float32"), rng.normal(0, 0.1, 16).astype("float32")]
    )
    model.get_layer("probs").set_weights(
        [rng.normal(0, 2.0, (16, 4)).astype("float32"), np.zeros(4, "float32")]
    )
    return model


def _two_inputs() -> keras.Model:
    """Inputs ``left`` (3) and ``right`` (5); outputs ``score`` (2, softmax) and ``value`` (1)."""
    left = keras.Input((3,), name="left")
    right = keras.Input((5,), name="right")
    hidden = keras.layers.Dense(4, activation="tanh", name="hidden")(left)
    joined = keras.layers.Concatenate()([hidden, right])
    score = keras.layers.Dense(2, activation="softmax", name="score")(joined)
    value = keras.layers.Dense(1, name="value")(joined)
    model = keras.Model([left, right], [score, value], name="pair")
    rng = np.random.default_rng(11)
    for name, fan_in, units, gain in (
        ("hidden", 3, 4, 1.0),
        ("score", 9, 2, 3.0),
        ("value", 9, 1, 1.0),
    ):
        kernel = rng.normal(0, gain / np.sqrt(fan_in), (fan_in, units)).astype("float32")
        model.get_layer(name).set_weights([kernel, rng.normal(0, 0.1, units).astype("float32")])
    return model


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> Compiled:
    out = tmp_path_factory.mktemp("tiny")
    model = _classifier()
    x = np.random.default_rng(0).normal(size=(64, 6)).astype("float32")
    model.save(str(out / "tiny.keras"))
    np.savez(out / "data.npz", features=x[:32])
    compiler.compile(model, out_dir=out, stem="tiny")
    compiler.compile(model, out_dir=out, stem="tiny", quantize="int8", calibration=x)
    compiler.compile(model, out_dir=out, stem="tinyio", quantize="int8", calibration=x, io="int8")
    return Compiled(
        out,
        out / "tiny.keras",
        out / "data.npz",
        out / "tiny.tflite",
        out / "tiny.onnx",
        out / "tiny.int8.tflite",
        out / "tiny.int8.onnx",
        out / "tinyio.int8.tflite",
        out / "tinyio.int8.onnx",
    )


@pytest.fixture(scope="session")
def pair(tmp_path_factory) -> dict:
    """The two-input model as .keras, float .tflite/.onnx and int8 .tflite/.onnx."""
    out = tmp_path_factory.mktemp("pair")
    model = _two_inputs()
    rng = np.random.default_rng(1)
    calibration = {
        "left": rng.normal(size=(32, 3)).astype("float32"),
        "right": rng.normal(size=(32, 5)).astype("float32"),
    }
    model.save(str(out / "pair.keras"))
    compiler.compile(model, out_dir=out, stem="pair")
    compiler.compile(model, out_dir=out, stem="pair", quantize="int8", calibration=calibration)
    return {"dir": out, "calibration": calibration}
