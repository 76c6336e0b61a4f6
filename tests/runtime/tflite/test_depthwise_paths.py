"""DEPTHWISE_CONV_2D through each way ``_depthwise_plan`` plans its sums (pad rows skipped by
bands or summed, column phases or windows read at a stride along the rows, a one-column map
read as one row, chunks with a tail, the input read in place with strips at its edges) and
the ones it leaves to the general path (one input channel; inf or NaN where phases add taps),
against LiteRT's reference kernels: float32 within 1e-5 (NaN, inf and overflow too), int8
exactly (per-tensor and per-channel filter scales, folded requantization or not, float32 or
float64 sums). Each case also checks that it takes the path it is named for; every way is
also forced on random geometries against a float64 oracle."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import numpy as np
import pytest

from runtime import Interpreter
from runtime.tflite.kernels import _common as c
from runtime.tflite.kernels import _depthwise_plan
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite import test_int16_kernels as int16
from tests.runtime.tflite import test_nonfinite_float as nonfinite
from tests.runtime.tflite.test_conv_paths import conv_geometry
from tests.runtime.tflite.test_kernels import _q_weights, check, const, inp, one_op_model, out

CTX = SimpleNamespace(where="test", fail=ValueError)

# name: (input shape, depth multiplier, kernel, stride, dilation, padding, activation);
# padding 0 is SAME, 1 VALID
CASES = {
    "bands": ((1, 9, 8, 300), 1, (5, 5), (1, 1), 1, 0, 3),
    "chunks and tail": ((1, 6, 53, 48), 1, (3, 3), (1, 1), 1, 0, 0),
    "own memory, batch 2": ((2, 9, 8, 6), 1, (3, 3), (1, 1), 1, 1, 0),
    "pad rows": ((1, 7, 7, 16), 1, (5, 5), (1, 1), 1, 0, 1),
    "phases": ((1, 15, 17, 8), 1, (3, 3), (2, 2), 1, 0, 3),
    "phases, odd channels": ((1, 16, 16, 5), 1, (5, 5), (2, 2), 1, 1, 2),
    "one column": ((1, 30, 1, 12), 1, (9, 1), (1, 1), 1, 0, 1),
    "one column, stride 2": ((2, 31, 1, 12), 1, (9, 1), (2, 2), 1, 0, 0),
    "multiplier 2": ((1, 9, 10, 3), 2, (3, 3), (1, 1), 1, 0, 0),
    "dilation 2": ((1, 12, 11, 4), 1, (3, 3), (1, 1), 2, 0, 0),
    "stride and dilation": ((1, 12, 11, 4), 1, (3, 3), (2, 2), 2, 0, 0),
    "one input channel": ((1, 9, 7, 1), 4, (3, 3), (1, 1), 1, 0, 1),
    "rows stride only": ((2, 11, 13, 7), 1, (3, 5), (2, 1), 1, 0, 3),
    "in place, strips": ((1, 66, 65, 64), 1, (3, 3), (1, 1), 1, 0, 3),
    "in place, 5x3": ((1, 70, 71, 56), 1, (5, 3), (1, 1), 1, 0, 0),
    "in place, dilation 2": ((1, 66, 65, 64), 1, (3, 3), (1, 1), 2, 0, 1),
    "in place, stride 2, strips": ((1, 48, 49, 160), 1, (3, 3), (2, 2), 1, 0, 0),
    "in place, stride 2": ((1, 23, 23, 64), 1, (3, 3), (2, 2), 1, 1, 3),
    "canvas at a stride": ((1, 14, 14, 384), 1, (5, 5), (2, 2), 1, 0, 1),
}


def _plan(name, dtype=np.float32, fill=0):
    shape, mult, k, stride, dil, padding, _ = CASES[name]
    oc = shape[3] * mult
    geom = (*k, *stride, dil, dil, padding)
    f = np.ones((*k, oc), dtype)
    return _depthwise_plan.plan(CTX, shape[:3] + (oc,), f, geom, dtype, fill)


def test_cases_take_their_paths():
    p = _plan("bands")
    assert len(p.bands) > 1 and p.canvas[1] == 9
    p = _plan("chunks and tail")
    assert p.chunks and p.tail
    assert _plan("own memory, batch 2").canvas is None
    p = _plan("pad rows")
    assert len(p.bands) == 1 and p.canvas[1] > 7
    assert _plan("phases").canvas[2] == 2
    assert _plan("phases, odd channels").canvas[2] == 2
    assert _plan("one column").columns is not None
    p = _plan("one column, stride 2")
    assert p.columns is not None and p.canvas[2] == 2
    p = _plan("stride and dilation")  # (windows read at the stride: no phases)
    assert p.stride == 2 and p.dilation == 2 and p.canvas[2] == 1
    assert _plan("dilation 2").dilation == 2
    for name in ("in place, strips", "in place, 5x3", "in place, dilation 2"):
        p = _plan(name)
        assert p.canvas is None and p.stride == 1 and len(p.strips) == 2, name
    p = _plan("in place, stride 2, strips")
    assert p.canvas is None and p.stride == 2 and len(p.strips) == 2
    assert all(strip.stride == 2 for strip, *_ in p.strips)  # (strips read at the stride)
    p = _plan("in place, stride 2")
    assert p.canvas is None and p.stride == 2 and not p.strips
    p = _plan("canvas at a stride")
    assert p.canvas[2] == 1 and p.stride == 2
    # a nonzero fill (an int8 zero point) sums every tap: no bands
    assert len(_plan("bands", fill=3).bands) == 1


def _float_model(name, seed):
    shape, mult, k, stride, dil, padding, act = CASES[name]
    rng = np.random.default_rng(seed)
    oc = shape[3] * mult
    w = rng.normal(0, 0.5, (1, *k, oc)).astype(np.float32)
    o, opts = conv_geometry(Op.DEPTHWISE_CONV_2D, shape, oc, k, stride, dil, padding, act)
    bias = const(rng.normal(0, 1, oc).astype(np.float32))
    return one_op_model(Op.DEPTHWISE_CONV_2D, [inp(shape), const(w), bias], [out(o)], opts)


@pytest.mark.parametrize("name", sorted(CASES))
def test_float_equals_litert(name):
    check(_float_model(name, 1), seed=2, runs=2)


NONFINITE = ["bands", "pad rows", "phases", "one column", "own memory, batch 2"]
NONFINITE += ["in place, strips", "in place, stride 2, strips", "in place, stride 2"]
NONFINITE += ["canvas at a stride", "stride and dilation"]


@pytest.mark.parametrize("name", NONFINITE)
def test_float_nonfinite_equals_litert(name):
    shape = CASES[name][0]
    size = int(np.prod(shape))
    places = {int(i): v for i, v in zip(range(3, size, 7), np.resize(nonfinite.SPECIALS, size))}
    x = nonfinite._nhwc(5, shape, places)
    nonfinite.check(_float_model(name, 3), [x])


def _int8_model(rng, name, s_out, per_channel, zp_in, zp_out, weight_range=127):
    shape, mult, k, stride, dil, padding, act = CASES.get(name) or name
    oc = shape[3] * mult
    q = rng.integers(-weight_range, weight_range + 1, (1, *k, oc)).astype(np.int8)
    n_scales = oc if per_channel else 1
    scale = rng.uniform(0.002, 0.02, n_scales).astype(np.float32)
    s_in = np.float32(0.05)
    bias = rng.integers(-3000, 3000, oc).astype(np.int32)
    bias_scale = (s_in * np.broadcast_to(scale, (oc,))).astype(np.float32)
    o, opts = conv_geometry(Op.DEPTHWISE_CONV_2D, shape, oc, k, stride, dil, padding, act)
    inputs = [
        inp(shape, T.INT8, s_in, zp_in),
        const(q, T.INT8, scale, np.zeros(n_scales, int), qdim=3),
        const(bias, T.INT32, bias_scale[:n_scales], np.zeros(n_scales, int)),
    ]
    return one_op_model(
        Op.DEPTHWISE_CONV_2D, inputs, [out(o, T.INT8, s_out, zp_out)], opts, version=3
    )


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("per_channel", [True, False])
def test_int8_equals_litert(name, per_channel):
    rng = np.random.default_rng(len(name) + per_channel)
    zp_in, zp_out = (int(v) for v in rng.integers(-128, 128, 2))
    check(_int8_model(rng, name, 0.4, per_channel, zp_in, zp_out), seed=4, runs=2)


@pytest.mark.parametrize("s_out", [0.4, 4000.0])
def test_int8_float64_sums_and_unfolded_equal_litert(s_out):
    # 48x48 taps of |w| ~64: 128 * sum|w| passes 2^24, so the sums are float64 (and the
    # fold's bound fails); an output scale of 4000 leaves the fold aside on a small kernel.
    rng = np.random.default_rng(7)
    case = ((1, 50, 49, 2), 1, (48, 48), (1, 1), 1, 1, 0) if s_out < 1 else CASES["bands"]
    data = _int8_model(rng, case, s_out, True, -7, 3)
    ours = Interpreter(model_content=data)
    ours.allocate_tensors()
    weights = next(v for v in ours._main.constants.values() if v.ndim == 4)
    assert 128 * np.abs(weights.astype(np.int64)).sum(axis=(0, 1, 2)).max() >= 2**24 or s_out > 1
    check(data, seed=8, runs=2)


def test_threads_share_a_plan():
    # Each thread has its own canvas: two threads summing different maps at once get what
    # one thread alone gets.
    p = _plan("phases")
    rng = np.random.default_rng(9)
    maps = [rng.normal(size=CASES["phases"][0]).astype(np.float32) for _ in range(2)]
    want = [p.sums(m) for m in maps]
    bad = []

    def work(k):
        for _ in range(200):
            if not np.array_equal(p.sums(maps[k]), want[k]):
                bad.append(k)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not bad


def _reference_sums(x, f, geom):
    """float64 sums tap by tap over a zero-padded copy (the oracle for forced plans)."""
    kh, kw, sh, sw, dh, dw, padding = geom
    n, height, width, ch = x.shape
    ho, pt = c.pad_before(padding, height, kh, sh, dh)
    wo, pl = c.pad_before(padding, width, kw, sw, dw)
    xp = np.zeros((n, height + (kh - 1) * dh + ho * sh, width + (kw - 1) * dw + wo * sw, ch))
    xp[:, pt : pt + height, pl : pl + width] = x
    out = np.zeros((n, ho, wo, ch))
    for i in range(kh):
        for j in range(kw):
            rows = xp[:, i * dh : i * dh + ho * sh : sh, j * dw : j * dw + wo * sw : sw]
            out += rows * f[i, j]
    return out


@pytest.mark.parametrize("seed", range(24))
def test_every_way_on_random_geometry(seed):
    # Each way the planner can take (canvas with bands or pad rows, by phases or at a stride,
    # in place at stride 1 or sw, with strips), forced where it applies, on random windows.
    rng = np.random.default_rng(3000 + seed)
    kh, kw = (int(v) for v in rng.integers(1, 6, 2))
    sh, sw = (int(v) for v in rng.integers(1, 3, 2))
    dh, dw = (int(v) for v in rng.integers(1, 3, 2))
    padding = int(rng.integers(0, 2))
    shape = (int(rng.integers(1, 3)), *(int(v) for v in rng.integers(8, 20, 2)), 5)
    if padding == 1 and (shape[1] <= (kh - 1) * dh or shape[2] <= (kw - 1) * dw):
        padding = 0
    geom = (kh, kw, sh, sw, dh, dw, padding)
    x = rng.normal(size=shape).astype(np.float32)
    f = rng.normal(size=(kh, kw, 5)).astype(np.float32)
    want = _reference_sums(x, f, geom)
    ho, pt = c.pad_before(padding, shape[1], kh, sh, dh)
    wo, pl = c.pad_before(padding, shape[2], kw, sw, dw)
    kernel, window = geom[:6], (ho, wo, pt, pl)
    ways = []
    for pad_rows in (True, False):
        for phases in (True, False) if sw == 1 or dw == 1 else (False,):
            way = _depthwise_plan._canvas_plan(
                CTX, shape, f, kernel, window, f.dtype, 0, pad_rows, phases
            )
            ways.append(way[1])
    direct = _depthwise_plan._direct_plan(CTX, shape, f, kernel, window)
    if direct is not None:
        ways.append(direct[1])
    for p in ways:
        np.testing.assert_allclose(p.sums(x), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["phases", "stride and dilation", "one column", "multiplier 2"])
def test_hybrid_and_int16_unchanged(name):
    # The hybrid (float input, int8 filter) and 16x8 kernels keep the general path on the
    # geometries that select the planned ones for float32 and int8.
    shape, mult, k, stride, dil, padding, act = CASES[name]
    rng = np.random.default_rng(len(name))
    oc = shape[3] * mult
    q, scale = _q_weights(rng, (1, *k, oc), 3)
    o, opts = conv_geometry(Op.DEPTHWISE_CONV_2D, shape, oc, k, stride, dil, padding, act)
    filters = const(q, T.INT8, scale, np.zeros(oc, int), qdim=3)
    bias = const(rng.normal(0, 1, oc).astype(np.float32))
    hybrid = one_op_model(Op.DEPTHWISE_CONV_2D, [inp(shape), filters, bias], [out(o)], opts, 6)
    check(hybrid, seed=6, runs=1)
    s_in, s_out = 2e-3, 3e-3
    bias = const(int16._bias(rng, oc), T.INT64, (s_in * scale).astype(np.float32), [0] * oc)
    x16 = inp(shape, int16.I16, s_in, 0)
    filters = const(q, T.INT8, scale, np.zeros(oc, np.int64), qdim=3)
    data = one_op_model(
        Op.DEPTHWISE_CONV_2D, [x16, filters, bias], [out(o, int16.I16, s_out, 0)], opts, 5
    )
    int16.check(data, [int16.int16_feed(rng, shape)])
