"""Speed paths of the conv / pool primitives give the same numbers as the general ones.

Conv2D carries its bias as a ones column of the im2col matrix only for thin windows
(kh*kw*C < 32) and adds it apart otherwise; max pooling skips its argmax bookkeeping when no
gradient will be asked. Both sides of each switch are checked against naive loops (float64,
1e-12) and, where a gradient flows, finite differences.
"""

import importlib
import os
import select

import numpy as np
import pytest

from compiler import keras
from compiler.keras import layers, ops
from tests.compiler.keras.helpers import check_gradients, check_layer_gradients
from tests.compiler.keras.layers.reference import conv2d_ref, pool2d_ref

RNG = np.random.default_rng(11)


@pytest.mark.parametrize(
    "channels, kernel",
    [
        (1, 3),  # 9 columns: bias in the GEMM
        (3, 3),  # 27: bias in the GEMM
        (4, 3),  # 36: bias added apart
        (32, 3),  # 288, the slide's second conv: bias added apart
    ],
)
@pytest.mark.parametrize("activation", [None, "relu"])
def test_conv2d_bias_paths_match_naive_loops_and_finite_differences(channels, kernel, activation):
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


@pytest.mark.parametrize(
    "hw, pool, strides, padding",
    [
        ((6, 6), (2, 2), None, "valid"),
        ((11, 11), (2, 2), None, "valid"),  # odd size: the last row/column is dropped
        ((7, 5), (3, 2), (2, 1), "same"),  # overlapping windows, -inf padding
    ],
)
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
    np.testing.assert_array_equal(got, pool2d_ref(finite, pool, strides or pool, padding, "max"))


def _conv_relu_pool_grads(monkeypatch, fuse, arrays, weights, also_sum):
    pool_module = importlib.import_module("compiler.keras.ops.pool")
    if not fuse:  # the general path: the pool passes every maximum, the conv masks
        monkeypatch.setattr(pool_module, "fused_relu_context", lambda tensor: None)
    x, kernel, bias = (ops.Tensor(a.copy(), requires_grad=True) for a in arrays)
    out = ops.conv(x, kernel, bias=bias, fuse_relu=True)
    loss = ops.sum(ops.max_pool(out, 2) * weights)
    if also_sum:  # a second consumer of the conv output: its gradient is summed, then masked
        loss = loss + ops.sum(out * 0.5)
    loss.backward()
    monkeypatch.undo()
    return [x.grad, kernel.grad, bias.grad]


@pytest.mark.parametrize("also_sum", [False, True])
def test_pool_after_fused_relu_gives_the_gradients_of_the_unfused_path(monkeypatch, also_sum):
    # Small integers: many conv outputs exactly 0 and many tied maxima, where the order of
    # ReLU mask and pool argmax could matter.
    rng = np.random.default_rng(7)
    arrays = (
        rng.integers(-1, 2, size=(3, 9, 9, 2)).astype(np.float32),
        rng.integers(-1, 2, size=(3, 3, 2, 4)).astype(np.float32),
        np.array([0, 1, -1, 0], np.float32),
    )
    weights = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    fused = _conv_relu_pool_grads(monkeypatch, True, arrays, weights, also_sum)
    plain = _conv_relu_pool_grads(monkeypatch, False, arrays, weights, also_sum)
    for got, expected in zip(fused, plain, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_conv_relu_pool_finite_differences():
    x = ops.Tensor(RNG.standard_normal((2, 8, 8, 2)), requires_grad=True)
    kernel = ops.Tensor(RNG.standard_normal((3, 3, 2, 3)), requires_grad=True)
    bias = ops.Tensor(RNG.standard_normal(3), requires_grad=True)
    weights = RNG.standard_normal((2, 3, 3, 3))
    check_gradients(
        lambda: ops.sum(ops.max_pool(ops.conv(x, kernel, bias=bias, fuse_relu=True), 2) * weights),
        [x, kernel, bias],
    )


def _slide_block_outputs(threads, monkeypatch, x, kernel, bias):
    """The ops' results inside a training call on ``threads`` workers, and whether they
    started the thread pool."""
    parallel = importlib.import_module("compiler.keras._parallelism")
    monkeypatch.setattr(parallel, "_MIN_ELEMENTS", 0)  # split even these small batches
    monkeypatch.setitem(parallel._settings, "workers", threads)
    results = []
    with parallel.training_call():  # threads live only within such a call
        for padding, pool_padding in (("valid", "valid"), ("same", "same")):
            tx, tk, tb = (ops.Tensor(a.copy(), requires_grad=True) for a in (x, kernel, bias))
            out = ops.conv(tx, tk, bias=tb, padding=padding, fuse_relu=True)
            pooled = ops.max_pool(out, 2, padding=pool_padding)
            overlapping = ops.average_pool(out, 3, 2) + ops.max_pool(out, 3, 2)  # no tiling
            (ops.sum(pooled * np.float32(1.5)) + ops.sum(overlapping)).backward()
            with ops.no_grad():
                inference = ops.max_pool(out.data, 3, 2)
            results += [out.data, pooled.data, inference.data, tx.grad, tk.grad, tb.grad]
        # A first layer: one channel, a thin window, the bias as a ones column, no input
        # gradient.
        first = ops.conv(x[..., :1], kernel[:, :, :1], bias=bias, fuse_relu=True)
        results.append(first.data)
        pooled_threads = "executor" in parallel._POOL
    monkeypatch.undo()
    return results, pooled_threads


@pytest.mark.parametrize("batch", [1, 2, 5])
def test_two_thread_halves_give_the_single_thread_results(monkeypatch, batch):
    rng = np.random.default_rng(batch)
    x = rng.standard_normal((batch, 9, 8, 3)).astype(np.float32)
    kernel = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)
    serial, serial_pool = _slide_block_outputs(1, monkeypatch, x, kernel, bias)
    threaded, threaded_pool = _slide_block_outputs(2, monkeypatch, x, kernel, bias)
    assert not serial_pool and threaded_pool == (batch > 1)
    for got, expected in zip(threaded, serial, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_a_forked_child_does_not_wait_on_the_parents_worker_thread(monkeypatch):
    parallel = importlib.import_module("compiler.keras._parallelism")
    monkeypatch.setattr(parallel, "_MIN_ELEMENTS", 0)
    monkeypatch.setitem(parallel._settings, "workers", 2)
    x = np.arange(4 * 4 * 4 * 2, dtype=np.float32).reshape(4, 4, 4, 2)
    with parallel.training_call():
        expected = ops.max_pool(x, 2).data  # starts the worker thread in this process
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: same op, then report through the pipe
            ok = np.array_equal(ops.max_pool(x, 2).data, expected)
            os.write(write, b"1" if ok else b"0")
            os._exit(0)
    os.close(write)
    ready, _, _ = select.select([read], [], [], 20)
    if not ready:
        os.kill(pid, 9)
    os.waitpid(pid, 0)
    assert ready and os.read(read, 1) == b"1", "the forked child hung or got other results"


def test_fit_pins_blas_to_one_thread_only_while_it_runs(monkeypatch):
    import threadpoolctl  # a dependency of the package (compiler.keras._parallelism)

    parallel = importlib.import_module("compiler.keras._parallelism")
    monkeypatch.setitem(parallel._settings, "workers", 2)
    seen = []

    class Probe(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(threadpoolctl.threadpool_info()[0]["num_threads"])

    before = threadpoolctl.threadpool_info()[0]["num_threads"]
    model = keras.Sequential([keras.Input((3,)), layers.Dense(2)])
    model.compile(loss="mse", optimizer="sgd")
    model.fit(np.ones((4, 3)), np.ones((4, 2)), epochs=1, verbose=0, callbacks=[Probe()])
    assert seen == [1]
    assert threadpoolctl.threadpool_info()[0]["num_threads"] == before
