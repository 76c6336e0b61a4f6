"""Bad input to QAT: typed errors that name the problem."""

import numpy as np
import pytest

import compiler
from compiler import keras
from compiler.driver import OptionError
from compiler.keras import layers
from compiler.quantize import prepare_qat
from compiler.quantize.qat import QATError
from tests.compiler.qat._helpers import mobile_net


def test_not_a_model():
    with pytest.raises(QATError, match="needs a compiler.keras model; received ndarray"):
        prepare_qat(np.zeros(3))


def test_unbuilt_sequential():
    model = keras.Sequential([layers.Dense(3)])
    with pytest.raises(QATError, match="is not built"):
        prepare_qat(model)


def test_subclassed_model():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    net = Net()
    net(np.zeros((1, 3), "float32"))
    with pytest.raises(QATError, match="subclassed model"):
        prepare_qat(net)


def test_bad_options():
    with pytest.raises(QATError, match="io must be one of"):
        prepare_qat(mobile_net(), io="uint8")
    with pytest.raises(QATError, match="per-channel weights only"):
        prepare_qat(mobile_net(), per_channel=False)


def test_shared_layer():
    inputs = keras.Input((4,))
    dense = layers.Dense(4)
    model = keras.Model(inputs, dense(dense(inputs)))
    with pytest.raises(QATError, match="called 2 times"):
        prepare_qat(model)


def test_scaling_folded_into_a_convolution_is_refused():
    """A Rescaling before a VALID convolution is folded into its weights by the compiler."""
    inputs = keras.Input((6, 6, 1))
    x = layers.Rescaling(1 / 255)(inputs)
    outputs = layers.Conv2D(2, 3)(x)
    with pytest.raises(QATError, match="rewrites the weights of layer"):
        prepare_qat(keras.Model(inputs, outputs))


def test_compiling_before_any_range_is_learned(tmp_path):
    qat = prepare_qat(mobile_net())  # no calibration, no training yet
    with pytest.raises(QATError, match="has no range yet: train the QAT model"):
        compiler.compile(qat, out_dir=tmp_path, quantize="int8")


def test_plain_model_still_needs_calibration(tmp_path):
    with pytest.raises(OptionError, match="needs --calibration"):
        compiler.compile(mobile_net(), out_dir=tmp_path, quantize="int8")


def test_float_export_of_a_qat_model(tmp_path):
    """quantize='none' writes the trained float model (BatchNorm folded as usual)."""
    model = mobile_net()
    qat = prepare_qat(model)
    plain = compiler.compile(model, to="tflite", out_dir=tmp_path, stem="plain")
    from_qat = compiler.compile(qat, to="tflite", out_dir=tmp_path, stem="qat")
    assert plain.files["tflite"].read_bytes() == from_qat.files["tflite"].read_bytes()
    with pytest.raises(OptionError, match="--io int8 needs --quantize int8"):
        compiler.compile(qat, out_dir=tmp_path, io="int8")
