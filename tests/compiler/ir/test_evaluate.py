"""The IR evaluator's kernels against direct loop implementations (the oracle of the passes)."""

import numpy as np
import pytest

from compiler.ir import Graph, IRError, QuantParams, evaluate
from compiler.ir._kernels import same_padding

RNG = np.random.default_rng(7)


def _loop_conv(x, w, b, stride, dilation, pads, depthwise_mult=None):
    n, h, wd, c = x.shape
    (pt, pb), (pl, pr) = pads
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    kh, kw = w.shape[1:3]
    oh = (h + pt + pb - (kh - 1) * dilation[0] - 1) // stride[0] + 1
    ow = (wd + pl + pr - (kw - 1) * dilation[1] - 1) // stride[1] + 1
    cout = w.shape[0] if depthwise_mult is None else w.shape[3]
    y = np.zeros((n, oh, ow, cout))
    for i in range(oh):
        for j in range(ow):
            for a in range(kh):
                for bb in range(kw):
                    px = xp[:, i * stride[0] + a * dilation[0], j * stride[1] + bb * dilation[1]]
                    if depthwise_mult is None:
                        y[:, i, j] += px @ w[:, a, bb, :].T
                    else:
                        y[:, i, j] += np.repeat(px, depthwise_mult, axis=1) * w[0, a, bb]
    return y + b


def _run(op_type, x, consts, shape, attrs):
    g = Graph("k")
    xv = g.add_input("x", x.shape)
    ins = [xv] + [None if c is None else g.const(f"c{i}", c) for i, c in enumerate(consts)]
    g.outputs = [g.node(op_type, ins, shape, "y", attrs)]
    return evaluate(g, [x])[0]


@pytest.mark.parametrize(
    "padding, stride, dilation",
    [
        ("VALID", (1, 1), (1, 1)),
        ("SAME", (2, 2), (1, 1)),
        ("SAME", (1, 1), (2, 2)),
        ("SAME", (2, 1), (1, 1)),
    ],
)
def test_conv_matches_loops(padding, stride, dilation):
    x = RNG.normal(size=(2, 7, 6, 3)).astype(np.float32)
    w = RNG.normal(size=(4, 3, 2, 3)).astype(np.float32)
    b = RNG.normal(size=4).astype(np.float32)
    if padding == "SAME":
        pads = (
            same_padding(7, 3, stride[0], dilation[0]),
            same_padding(6, 2, stride[1], dilation[1]),
        )
    else:
        pads = ((0, 0), (0, 0))
    want = _loop_conv(x, w, b, stride, dilation, pads)
    got = _run(
        "CONV_2D",
        x,
        [w, b],
        want.shape,
        {"padding": padding, "stride": stride, "dilation": dilation},
    )
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_depthwise_matches_loops():
    x = RNG.normal(size=(2, 6, 6, 3)).astype(np.float32)
    w = RNG.normal(size=(1, 3, 3, 6)).astype(np.float32)
    b = RNG.normal(size=6).astype(np.float32)
    want = _loop_conv(x, w, b, (1, 1), (1, 1), ((1, 1), (1, 1)), depthwise_mult=2)
    got = _run(
        "DEPTHWISE_CONV_2D", x, [w, b], want.shape, {"padding": "SAME", "depth_multiplier": 2}
    )
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_same_padding_puts_the_extra_after():
    assert same_padding(7, 2, 2) == (0, 1)
    assert same_padding(6, 3, 1) == (1, 1)
    assert same_padding(5, 4, 1) == (1, 2)


def test_average_pool_same_divides_by_in_bounds_count():
    x = np.ones((1, 3, 3, 1), np.float32)
    got = _run(
        "AVERAGE_POOL_2D",
        x,
        [],
        (1, 3, 3, 1),
        {"padding": "SAME", "filter": (3, 3), "stride": (1, 1)},
    )
    np.testing.assert_allclose(got, np.ones((1, 3, 3, 1)))
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    got = _run("MAX_POOL_2D", x, [], (1, 2, 2, 1), {"filter": (2, 2), "stride": (2, 2)})
    assert got.reshape(-1).tolist() == [5, 7, 13, 15]


def test_quantize_dequantize_round_trip_per_channel():
    g = Graph("q")
    x = g.add_input("x", (2, 3))
    q = g.value("q", (2, 3), "int8", quant=QuantParams([0.1, 0.5, 1.0], [0, 2, -1], 1))
    g.add_op("QUANTIZE", [x], [q])
    g.outputs = [g.node("DEQUANTIZE", [q], (2, 3), "d"), q]
    data = np.array([[0.26, 1.0, 300.0], [-0.04, -3.0, 2.5]], np.float32)
    deq, qv = evaluate(g, [data])
    assert qv.dtype == np.int8
    assert qv.tolist() == [[3, 4, 127], [0, -4, 2]]  # 2.5 rounds away from zero
    np.testing.assert_allclose(deq, [[0.3, 1.0, 128.0], [0.0, -3.0, 3.0]], rtol=1e-6)


def test_shape_mismatch_and_missing_feed_are_errors():
    g = Graph("g")
    x = g.add_input("x", (None, 3))
    g.outputs = [g.node("RELU", [x], (None, 4), "r")]
    with pytest.raises(IRError, match=r"'r' declares shape \(None, 4\) but evaluates to"):
        evaluate(g, [np.zeros((1, 3), np.float32)])
    with pytest.raises(IRError, match=r"missing feeds \['x'\]"):
        evaluate(g, {"y": np.zeros((1, 3))})
    with pytest.raises(IRError, match="'x' declares shape"):
        evaluate(g, [np.zeros((1, 5), np.float32)])
