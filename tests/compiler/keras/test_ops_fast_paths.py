"""Speed paths of the conv / pool primitives give the same numbers as the general ones.

Conv2D carries its bias as a ones column of the im2col matrix only for thin windows
(kh*kw*C < 32) and adds it apart otherwise; max pooling skips its argmax bookkeeping when no
gradient will be asked. Both sides of each switch are checked against naive loops (float64,
1e-12) and, where a gradient flows, finite differences.
"""

import numpy as np
import pytest

from compiler.keras import layers, ops
from tests.compiler.keras.helpers import check_layer_gradients
from tests.compiler.keras.layers.reference import conv2d_ref, pool2d_ref

RNG = np.random.default_rng(11)


@pytest.mark.parametrize("channels, kernel", [
    (1, 3),   # 9 columns: bias in the GEMM
    (3, 3),   # 27: bias in the GEMM
    (4, 3),   # 36: bias added apart
    (32, 3),  # 288, the slide's second conv: bias added apart
])
@pytest.mark.parametrize("activation", [None, "relu"])
def test_conv2d_bias_paths_match_naive_loops_and_finite_differences(channels, kernel,
                                                                    activation):
    x = RNG.standard_normal((2, 5, 5, channels))
    layer = layers.Conv2D(3, kernel, activation=activation, dtype="float64")
    layer(x[:1])
    layer.kernel.assign(RNG.standard_normal(layer.kernel.shape))
    layer.bias.assign(RNG.standard_normal(3))
    expected = conv2d_ref(x, layer.kernel.data, layer.bias.data)
    if activation == "relu":
        expected = np.maximum(expected, 0)
    np.testing.assert_allclose(layer(x).data, expected, rtol=1e-12, atol=1e-12)
    if channels < 32:  # finite differences on 288-wide windows would take seconds
        check_layer_gradients(layer, x)
    else:
        t = ops.Tensor(x, requires_grad=True)
        ops.sum(layer(t)).backward()
        # d(sum)/d(bias) = number of output pixels (times the ReLU mask).
        out = layer(x).data
        live = (out > 0) if activation == "relu" else np.ones_like(out, dtype=bool)
        np.testing.assert_allclose(layer.bias.grad, live.sum(axis=(0, 1, 2)), rtol=1e-12)


@pytest.mark.parametrize("hw, pool, strides, padding", [
    ((6, 6), (2, 2), None, "valid"),
    ((11, 11), (2, 2), None, "valid"),   # odd size: the last row/column is dropped
    ((7, 5), (3, 2), (2, 1), "same"),    # overlapping windows, -inf padding
])
def test_max_pool_inference_path_equals_the_training_path(hw, pool, strides, padding):
    # Small integers: many ties, so the argmax bookkeeping is exercised.
    x = RNG.integers(-3, 4, size=(2, *hw, 3)).astype(np.float32)
    x[0, 0, 0, 0] = np.nan
    with ops.no_grad():
        inference = ops.max_pool(x, pool, strides, padding).data
    t = ops.Tensor(x.copy(), requires_grad=True)
    training = ops.max_pool(t, pool, strides, padding)
    np.testing.assert_array_equal(inference, training.data)  # NaN where NaN
    finite = np.nan_to_num(x, nan=-100.0)
    with ops.no_grad():
        got = ops.max_pool(finite, pool, strides, padding).data
    np.testing.assert_array_equal(got, pool2d_ref(finite, pool, strides or pool, padding,
                                                  "max"))
