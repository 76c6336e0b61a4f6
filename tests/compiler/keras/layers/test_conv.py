"""Conv1D / Conv2D / DepthwiseConv2D / SeparableConv2D vs naive loops and finite differences."""

import numpy as np
import pytest

from compiler import keras
from compiler.keras import layers, ops
from tests.compiler.keras.helpers import check_layer_gradients
from tests.compiler.keras.layers.reference import (
    check_config_round_trip,
    conv2d_ref,
    depthwise_ref,
    symbolic_shape,
)

RNG = np.random.default_rng(7)
CONV_CASES = [
    # (input hwc, filters, kernel, strides, padding, dilation, groups)
    ((6, 7, 3), 4, (3, 3), (1, 1), "valid", (1, 1), 1),
    ((7, 6, 2), 3, (3, 2), (2, 2), "same", (1, 1), 1),
    ((8, 8, 4), 6, (3, 3), (1, 1), "same", (2, 2), 2),
    ((6, 5, 3), 2, (2, 3), (2, 1), "same", (1, 1), 1),
    ((5, 5, 4), 4, (1, 1), (1, 1), "valid", (1, 1), 1),
    ((9, 8, 2), 2, (4, 4), (3, 2), "valid", (1, 1), 1),
    ((6, 6, 1), 3, (3, 3), (2, 2), "same", (1, 1), 1),  # one channel: per-offset im2col
    ((6, 6, 6), 6, (2, 2), (1, 1), "valid", (1, 1), 3),
]


def _build(layer, x):
    layer(x[:1])
    for w in layer.weights:
        w.assign(RNG.standard_normal(w.shape))
    return layer


@pytest.mark.parametrize("hwc, filters, kernel, strides, padding, dilation, groups", CONV_CASES)
def test_conv2d_matches_naive_loops_and_finite_differences(
    hwc, filters, kernel, strides, padding, dilation, groups
):
    x = RNG.standard_normal((2, *hwc))
    layer = _build(
        layers.Conv2D(
            filters,
            kernel,
            strides=strides,
            padding=padding,
            dilation_rate=dilation,
            groups=groups,
            dtype="float64",
        ),
        x,
    )
    got = layer(x).data
    expected = conv2d_ref(x, layer.kernel.data, layer.bias.data, strides, padding, dilation, groups)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert symbolic_shape(
        layers.Conv2D(
            filters, kernel, strides=strides, padding=padding, dilation_rate=dilation, groups=groups
        ),
        hwc,
    ) == (None, *got.shape[1:])
    check_layer_gradients(layer, x)


def test_conv2d_float32_stays_float32_and_activation_applies():
    x = RNG.standard_normal((2, 6, 6, 3)).astype(np.float32)
    layer = layers.Conv2D(5, 3, activation="relu", padding="same")
    out = layer(x)
    assert out.dtype == np.float32
    assert layer.kernel.shape == (3, 3, 3, 5) and layer.bias.shape == (5,)
    ref = np.maximum(
        conv2d_ref(
            x.astype(np.float64),
            layer.kernel.data.astype(np.float64),
            layer.bias.data,
            padding="same",
        ),
        0,
    )
    np.testing.assert_allclose(out.data, ref, rtol=1e-5, atol=1e-5)


def test_conv2d_fused_relu_matches_relu_of_conv_and_its_gradient():
    x = RNG.standard_normal((2, 6, 6, 3))
    layer = _build(layers.Conv2D(4, 3, padding="same", activation="relu", dtype="float64"), x)
    expected = np.maximum(conv2d_ref(x, layer.kernel.data, layer.bias.data, padding="same"), 0)
    np.testing.assert_allclose(layer(x).data, expected, atol=1e-12)
    check_layer_gradients(layer, x)
    # TensorFlow's ReLU gradient at exactly 0 is 0: nothing flows back from a zero output.
    zero = _build(layers.Conv2D(2, 1, use_bias=False, activation="relu", dtype="float64"), x)
    zero.kernel.assign(np.zeros((1, 1, 3, 2)))
    t = ops.Tensor(x, requires_grad=True)
    ops.sum(zero(t)).backward()
    np.testing.assert_array_equal(t.grad, 0)


def test_conv2d_without_bias_and_first_layer_skips_input_gradient():
    x = RNG.standard_normal((2, 5, 5, 2))
    layer = _build(layers.Conv2D(3, 2, use_bias=False, dtype="float64"), x)
    assert [w.name for w in layer.weights] == ["kernel"]
    np.testing.assert_allclose(layer(x).data, conv2d_ref(x, layer.kernel.data), atol=1e-12)
    check_layer_gradients(layer, x)
    # A constant input (no requires_grad): the kernel still gets its gradient, the input none.
    const = ops.Tensor(x)
    ops.sum(layer(const)).backward()
    assert const.grad is None and layer.kernel.grad is not None


@pytest.mark.parametrize(
    "padding, dilation, strides",
    [
        ("valid", 1, 1),
        ("same", 1, 2),
        ("causal", 2, 1),
        ("causal", 1, 1),
    ],
)
def test_conv1d_is_conv2d_on_a_height_one_image(padding, dilation, strides):
    x = RNG.standard_normal((2, 9, 3))
    layer = _build(
        layers.Conv1D(
            4, 3, strides=strides, padding=padding, dilation_rate=dilation, dtype="float64"
        ),
        x,
    )
    got = layer(x).data
    if padding == "causal":
        padded = np.pad(x, ((0, 0), (2 * dilation, 0), (0, 0)))
        expected = conv2d_ref(
            padded[:, None], layer.kernel.data[None], layer.bias.data, dilation=(1, dilation)
        )[:, 0]
    else:
        expected = conv2d_ref(
            x[:, None],
            layer.kernel.data[None],
            layer.bias.data,
            (1, strides),
            padding,
            (1, dilation),
        )[:, 0]
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert symbolic_shape(
        layers.Conv1D(4, 3, strides=strides, padding=padding, dilation_rate=dilation), (9, 3)
    ) == (None, *got.shape[1:])
    check_layer_gradients(layer, x)


@pytest.mark.parametrize(
    "mult, strides, padding, dilation",
    [
        (1, (1, 1), "valid", (1, 1)),
        (2, (1, 1), "same", (1, 1)),
        (3, (2, 2), "same", (1, 1)),
        (2, (1, 1), "same", (2, 2)),
    ],
)
def test_depthwise_conv2d(mult, strides, padding, dilation):
    x = RNG.standard_normal((2, 7, 6, 3))
    layer = _build(
        layers.DepthwiseConv2D(
            3,
            strides=strides,
            padding=padding,
            depth_multiplier=mult,
            dilation_rate=dilation,
            dtype="float64",
        ),
        x,
    )
    assert layer.kernel.shape == (3, 3, 3, mult) and layer.bias.shape == (3 * mult,)
    got = layer(x).data
    expected = depthwise_ref(x, layer.kernel.data, layer.bias.data, strides, padding, dilation)
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert symbolic_shape(
        layers.DepthwiseConv2D(
            3, strides=strides, padding=padding, depth_multiplier=mult, dilation_rate=dilation
        ),
        (7, 6, 3),
    ) == (None, *got.shape[1:])
    check_layer_gradients(layer, x)


def test_depthwise_conv1d():
    x = RNG.standard_normal((2, 8, 3))
    layer = _build(
        layers.DepthwiseConv1D(3, depth_multiplier=2, padding="same", dtype="float64"), x
    )
    expected = depthwise_ref(x[:, None], layer.kernel.data[None], layer.bias.data, padding="same")[
        :, 0
    ]
    np.testing.assert_allclose(layer(x).data, expected, atol=1e-12)
    check_layer_gradients(layer, x)


def test_separable_conv2d_is_depthwise_then_pointwise():
    x = RNG.standard_normal((2, 7, 7, 3))
    layer = _build(
        layers.SeparableConv2D(
            4, 3, strides=2, padding="same", depth_multiplier=2, dtype="float64"
        ),
        x,
    )
    assert [w.name for w in layer.weights] == ["depthwise_kernel", "pointwise_kernel", "bias"]
    assert layer.pointwise_kernel.shape == (1, 1, 6, 4)
    mid = depthwise_ref(x, layer.depthwise_kernel.data, None, (2, 2), "same")
    expected = conv2d_ref(mid, layer.pointwise_kernel.data, layer.bias.data)
    np.testing.assert_allclose(layer(x).data, expected, atol=1e-12)
    assert layer.count_params() == 3 * 3 * 3 * 2 + 6 * 4 + 4
    check_layer_gradients(layer, x)
    sep1 = _build(layers.SeparableConv1D(2, 3, dtype="float64"), x[:, 0])
    check_layer_gradients(sep1, x[:, 0])


def test_slide_cnn_parameter_counts_and_shapes():
    keras.layers.Layer  # noqa: B018 - the package imports
    inputs = keras.Input(shape=(28, 28, 1))
    conv1 = layers.Conv2D(32, (3, 3), activation="relu")
    conv2 = layers.Conv2D(64, (3, 3), activation="relu")
    h = conv1(inputs)
    assert h.shape == (None, 26, 26, 32)
    h = layers.MaxPooling2D((2, 2))(h)
    assert h.shape == (None, 13, 13, 32)
    h = conv2(h)
    assert h.shape == (None, 11, 11, 64)
    h = layers.MaxPooling2D((2, 2))(h)
    assert h.shape == (None, 5, 5, 64)
    h = layers.Flatten()(h)
    assert h.shape == (None, 1600)
    h = layers.Dropout(0.5)(h)
    dense = layers.Dense(10, activation="softmax")
    assert dense(h).shape == (None, 10)
    assert (conv1.count_params(), conv2.count_params(), dense.count_params()) == (320, 18496, 16010)


@pytest.mark.parametrize(
    "layer",
    [
        layers.Conv2D(8, 3, strides=2, padding="same", activation="relu6", groups=2),
        layers.Conv1D(4, 5, padding="causal", dilation_rate=2, use_bias=False),
        layers.DepthwiseConv2D((3, 2), depth_multiplier=2, activation="relu"),
        layers.DepthwiseConv1D(3),
        layers.SeparableConv2D(4, 3, depth_multiplier=3, pointwise_initializer="he_normal"),
        layers.SeparableConv1D(4, 3),
    ],
)
def test_conv_config_round_trip(layer):
    clone = check_config_round_trip(layer)
    assert clone.get_config()["kernel_size"] == layer.kernel_size


def test_conv_config_keys_and_defaults_are_keras():
    config = layers.Conv2D(32, 3, name="c").get_config()
    assert list(config) == [
        "name",
        "trainable",
        "dtype",
        "filters",
        "kernel_size",
        "strides",
        "padding",
        "data_format",
        "dilation_rate",
        "groups",
        "activation",
        "use_bias",
        "kernel_initializer",
        "bias_initializer",
        "kernel_regularizer",
        "bias_regularizer",
        "activity_regularizer",
        "kernel_constraint",
        "bias_constraint",
    ]
    assert config["kernel_size"] == (3, 3) and config["strides"] == (1, 1)
    assert config["padding"] == "valid" and config["activation"] == "linear"


def test_conv_errors_name_the_layer_and_the_shapes():
    with pytest.raises(ValueError, match=r'layer "c2".*expected ndim=4, found ndim=3'):
        layers.Conv2D(4, 3, name="c2")(np.zeros((2, 8, 8), np.float32))
    with pytest.raises(ValueError, match="c3.*negative or zero.*kernel_size"):
        layers.Conv2D(4, 5, name="c3")(keras.Input(shape=(3, 3, 1)))
    layer = layers.Conv2D(4, 3, name="c4")
    layer(np.zeros((1, 5, 5, 2), np.float32))
    with pytest.raises(ValueError, match=r'"c4".*axis -1.*value 2.*\(1, 5, 5, 3\)'):
        layer(np.zeros((1, 5, 5, 3), np.float32))
    with pytest.raises(ValueError, match="groups=3.*4 channels"):
        layers.Conv2D(6, 3, groups=3)(np.zeros((1, 5, 5, 4), np.float32))
    with pytest.raises(ValueError, match="filters"):
        layers.Conv2D(0, 3)
    with pytest.raises(ValueError, match="strides > 1"):
        layers.Conv2D(4, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="padding"):
        layers.Conv2D(4, 3, padding="causal")
    with pytest.raises(ValueError, match="channels_last"):
        layers.Conv2D(4, 3, data_format="channels_first")
    with pytest.raises(ValueError, match="kernel_regularizer.*regularizer identifier: 'l7'"):
        layers.Conv2D(4, 3, kernel_regularizer="l7")
    with pytest.raises(ValueError, match="bias_constraint.*constraint identifier: 'max'"):
        layers.Conv2D(4, 3, bias_constraint="max")
    with pytest.raises(ValueError, match="activity_regularizer.*identifier: 3"):
        layers.Conv2D(4, 3, activity_regularizer=3)
    with pytest.raises(ValueError, match="depth_multiplier"):
        layers.DepthwiseConv2D(3, depth_multiplier=0)


def test_ops_follow_keras_signatures():
    x = RNG.standard_normal((1, 7, 7, 4))
    kernel = RNG.standard_normal((3, 3, 2, 6))  # groups inferred: 4 // 2
    out = ops.conv(x, kernel, 2, "same")  # positional strides and padding, as keras.ops.conv
    np.testing.assert_allclose(
        out.data, conv2d_ref(x, kernel, None, (2, 2), "same", groups=2), atol=1e-12
    )
    assert ops.max_pool(x, 2, 1, "same").shape == (1, 7, 7, 4)
    with pytest.raises(ValueError, match="channels_last"):
        ops.conv(x, kernel, data_format="channels_first")
    with pytest.raises(ValueError, match=r"input channels 4.*kernel.shape\[-2\]"):
        ops.conv(x, RNG.standard_normal((3, 3, 3, 6)))
