"""BatchNormalization folding in QAT: at inference the wrapper's float weights are the
compiler's folded weights bit for bit (moving statistics); in training it folds the batch's
statistics and updates the moving ones as BatchNormalization does."""

import numpy as np
import pytest

from compiler import keras
from compiler.keras import layers
from compiler.quantize import prepare_qat
from compiler.quantize.qat import QuantizeWrapper
from compiler.quantize.qat._plan import ir_layout, optimized_graph
from tests.compiler.qat._helpers import images, mobile_net, perturb_batch_norms


def _wrappers(qat):
    return {w.layer.name: w for w in qat.layers if isinstance(w, QuantizeWrapper)}


def test_folded_weights_equal_the_compilers_bit_for_bit():
    model = mobile_net(seed=2)
    graph = optimized_graph(model)
    wrappers = _wrappers(prepare_qat(model))
    assert sum(w.batch_norm is not None for w in wrappers.values()) == 4
    checked = 0
    for op in graph.ops:
        if op.type not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        wrapper = wrappers[op.inputs[1].name.split("/")[0]]
        kernel, bias = wrapper.folded_weights()
        np.testing.assert_array_equal(ir_layout(wrapper.kind, kernel), op.inputs[1].data)
        np.testing.assert_array_equal(bias, op.inputs[2].data)
        checked += 1
    assert checked == 6


@pytest.mark.parametrize("kind", ["Conv2D", "DepthwiseConv2D", "Dense"])
def test_training_folds_batch_statistics_like_batch_normalization(kind):
    keras.utils.set_random_seed(3)
    inputs = keras.Input((6, 6, 3) if kind != "Dense" else (5,))
    if kind == "Conv2D":
        conv = layers.Conv2D(4, 3, padding="same")
    elif kind == "DepthwiseConv2D":
        conv = layers.DepthwiseConv2D(3, depth_multiplier=2)
    else:
        conv = layers.Dense(4)
    outputs = layers.BatchNormalization(momentum=0.9)(conv(inputs))
    model = perturb_batch_norms(keras.Model(inputs, outputs))
    wrapper = _wrappers(prepare_qat(model))[conv.name]
    reference = layers.BatchNormalization.from_config(model.layers[-1].get_config())
    reference.build(outputs.shape)
    reference.set_weights(model.layers[-1].get_weights())
    x = np.random.default_rng(4).normal(size=(16, *inputs.shape[1:])).astype("float32")
    expected = reference(conv(x), training=True).data
    got = wrapper(x, training=True).data
    # Same normalization; only the int8 rounding of the folded weights separates them.
    scale = np.abs(expected).max()
    assert np.abs(got - expected).max() < 0.05 * scale
    np.testing.assert_allclose(
        wrapper.batch_norm.moving_mean.data, reference.moving_mean.data, rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        wrapper.batch_norm.moving_variance.data, reference.moving_variance.data, rtol=1e-4
    )


def test_training_gradients_reach_kernel_gamma_and_beta():
    model = mobile_net(seed=5)
    qat = prepare_qat(model, calibration=images(16))
    from compiler.keras import ops

    x = images(8)
    out = qat(x, training=True)
    ops.sum(out * np.random.default_rng(0).normal(size=out.shape).astype("float32")).backward()
    wrapper = next(w for w in _wrappers(qat).values() if w.batch_norm is not None)
    for variable in (wrapper.layer.kernel, wrapper.batch_norm.gamma, wrapper.batch_norm.beta):
        assert variable.grad is not None and np.any(variable.grad != 0)


def test_inference_gradient_is_the_float_conv_gradient_at_rounded_weights():
    """Straight-through weights: d out / d kernel of the wrapper equals the gradient of a
    float conv evaluated at the int8-rounded folded weights, times the BN scale; checked by
    finite differences of that (linear) float conv."""
    keras.utils.set_random_seed(8)
    inputs = keras.Input((5, 5, 2))
    conv = layers.Conv2D(3, 3, use_bias=False)
    model = perturb_batch_norms(keras.Model(inputs, layers.BatchNormalization()(conv(inputs))))
    wrapper = _wrappers(prepare_qat(model))[conv.name]
    x = np.random.default_rng(1).normal(size=(2, 5, 5, 2)).astype("float32")
    r = np.random.default_rng(2).normal(size=(2, 3, 3, 3)).astype("float32")
    from compiler.keras import ops

    ops.sum(wrapper(x, training=False) * r).backward()
    grad = wrapper.layer.kernel.grad
    bn = wrapper.batch_norm
    s = bn.gamma.data / np.sqrt(bn.moving_variance.data + bn.epsilon)
    h = 1e-2
    w0 = wrapper.layer.kernel.data.astype(np.float64)
    for index in [(0, 0, 0, 0), (1, 2, 1, 2), (2, 1, 0, 1)]:
        e = np.zeros_like(w0)
        e[index] = h

        def loss(w):
            return float(np.sum(ops.conv(x.astype(np.float64), w).data * r))

        fd = (loss(w0 + e) - loss(w0 - e)) / (2 * h)
        assert grad[index] == pytest.approx(fd * s[index[-1]], rel=1e-3, abs=1e-4)
