"""The QAT model's forward pass against the int8 file compiled from it, run by our runtime
(bit-exact with LiteRT's reference kernels, see tests/runtime): equal int8 outputs (outside
training the simulation requantizes convolutions, Dense, MEAN and MUL with the kernels'
integer arithmetic and looks LOGISTIC / TANH up in their tables), within one step after
SOFTMAX, whose fixed-point function it does not reproduce."""

import numpy as np
import pytest

from compiler.quantize import prepare_qat
from compiler.quantize.qat import QATWarning
from tests.compiler.qat._helpers import (
    compile_int8,
    images,
    mobile_net,
    runtime_int8_outputs,
    runtime_int8_run,
    simulated_int8,
)


def _trained_qat(model, x, epochs=1):
    qat = prepare_qat(model, calibration=x[:32])
    qat.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    y = np.random.default_rng(3).integers(0, model.output_shape[-1], len(x))
    qat.fit(x, y, batch_size=16, epochs=epochs, verbose=0)
    return qat


def _assert_matches(qat, path, x, exact_fraction):
    got, params = runtime_int8_outputs(path, x)
    sim = simulated_int8(qat, x, params)
    steps = np.abs(sim - got.astype(np.int64))
    assert steps.max() <= 1, f"simulation and file differ by {steps.max()} steps"
    assert np.mean(steps == 0) >= exact_fraction, np.mean(steps == 0)
    assert np.mean(sim.argmax(1) == got.argmax(1)) >= 0.95


def test_mobile_net_simulation_matches_compiled_int8(tmp_path):
    x = images(96)
    qat = _trained_qat(mobile_net(), x)
    result = compile_int8(qat, tmp_path, io="int8")
    _assert_matches(qat, result.files["tflite"], images(128, seed=7), 1.0)


def test_global_average_pooling_is_the_int8_mean_kernels_arithmetic(tmp_path):
    """MEAN's truncated fixed-point multiplier (not a plain rounding of the mean): exact."""
    from compiler import keras
    from compiler.keras import layers

    inputs = keras.Input((7, 7, 6))
    x = layers.MaxPooling2D(1)(inputs)  # keeps the input's parameters on the way
    model = keras.Model(inputs, layers.GlobalAveragePooling2D()(x))
    x = np.random.default_rng(0).normal(1.0, 2.0, size=(64, 7, 7, 6)).astype("float32")
    qat = prepare_qat(model, calibration=x)
    result = compile_int8(qat, tmp_path, io="int8")
    got, params = runtime_int8_outputs(result.files["tflite"], x)
    np.testing.assert_array_equal(simulated_int8(qat, x, params), got.astype(np.int64))


def test_io_given_to_prepare_qat_is_the_compiled_default(tmp_path):
    qat = prepare_qat(mobile_net(), io="int8", calibration=images(16))
    result = compile_int8(qat, tmp_path)
    assert result.report.io == "int8"
    float_io = compile_int8(qat, tmp_path, io="float", stem="float_io")
    assert float_io.report.io == "float"


def test_untrained_prepared_model_matches_ptq_file(tmp_path):
    """Ranges from calibration and no training: the QAT file is the PTQ file, byte for byte."""
    model, x = mobile_net(seed=4), images(32)
    qat = prepare_qat(model, calibration=x)
    ptq = compile_int8(model, tmp_path, calibration=x, stem="ptq")
    from_qat = compile_int8(qat, tmp_path, stem="qat")
    assert ptq.files["tflite"].read_bytes() == from_qat.files["tflite"].read_bytes()


def test_dense_softmax_and_sigmoid_outputs(tmp_path):
    """Pre-activation quantizers (a Dense's output before its softmax / sigmoid) and the
    fixed output parameters of SOFTMAX and LOGISTIC."""
    from compiler import keras
    from compiler.keras import layers

    keras.utils.set_random_seed(5)
    inputs = keras.Input((6,))
    h = layers.Dense(8, activation="sigmoid")(inputs)
    outputs = layers.Dense(4, activation="softmax")(h)
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(2).normal(size=(200, 6)).astype("float32")
    qat = prepare_qat(model, calibration=x)
    fixed = {q.target: q.fixed for q in qat.layers if getattr(q, "fixed", None)}
    assert set(fixed.values()) == {(1 / 256, -128)}
    result = compile_int8(qat, tmp_path, io="int8")
    # The int8 SOFTMAX kernel evaluates its function in fixed point, which the float
    # simulation (function, then rounding) follows to within one step.
    _assert_matches(qat, result.files["tflite"], x, 0.99)


def test_float_island_warns_and_stays_float(tmp_path):
    """ABS and SQRT have no int8 kernel here: float islands in the file and in the model."""
    from compiler import keras
    from compiler.keras import layers, ops

    keras.utils.set_random_seed(6)
    inputs = keras.Input((6,))
    h = layers.Dense(8)(inputs)
    h = ops.sqrt(ops.abs(h) + 1.0)
    outputs = layers.Dense(3, activation="softmax")(h)
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(2).normal(size=(200, 6)).astype("float32")
    with pytest.warns(QATWarning, match=r"stay float.*ABS.*SQRT"):
        qat = prepare_qat(model, calibration=x)
    result = compile_int8(qat, tmp_path, io="int8")
    assert {i.split()[-1] for i in result.report.float_islands} == {"(ABS)", "(SQRT)"}
    _assert_matches(qat, result.files["tflite"], x, 1.0)


def _squeeze_excite_model():
    """A conv feature map scaled by a MobileNetV3-style sigmoid gate (GlobalAveragePooling2D,
    1x1 Conv2D with ReLU, 1x1 Conv2D with sigmoid, Multiply), then tanh in both forms (a
    Dense's own, an Activation layer)."""
    from compiler import keras
    from compiler.keras import layers

    keras.utils.set_random_seed(7)
    inputs = keras.Input((8, 8, 3))
    features = layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    s = layers.GlobalAveragePooling2D(keepdims=True)(features)
    s = layers.Conv2D(4, 1, activation="relu")(s)
    gate = layers.Conv2D(8, 1, activation="sigmoid", bias_initializer="random_normal")(s)
    x = layers.Multiply()([features, gate])
    x = layers.GlobalAveragePooling2D()(x)
    t = layers.Activation("tanh")(layers.Dense(32)(x))
    u = layers.Dense(32, activation="tanh")(x)
    outputs = layers.Dense(5)(layers.Concatenate()([t, u]))
    return keras.Model(inputs, [outputs, gate, t, u])


def test_squeeze_excite_gate_multiply_and_tanh_are_the_int8_kernels(tmp_path):
    """MUL (fixed-point product rescaling), the convolution's requantization before its
    sigmoid and the LOGISTIC / TANH tables: every int8 code of the model output and of the
    sigmoid / tanh outputs equals the file's. (Float rounding there differed by up to 3 steps
    on ~4.5 % of the outputs.)"""
    from compiler.quantize.params import round_half_away

    x = np.random.default_rng(1).normal(size=(512, 8, 8, 3)).astype("float32")
    qat = prepare_qat(_squeeze_excite_model(), calibration=x[:64])
    path = compile_int8(qat, tmp_path, io="int8").files["tflite"]
    interpreter = runtime_int8_run(path, x)
    details = interpreter.get_output_details()
    for detail, sim in zip(details, qat.predict(x, verbose=0), strict=True):
        scale, zp = detail["quantization"]
        codes = round_half_away(sim / np.float32(scale)).astype(np.int64) + zp
        got = interpreter.get_tensor(detail["index"]).astype(np.int64)
        np.testing.assert_array_equal(codes, got, err_msg=detail["name"])


def test_function_table_is_the_runtimes():
    """The LOGISTIC / TANH table against the runtime's (bit-exact with LiteRT's kernels)."""
    from compiler.quantize.qat._integer import int8_function_table
    from runtime.tflite.kernels.activations import _lut_int8, _sigmoid32, _tanh32

    for function, fn, out in (
        ("sigmoid", _sigmoid32, (1 / 256, -128)),
        ("tanh", _tanh32, (1 / 128, 0)),
    ):
        for in_scale, in_zero_point in ((0.05, 3), (0.013, -100), (0.2, 127)):
            lut = _lut_int8(fn, in_scale, in_zero_point, *out).view(np.int8)
            expected = np.concatenate([lut[128:], lut[:128]])  # uint8 index order -> code order
            got = int8_function_table(function, in_scale, in_zero_point, *out)
            np.testing.assert_array_equal(got, expected)
