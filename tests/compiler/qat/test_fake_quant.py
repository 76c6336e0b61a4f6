"""Fake-quantization forward (the compiler's own parameters and rounding) and gradients:
straight-through inside the range (the staircase's slope measured by finite differences over
whole steps), zero outside, and the range's gradients from the clipped values."""

import numpy as np
import pytest

from compiler.keras import ops
from compiler.keras.variables import Variable
from compiler.quantize.params import activation_params, quantize_with, symmetric_weights
from compiler.quantize.qat._ops import fake_quant, fake_quant_weights, nudged_range


def _fq(x, lo, hi):
    return fake_quant(ops.as_tensor(np.asarray(x, np.float32)), lo, hi).data


def test_forward_is_quantize_then_dequantize_with_compiler_params():
    x = np.random.default_rng(0).normal(0, 2, 1000).astype(np.float32)
    lo, hi = -1.3, 2.7
    params = activation_params(lo, hi)
    q = quantize_with(x, params).astype(np.float32)
    expected = (q - np.float32(params.zero_point[0])) * params.scale[0]  # DEQUANTIZE, float32
    np.testing.assert_array_equal(_fq(x, lo, hi), expected)


def test_range_always_holds_zero_exactly():
    assert _fq([0.0], 0.5, 3.0)[0] == 0.0
    assert _fq([0.0], -3.0, -0.5)[0] == 0.0


def test_straight_through_gradient_equals_staircase_slope_over_whole_steps():
    lo, hi = -1.0, 3.0
    params = activation_params(lo, hi)
    step = float(params.scale[0])
    low, high = nudged_range(params.scale[0], int(params.zero_point[0]))
    x = np.float32([-0.75, -0.2, 0.0, 0.33, 1.7, 2.5])  # inside
    t = Variable(x.copy(), trainable=True)
    ops.sum(fake_quant(t, lo, hi) * 1.0).backward()
    # Finite differences over k whole steps: the staircase rises exactly k steps.
    for k in (3, 7):
        moved = _fq(x + np.float32(k * step), lo, hi) - _fq(x, lo, hi)
        np.testing.assert_allclose(moved / (k * step), t.grad, rtol=1e-5)
    assert np.all(t.grad == 1.0)
    outside = np.float32([low - 0.5, low - 3 * step, high + 2 * step, high + 10.0])
    u = Variable(outside.copy(), trainable=True)
    ops.sum(fake_quant(u, lo, hi)).backward()
    np.testing.assert_array_equal(u.grad, 0.0)
    for k in (1, 5):  # clamped: finite differences are zero too
        np.testing.assert_array_equal(
            _fq(outside + np.float32(np.sign(outside) * k * step), lo, hi), _fq(outside, lo, hi)
        )


def test_range_gradients_collect_clipped_values():
    lo, hi = -1.0, 1.0
    x = np.float32([-5.0, -3.0, 0.2, 0.4, 2.0])
    g = np.float32([1.0, 2.0, 3.0, 4.0, 5.0])
    vlo, vhi = Variable(np.float32(lo), trainable=True), Variable(np.float32(hi), trainable=True)
    ops.sum(fake_quant(ops.as_tensor(x), vlo, vhi) * g).backward()
    assert float(vlo.grad) == pytest.approx(3.0)  # values below the range: 1 + 2
    assert float(vhi.grad) == pytest.approx(5.0)

    # Finite differences of the loss in hi, moving the clipped value's level, agree in sign
    # and size to within the rounding of the in-range values.
    def loss(h):
        return float(np.sum(_fq(x, lo, h) * g))

    h = 1e-2
    assert (loss(hi + h) - loss(hi - h)) / (2 * h) == pytest.approx(5.0, abs=1.5)


def test_fixed_parameters():
    x = np.float32([0.0, 0.1, 0.5, 0.999, 1.0])
    out = fake_quant(ops.as_tensor(x), 0.0, 0.0, scale=1 / 256, zero_point=-128).data
    np.testing.assert_array_equal(out, np.float32([0.0, 26 / 256, 128 / 256, 255 / 256, 255 / 256]))


@pytest.mark.parametrize("axis", [0, 1])
def test_weights_are_the_compilers_int8_weights_with_identity_gradient(axis):
    w = np.random.default_rng(1).normal(size=(4, 5)).astype(np.float32)
    w[:, 2] = 0.0  # a channel of zeros stays zero
    q, params = symmetric_weights(w, axis)
    shape = [1, 1]
    shape[axis] = -1
    expected = q.astype(np.float32) * params.scale.reshape(shape)
    t = Variable(w.copy(), trainable=True)
    out = fake_quant_weights(t, axis=axis)
    np.testing.assert_array_equal(out.data, expected)
    ops.sum(out * 2.0).backward()
    np.testing.assert_array_equal(t.grad, np.full_like(w, 2.0))


def test_layer_ranges_start_at_first_batch_then_follow_moving_averages():
    from compiler.quantize.qat import FakeQuant

    layer = FakeQuant("x", ema_decay=0.9)
    x = np.float32([[-1.0, 2.0]])
    assert np.array_equal(layer(x, training=False).data, x)  # nothing seen: unchanged
    layer(x, training=True)
    assert layer.range == (-1.0, 2.0)
    layer(np.float32([[-3.0, 4.0]]), training=True)
    assert layer.range == pytest.approx((-1.2, 2.2))
    layer(np.float32([[5.0, 9.0]]), training=False)  # inference leaves the range alone
    assert layer.range == pytest.approx((-1.2, 2.2))


def test_trainable_range_learns_by_gradient_not_moving_average():
    from compiler import keras
    from compiler.keras import layers
    from compiler.quantize import prepare_qat
    from compiler.quantize.qat import fake_quants

    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, layers.Dense(3)(inputs))
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    qat = prepare_qat(model, calibration=x[:8], trainable_ranges=True)
    before = [q.range for q in fake_quants(qat)]
    assert all(q.range_min.trainable for q in fake_quants(qat))
    qat.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    qat.fit(x, 10 * np.ones((64, 3), "float32"), batch_size=16, epochs=2, verbose=0)
    after = [q.range for q in fake_quants(qat)]
    # Targets far above the output range: the loss pushes the output's max up.
    assert after[-1][1] > before[-1][1]
