"""MediaPipe's custom ops (Convolution2DTransposeBias, MaxPoolingWithArgmax2D, MaxUnpooling2D)
against LiteRT's default resolver (its XNNPACK delegate runs them; float within 1e-5), and
against loop-by-loop transcriptions of MediaPipe's definitions where LiteRT cannot run them
(strides other than the window, the float index tensor)."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from runtime import Interpreter
from runtime.errors import InvalidModelError
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._builder import GraphBuilder
from tests.runtime.tflite._litert import litert

SAME, VALID = 1, 2  # TfLitePadding


def _params(*fields) -> bytes:
    return struct.pack(f"<{len(fields)}i", *fields)


def _run(data, feeds):
    it = Interpreter(model_content=data)
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), feeds):
        it.set_tensor(d["index"], x)
    it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()]


def _litert(data, feeds):
    # The default resolver: its XNNPACK delegate holds these ops (BUILTIN_REF has none).
    it = litert.Interpreter(model_content=data)
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), feeds):
        it.set_tensor(d["index"], x)
    it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()]


def _deconv_out(size, k, s, padding):
    pad = max(0, k - (size - 1) % s - 1) if padding == SAME else 0
    return s * (size - 1) + k - pad


def deconv_model(in_shape, kernel, stride, padding, rng):
    n, h, w, ic = in_shape
    oc = 3
    weights = rng.normal(0, 1, (oc, kernel[0], kernel[1], ic)).astype(np.float32)
    bias = rng.normal(0, 1, oc).astype(np.float32)
    out = (
        n,
        _deconv_out(h, kernel[0], stride[0], padding),
        _deconv_out(w, kernel[1], stride[1], padding),
        oc,
    )
    g = GraphBuilder()
    x = g.add(in_shape, T.FLOAT32, "x")
    wt = g.add(weights.shape, T.FLOAT32, "w", data=weights)
    b = g.add(bias.shape, T.FLOAT32, "b", data=bias)
    y = g.add(out, T.FLOAT32, "y")
    g.custom("Convolution2DTransposeBias", [x, wt, b], [y], _params(padding, stride[1], stride[0]))
    return g.finish([x], [y]), weights, bias


@pytest.mark.parametrize(
    "in_shape, kernel, stride, padding",
    [
        ((1, 4, 6, 5), (2, 2), (2, 2), SAME),
        ((2, 4, 4, 3), (4, 4), (2, 2), SAME),
        ((1, 3, 5, 2), (3, 3), (1, 1), SAME),
        ((1, 4, 2, 3), (3, 2), (2, 1), SAME),
        ((1, 3, 5, 4), (3, 3), (2, 2), VALID),
    ],
)
def test_transpose_conv_bias_matches_litert(in_shape, kernel, stride, padding):
    rng = np.random.default_rng(sum(in_shape))
    data, _, _ = deconv_model(in_shape, kernel, stride, padding, rng)
    x = rng.normal(0, 1, in_shape).astype(np.float32)
    (ours,) = _run(data, [x])
    (ref,) = _litert(data, [x])
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)


def _deconv_loops(x, weights, bias, stride, padding):
    """MediaPipe's TransposeConvBias, loop for loop."""
    n, h, w, ic = x.shape
    oc, kh, kw, _ = weights.shape
    ph = max(0, kh - (h - 1) % stride[0] - 1) if padding == SAME else 0
    pw = max(0, kw - (w - 1) % stride[1] - 1) if padding == SAME else 0
    oh, ow = stride[0] * (h - 1) + kh - ph, stride[1] * (w - 1) + kw - pw
    out = np.broadcast_to(bias, (n, oh, ow, oc)).astype(np.float64)
    for b in range(n):
        for y in range(h):
            for xx in range(w):
                for fy in range(kh):
                    for fx in range(kw):
                        oy, ox = y * stride[0] - ph // 2 + fy, xx * stride[1] - pw // 2 + fx
                        if 0 <= oy < oh and 0 <= ox < ow:
                            out[b, oy, ox] += weights[:, fy, fx, :] @ x[b, y, xx]
    return out


def test_transpose_conv_bias_odd_sizes_follow_mediapipe():
    """An odd input with SAME padding: MediaPipe's output size (2 * 4 + 2 - 1 = 9), which
    LiteRT's delegate does not share (it takes in * stride), checked against MediaPipe's loops."""
    rng = np.random.default_rng(3)
    data, weights, bias = deconv_model((1, 5, 3, 2), (2, 2), (2, 2), SAME, rng)
    x = rng.normal(0, 1, (1, 5, 3, 2)).astype(np.float32)
    (ours,) = _run(data, [x])
    want = _deconv_loops(x, weights, bias, (2, 2), SAME)
    assert ours.shape == (1, 9, 5, 3)
    np.testing.assert_allclose(ours, want, rtol=1e-5, atol=1e-5)


def pool_unpool_model(in_shape, padding, stride, window, expose_index=False):
    n, h, w, ch = in_shape
    if padding == SAME:
        ph, pw = -(-h // stride[0]), -(-w // stride[1])
    else:
        ph, pw = (h - window[0] + stride[0]) // stride[0], (w - window[1] + stride[1]) // stride[1]
    pooled_shape = (n, ph, pw, ch)
    opts = _params(padding, stride[1], stride[0], window[1], window[0], 0)
    g = GraphBuilder()
    x = g.add(in_shape, T.FLOAT32, "x")
    v = g.add(pooled_shape, T.FLOAT32, "pooled")
    i = g.add(pooled_shape, T.FLOAT32, "argmax")
    u = g.add((n, ph * window[0], pw * window[1], ch), T.FLOAT32, "unpooled")
    g.custom("MaxPoolingWithArgmax2D", [x], [v, i], opts)
    g.custom("MaxUnpooling2D", [v, i], [u], opts)
    return g.finish([x], [v, i, u] if expose_index else [v, u])


@pytest.mark.parametrize("in_shape", [(1, 4, 6, 3), (1, 5, 7, 2), (2, 6, 4, 1)])
def test_pool_argmax_and_unpool_match_litert(in_shape):
    """LiteRT's delegate pools with stride == window and unpools only with VALID padding (a
    lone SAME argmax pool crashes it), so SAME is checked against MediaPipe's loops below."""
    rng = np.random.default_rng(sum(in_shape))
    data = pool_unpool_model(in_shape, VALID, (2, 2), (2, 2))
    x = rng.normal(0, 1, in_shape).astype(np.float32)
    x[0, 0, 0, 0] = x[0, 0, 1, 0]  # a tie: the first maximum wins
    ours = _run(data, [x])
    ref = _litert(data, [x])
    for a, b in zip(ours, ref):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=0)


def _pool_loops(x, padding, stride, window):
    """MediaPipe's MaxPoolArgmax and MaxUnpooling, loop for loop."""
    n, h, w, ch = x.shape
    sh, sw = stride
    kh, kw = window
    if padding == SAME:
        oh, ow = -(-h // sh), -(-w // sw)
    else:
        oh, ow = (h - kh + sh) // sh, (w - kw + sw) // sw
    pt = max(((oh - 1) * sh + kh - h) // 2, 0)
    pl = max(((ow - 1) * sw + kw - w) // 2, 0)
    vals = np.zeros((n, oh, ow, ch), np.float32)
    idx = np.zeros((n, oh, ow, ch), np.float32)
    for b, oy, ox, c in np.ndindex(n, oh, ow, ch):
        y0, x0 = oy * sh - pt, ox * sw - pl
        best, by, bx = np.finfo(np.float32).min, 0, 0
        for fy in range(max(0, -y0), min(kh, h - y0)):
            for fx in range(max(0, -x0), min(kw, w - x0)):
                if x[b, y0 + fy, x0 + fx, c] > best:
                    best, by, bx = x[b, y0 + fy, x0 + fx, c], fy, fx
        # ActivationFunctionWithMinMax with CalculateActivationRange(NONE): [lowest, max]
        vals[b, oy, ox, c] = min(max(best, np.finfo(np.float32).min), np.finfo(np.float32).max)
        idx[b, oy, ox, c] = np.float32(by * kw + bx) + np.float32(0.1)
    uh, uw = oh * kh, ow * kw
    ut = max(((oh - 1) * sh + kh - uh) // 2, 0)
    ul = max(((ow - 1) * sw + kw - uw) // 2, 0)
    un = np.zeros((n, uh, uw, ch), np.float32)
    for b, y, xx, c in np.ndindex(n, oh, ow, ch):
        k = int(idx[b, y, xx, c])
        uy, ux = y * sh - ut + k // kw, xx * sw - ul + k % kw
        if 0 <= uy < uh and 0 <= ux < uw:
            un[b, uy, ux, c] = vals[b, y, xx, c]
    return vals, idx, un


@pytest.mark.parametrize(
    "in_shape, padding, stride, window",
    [
        ((1, 5, 6, 2), SAME, (2, 2), (3, 3)),
        ((1, 6, 5, 2), VALID, (1, 2), (2, 3)),
        ((2, 4, 4, 1), SAME, (2, 2), (2, 2)),
    ],
)
def test_pool_argmax_index_and_strides_follow_mediapipe(in_shape, padding, stride, window):
    rng = np.random.default_rng(7)
    x = rng.normal(0, 1, in_shape).astype(np.float32)
    x[..., 1, :] = -np.inf  # all-lowest rows: value lowest, index 0.1, as MediaPipe's loop
    data = pool_unpool_model(in_shape, padding, stride, window, expose_index=True)
    values, index, unpooled = _run(data, [x])
    want = _pool_loops(x, padding, stride, window)
    for got, expected in zip((values, index, unpooled), want):
        np.testing.assert_array_equal(got, expected)


def test_unpooling_skips_out_of_range_and_non_finite_indices():
    opts = _params(SAME, 2, 2, 2, 2, 0)
    g = GraphBuilder()
    v = g.add((1, 1, 2, 1), T.FLOAT32, "v")
    i = g.add((1, 1, 2, 1), T.FLOAT32, "i")
    u = g.add((1, 2, 4, 1), T.FLOAT32, "u")
    g.custom("MaxUnpooling2D", [v, i], [u], opts)
    data = g.finish([v, i], [u])
    values = np.array([5.0, 7.0], np.float32).reshape(1, 1, 2, 1)
    for bad in (np.nan, np.inf, -7.2, 1e30, 9.1):
        index = np.array([3.1, bad], np.float32).reshape(1, 1, 2, 1)
        (out,) = _run(data, [values, index])
        want = np.zeros((1, 2, 4, 1), np.float32)
        want[0, 1, 1, 0] = 5.0
        np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize(
    "options, message",
    [(_params(0, 2, 2), "neither SAME"), (_params(SAME, 0, 2), "strides"), (b"", "neither SAME")],
)
def test_bad_custom_options_are_refused(options, message):
    g = GraphBuilder()
    x = g.add((1, 2, 2, 1), T.FLOAT32, "x")
    w = g.add((1, 2, 2, 1), T.FLOAT32, "w", data=np.ones((1, 2, 2, 1), np.float32))
    b = g.add((1,), T.FLOAT32, "b", data=np.zeros(1, np.float32))
    y = g.add((1, 4, 4, 1), T.FLOAT32, "y")
    g.custom("Convolution2DTransposeBias", [x, w, b], [y], options)
    with pytest.raises(InvalidModelError, match=message):
        Interpreter(model_content=g.finish([x], [y])).allocate_tensors()


def test_pool_argmax_on_nan_and_inf_follows_mediapipe():
    # ``cur > max`` from lowest: a NaN never wins, +inf does and is clamped to FLT_MAX
    rng = np.random.default_rng(8)
    x = rng.normal(0, 1, (1, 6, 6, 2)).astype(np.float32)
    x[0, 0, 0, 0] = x[0, 3, 4, 1] = np.nan
    x[0, 2, 2, :] = np.inf
    x[0, 4:, 4:, 0] = np.nan  # an all-NaN window: lowest, index 0.1
    data = pool_unpool_model(x.shape, SAME, (2, 2), (2, 2), expose_index=True)
    values, index, unpooled = _run(data, [x])
    want = _pool_loops(x, SAME, (2, 2), (2, 2))
    for got, expected in zip((values, index, unpooled), want):
        np.testing.assert_array_equal(got, expected)
