"""Bounded, deterministic fuzz of the conv and pooling primitives against the naive loops."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.keras import ops
from tests.compiler.keras.layers.reference import conv2d_ref, pool2d_ref

FUZZ = settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@st.composite
def conv_problems(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    c = groups * draw(st.integers(1, 3))
    filters = groups * draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dilated = draw(st.booleans())
    strides = (1, 1) if dilated else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if dilated else (1, 1)
    padding = draw(st.sampled_from(["valid", "same"]))
    extent = ((kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1)
    h = draw(st.integers(1 if padding == "same" else extent[0], extent[0] + 5))
    w = draw(st.integers(1 if padding == "same" else extent[1], extent[1] + 5))
    seed = draw(st.integers(0, 2**16))
    return (h, w, c, filters, (kh, kw), strides, dilation, padding, groups, seed)


@FUZZ
@given(conv_problems(), st.booleans(), st.booleans())
def test_conv_forward_and_gradients_match_the_naive_loops(problem, use_bias, relu):
    h, w, c, filters, kernel_hw, strides, dilation, padding, groups, seed = problem
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, h, w, c))
    kernel = rng.standard_normal((*kernel_hw, c // groups, filters))
    bias = rng.standard_normal(filters) if use_bias else None
    expected = conv2d_ref(x, kernel, bias, strides, padding, dilation, groups)
    if relu:
        expected = np.maximum(expected, 0)
    tx, tk = ops.Tensor(x, requires_grad=True), ops.Tensor(kernel, requires_grad=True)
    tb = None if bias is None else ops.Tensor(bias, requires_grad=True)
    out = ops.conv(
        tx, tk, strides=strides, padding=padding, dilation_rate=dilation, bias=tb, fuse_relu=relu
    )
    np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-10)
    # The gradient of sum(out * r) is linear in r: compare against a finite-difference-free
    # oracle, the transpose of the naive convolution applied to one-hot perturbations.
    r = rng.standard_normal(out.shape)
    ops.sum(out * r).backward()
    mask = (expected > 0) if relu else np.ones_like(expected, bool)
    eps = 1e-6
    for tensor, array in ((tx, x), (tk, kernel)):
        flat = array.reshape(-1)
        for index in rng.choice(flat.size, size=min(6, flat.size), replace=False):
            old = flat[index]
            flat[index] = old + eps
            plus = conv2d_ref(x, kernel, bias, strides, padding, dilation, groups)
            flat[index] = old - eps
            minus = conv2d_ref(x, kernel, bias, strides, padding, dilation, groups)
            flat[index] = old
            numeric = (((plus - minus) / (2 * eps)) * r * mask).sum()
            np.testing.assert_allclose(
                tensor.grad.reshape(-1)[index], numeric, rtol=1e-5, atol=1e-6
            )
    if tb is not None:
        np.testing.assert_allclose(tb.grad, (r * mask).sum(axis=(0, 1, 2)), rtol=1e-10)


@FUZZ
@given(
    st.integers(1, 9),
    st.integers(1, 9),
    st.integers(1, 4),
    st.integers(1, 4),
    st.integers(1, 4),
    st.integers(1, 4),
    st.sampled_from(["valid", "same"]),
    st.sampled_from(["max", "average"]),
    st.integers(0, 2**16),
)
def test_pooling_matches_the_naive_loops(h, w, ph, pw, sh, sw, padding, mode, seed):
    if padding == "valid" and (ph > h or pw > w):
        return
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, h, w, 3))
    pool = ops.max_pool if mode == "max" else ops.average_pool
    t = ops.Tensor(x, requires_grad=True)
    out = pool(t, (ph, pw), strides=(sh, sw), padding=padding)
    np.testing.assert_allclose(
        out.data, pool2d_ref(x, (ph, pw), (sh, sw), padding, mode), rtol=1e-12, atol=1e-12
    )
    ops.sum(out).backward()
    # Every output sends its whole gradient (1) back: to one input (max) or spread (average).
    np.testing.assert_allclose(t.grad.sum(), out.size, rtol=1e-10)
