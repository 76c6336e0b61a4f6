"""Parameter choice against TFLite's rules and against TFLiteConverter's own output."""

import numpy as np

from compiler.quantize.params import (
    activation_params,
    quantize_bias,
    quantize_with,
    round_half_away,
    symmetric_weights,
)
from tests._oracles import LITERT, require
from tests.fixtures import KERAS3

FIXTURES = KERAS3


def test_round_half_away_differs_from_numpy_at_ties():
    x = np.array([0.5, 1.5, 2.5, -0.5, -2.5, 0.49999997])
    np.testing.assert_array_equal(round_half_away(x), [1, 2, 3, -1, -3, 0])
    assert not np.array_equal(np.round(x), round_half_away(x))


def test_activation_params_follow_tflite_tooling():
    p = activation_params(0.0, 6.0)  # a ReLU6 output
    assert p.scale[0] == np.float32(6.0 / 255) and p.zero_point[0] == -128
    p = activation_params(-1.0, 3.0)
    scale = np.float32(np.float32(4.0) / np.float32(255))
    assert p.scale[0] == scale
    assert p.zero_point[0] == int(round_half_away(-128 - np.float32(-1.0 / scale)))
    p = activation_params(2.0, 5.0)  # the range always holds 0
    assert p.zero_point[0] == -128 and p.scale[0] == np.float32(np.float32(5) / 255)


def test_zero_range_and_zero_channels_do_not_divide_by_zero():
    p = activation_params(0.0, 0.0)
    assert p.scale[0] > 0 and quantize_with(np.zeros(3, np.float32), p).tolist() == [-128] * 3
    w = np.zeros((3, 2, 2, 1), np.float32)
    w[1] = 0.5
    q, params = symmetric_weights(w, 0)
    assert np.all(params.scale > 0) and q[0].max() == 0 and q[1].max() == 127
    qb, bparams = quantize_bias(np.array([0.1, 0.2, 0.0], np.float32), 0.02, params.scale)
    assert np.all(np.isfinite(bparams.scale)) and qb.dtype == np.int32


def test_weights_per_channel_are_symmetric_in_127():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((8, 3, 3, 4)).astype(np.float32)
    q, p = symmetric_weights(w, 0)
    assert q.dtype == np.int8 and q.min() >= -127 and p.zero_point.tolist() == [0] * 8
    assert np.all(np.abs(q).reshape(8, -1).max(axis=1) == 127)
    np.testing.assert_allclose(q * p.scale[:, None, None, None], w, atol=p.scale.max() / 2 + 1e-7)


def test_bias_is_int32_with_product_scale_and_saturates_symmetrically():
    q, p = quantize_bias(np.array([1.0, -1e12, 1e12], np.float32), 0.5, [0.01, 1e-3, 1e-3])
    assert p.scale.tolist() == [np.float32(0.005), np.float32(5e-4), np.float32(5e-4)]
    assert q.tolist() == [200, -(2**31 - 1), 2**31 - 1]


def test_weights_equal_tflite_converters_bit_for_bit():
    ai_edge = require("ai_edge_litert.interpreter", LITERT)
    from compiler import keras

    model = keras.models.load_model(FIXTURES / "slide_cnn.keras")
    it = ai_edge.Interpreter(model_path=str(FIXTURES / "slide_cnn.int8.tflite"))
    it.allocate_tensors()
    details = {d["name"]: d for d in it.get_tensor_details()}
    ohwi = (3, 0, 1, 2)  # Keras (kh, kw, in, out) -> TFLite (out, kh, kw, in)
    cases = [
        ("slide_cnn_1/conv2d_1/convolution", model.layers[0].get_weights()[0].transpose(ohwi)),
        ("slide_cnn_1/conv2d_1_2/convolution", model.layers[2].get_weights()[0].transpose(ohwi)),
        ("slide_cnn_1/dense_1/MatMul1", model.layers[-1].get_weights()[0].T),
    ]
    for name, weights in cases:
        q, params = symmetric_weights(weights, 0)
        detail = details[name]
        np.testing.assert_array_equal(q, it.get_tensor(detail["index"]))
        np.testing.assert_array_equal(params.scale, detail["quantization_parameters"]["scales"])
