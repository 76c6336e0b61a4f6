"""Conv2D + MaxPooling2D as one primitive (ops.conv_max_pool) and the models that use it.

The primitive is checked against naive loops (float64) and finite differences; its chunked,
two-thread execution against one chunk on one thread (bit for bit); models against running
their layers one by one, and only the pairs whose conv output nothing else reads are fused.
"""

import importlib

import numpy as np
import pytest

from compiler import keras
from compiler.keras import layers, ops
from tests.compiler.keras.helpers import check_gradients
from tests.compiler.keras.layers.reference import conv2d_ref, pool2d_ref

RNG = np.random.default_rng(5)
conv_pool = importlib.import_module("compiler.keras.ops.conv_pool")
parallel = importlib.import_module("compiler.keras._parallelism")

GEOMETRIES = [
    # (input NHWC, kernel, conv strides, padding, dilation, pool)
    ((2, 8, 8, 3), (3, 3, 3, 4), (1, 1), "valid", (1, 1), (2, 2)),
    ((2, 9, 7, 1), (3, 3, 1, 5), (1, 1), "valid", (1, 1), (2, 2)),  # odd: last row dropped
    ((1, 9, 10, 2), (3, 2, 2, 3), (2, 1), "same", (1, 1), (2, 2)),
    ((2, 11, 9, 2), (2, 3, 2, 3), (1, 1), "valid", (2, 1), (3, 2)),
]


def _reference(x, kernel, bias, strides, padding, dilation, pool, relu):
    out = conv2d_ref(x, kernel, bias, strides=strides, padding=padding, dilation=dilation)
    if relu:
        out = np.maximum(out, 0)
    return pool2d_ref(out, pool, pool, "valid", "max")


@pytest.mark.parametrize("shape, kshape, strides, padding, dilation, pool", GEOMETRIES)
@pytest.mark.parametrize("relu, with_bias", [(True, True), (False, True), (True, False)])
def test_matches_naive_loops(shape, kshape, strides, padding, dilation, pool, relu, with_bias):
    x, kernel = RNG.standard_normal(shape), RNG.standard_normal(kshape)
    bias = RNG.standard_normal(kshape[-1]) if with_bias else None
    got = ops.conv_max_pool(
        x,
        kernel,
        pool,
        strides=strides,
        padding=padding,
        dilation_rate=dilation,
        bias=bias,
        relu=relu,
    )
    expected = _reference(x, kernel, bias, strides, padding, dilation, pool, relu)
    np.testing.assert_allclose(got.data, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape, kshape, strides, padding, dilation, pool", GEOMETRIES)
def test_gradients_match_finite_differences(shape, kshape, strides, padding, dilation, pool):
    x = ops.Tensor(RNG.standard_normal(shape), requires_grad=True)
    kernel = ops.Tensor(RNG.standard_normal(kshape), requires_grad=True)
    bias = ops.Tensor(RNG.standard_normal(kshape[-1]), requires_grad=True)
    out = ops.conv_max_pool(
        x,
        kernel,
        pool,
        strides=strides,
        padding=padding,
        dilation_rate=dilation,
        bias=bias,
        relu=True,
    )
    weights = RNG.standard_normal(out.shape)
    check_gradients(
        lambda: ops.sum(
            ops.conv_max_pool(
                x,
                kernel,
                pool,
                strides=strides,
                padding=padding,
                dilation_rate=dilation,
                bias=bias,
                relu=True,
            )
            * weights
        ),
        [x, kernel, bias],
    )


def _unfused_and_fused(x, kernel, bias, weights, fused):
    tensors = [ops.Tensor(a.copy(), requires_grad=True) for a in (x, kernel, bias)]
    if fused:
        out = ops.conv_max_pool(tensors[0], tensors[1], 2, bias=tensors[2], relu=True)
    else:
        out = ops.max_pool(ops.conv(tensors[0], tensors[1], bias=tensors[2], fuse_relu=True), 2)
    ops.sum(out * weights).backward()
    return [out.data] + [t.grad for t in tensors]


def test_ties_and_dead_units_route_gradients_as_the_separate_ops_do():
    # Small integers in float64: exact sums, many equal maxima (the first one in row-major
    # window order wins) and many zero outputs (ReLU passes no gradient); the unfused ops are
    # the oracle, bit for bit.
    x = RNG.integers(-1, 2, size=(3, 9, 9, 2)).astype(np.float64)
    kernel = RNG.integers(-1, 2, size=(3, 3, 2, 4)).astype(np.float64)
    bias = np.array([0.0, 1.0, -1.0, 2.0])
    weights = RNG.integers(-3, 4, size=(3, 3, 3, 4)).astype(np.float64)
    fused = _unfused_and_fused(x, kernel, bias, weights, fused=True)
    separate = _unfused_and_fused(x, kernel, bias, weights, fused=False)
    for got, expected in zip(fused, separate, strict=True):
        np.testing.assert_array_equal(got, expected)


def _chunked_run(monkeypatch, threads, chunk_bytes, x, kernel, bias, weights):
    monkeypatch.setattr(parallel, "_MIN_ELEMENTS", 0)
    monkeypatch.setattr(conv_pool, "_CHUNK_BYTES", chunk_bytes)
    monkeypatch.setitem(parallel._settings, "workers", threads)
    with parallel.training_call():  # threads live only within such a call
        results = _unfused_and_fused(x, kernel, bias, weights, fused=True)
        with ops.no_grad():
            results.append(ops.conv_max_pool(x, kernel, 2, bias=bias, relu=True).data)
    monkeypatch.undo()
    return results


@pytest.mark.parametrize("batch", [1, 2, 7])
def test_chunks_and_threads_do_not_change_the_numbers(monkeypatch, batch):
    x = RNG.standard_normal((batch, 10, 10, 3)).astype(np.float32)
    kernel = RNG.standard_normal((3, 3, 3, 8)).astype(np.float32)
    bias = RNG.standard_normal(8).astype(np.float32)
    weights = RNG.standard_normal((batch, 4, 4, 8)).astype(np.float32)
    one = _chunked_run(monkeypatch, 1, 1 << 30, x, kernel, bias, weights)
    # One image per chunk, halves on two threads: the kernel gradient is a sum of per-chunk
    # GEMMs, so only the float rounding of that sum may differ from one big GEMM...
    many = _chunked_run(monkeypatch, 2, 1, x, kernel, bias, weights)
    for got, expected in zip(many, one, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    # ...and the thread count never changes a bit.
    serial = _chunked_run(monkeypatch, 1, 1, x, kernel, bias, weights)
    for got, expected in zip(many, serial, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_a_pool_larger_than_the_conv_output_is_a_clear_error():
    with pytest.raises(ValueError, match="pool"):
        ops.conv_max_pool(np.zeros((1, 4, 4, 1)), np.zeros((3, 3, 1, 2)), 3)
    with pytest.raises(ValueError, match="kernel"):
        ops.conv_max_pool(np.zeros((1, 4, 4, 2)), np.zeros((3, 3, 1, 2)), 2)


def _block(activation="relu", pool_kwargs=None):
    return [
        layers.Conv2D(4, 3, activation=activation),
        layers.MaxPooling2D(2, **(pool_kwargs or {})),
    ]


@pytest.fixture
def fused_calls(monkeypatch):
    """Counts the calls of ops.conv_max_pool (how models run fused pairs)."""
    calls = []
    original = ops.conv_max_pool

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(ops, "conv_max_pool", counting)
    return calls


def _output_and_grads(forward, model, x, weights):
    leaf = ops.Tensor(x, requires_grad=True)
    for w in model.trainable_weights:
        w.grad = None
    out = forward(leaf)
    ops.sum(out * weights).backward()
    return [out.data, leaf.grad] + [w.grad.copy() for w in model.trainable_weights]


def _layer_by_layer(model):
    """The oracle: every layer called on its own, so nothing is fused."""

    def forward(x):
        for layer in model.layers:
            x = layer(x)
        return x

    return forward


def _check_against_layers(model, x):
    weights = RNG.standard_normal(model.output_shape[1:]).astype(np.float32)
    got = _output_and_grads(model, model, x, weights)
    expected = _output_and_grads(_layer_by_layer(model), model, x, weights)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "block, fused",
    [
        (_block(), 1),
        (_block(activation=None), 1),
        (_block(activation="tanh"), 0),  # not a ReLU
        (_block(pool_kwargs={"strides": 1}), 0),  # overlapping windows
        (_block(pool_kwargs={"padding": "same"}), 0),  # padded windows
    ],
)
def test_sequential_fuses_only_conv_relu_then_tiling_pool(fused_calls, block, fused):
    model = keras.Sequential([keras.Input((9, 9, 2)), *block])
    x = RNG.standard_normal((3, 9, 9, 2)).astype(np.float32)
    fused_calls.clear()
    model(x)
    assert len(fused_calls) == fused
    _check_against_layers(model, x)


def _functional(conv_is_output=False, second_reader=False):
    inputs = keras.Input((8, 8, 2))
    conv = layers.Conv2D(3, 3, activation="relu")(inputs)
    pooled = layers.Flatten()(layers.MaxPooling2D(2)(conv))
    if second_reader:
        return keras.Model(inputs, layers.Concatenate()([pooled, layers.Flatten()(conv)]))
    return keras.Model(inputs, [pooled, conv] if conv_is_output else pooled)


@pytest.mark.parametrize(
    "conv_is_output, second_reader, fused",
    [
        (False, False, 1),
        (True, False, 0),  # the conv output is a model output
        (False, True, 0),  # another layer reads the conv output
    ],
)
def test_functional_fuses_only_a_conv_output_that_the_pool_alone_reads(
    fused_calls, conv_is_output, second_reader, fused
):
    model = _functional(conv_is_output, second_reader)
    x = RNG.standard_normal((2, 8, 8, 2)).astype(np.float32)
    fused_calls.clear()
    out = model(x)
    assert len(fused_calls) == fused
    conv = model.get_layer(index=1)
    pool = next(layer for layer in model.layers if isinstance(layer, layers.MaxPooling2D))
    expected = pool(conv(x)).data.reshape(2, -1)
    first = out[0] if isinstance(out, list) else out
    np.testing.assert_allclose(first.data[:, : expected.shape[1]], expected, rtol=1e-6)
    if conv_is_output:
        np.testing.assert_allclose(out[1].data, conv(x).data, rtol=1e-6)


def test_the_slide_blocks_train_as_the_unfused_layers(fused_calls):
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((12, 12, 1)),
            layers.Conv2D(4, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(6, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(3, activation="softmax"),
        ]
    )
    x = RNG.random((16, 12, 12, 1)).astype(np.float32)
    fused_calls.clear()
    _check_against_layers(model, x)
    assert len(fused_calls) == 2
