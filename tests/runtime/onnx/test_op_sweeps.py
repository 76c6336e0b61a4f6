"""Seeded random sweeps of the issue-15 op families against onnxruntime: each draw builds a
one-node model with random shapes and attributes, runs it on both and compares every output
(float within 1e-4). Draws onnxruntime refuses are skipped, but each sweep must compare most of
its draws. Covered: RotaryEmbedding, RMSNormalization, LpPool, DFT, STFT, the two losses,
Col2Im, TensorScatter, HannWindow, MelWeightMatrix, GridSample (4-D and 5-D), RoiAlign (10, 16),
DeformConv. Left out: an inverse one-sided DFT whose dft_length does not match the half
spectrum it is given (n // 2 + 1 bins); onnxruntime fills the missing bins its own way there."""

import numpy as np
import pytest

from runtime.onnx import InferenceSession
from tests.runtime.onnx.helpers import node_model, ort_session


def _i(value):
    return np.array(value, np.int64)


def _rotary(rng, f):
    b, s, h, d = int(rng.integers(1, 3)), int(rng.integers(1, 5)), int(rng.integers(1, 3)), 8
    rd = int(rng.choice([0, 4]))
    half, three = (rd or d) // 2, rng.random() < 0.5
    feeds = {"x": f(b, s, h * d) if three else f(b, h, s, d)}
    if rng.random() < 0.5:
        m = int(rng.integers(s, 8))
        feeds.update(c=f(m, half), s=f(m, half), p=rng.integers(0, m, size=(b, s)))
    else:
        feeds.update(c=f(b, s, half), s=f(b, s, half))
    attrs = {"interleaved": int(rng.integers(0, 2)), "rotary_embedding_dim": rd}
    if three:
        attrs["num_heads"] = h
    return "RotaryEmbedding", 23, feeds, {}, 1, attrs


def _rms(rng, f):
    shape = tuple(int(v) for v in rng.integers(1, 5, size=int(rng.integers(1, 4))))
    axis = int(rng.integers(-len(shape), len(shape)))
    feeds = {"x": f(*shape), "s": f(*shape[axis % len(shape) :])}
    return "RMSNormalization", 23, feeds, {}, 1, {"axis": axis, "epsilon": 0.01}


def _lppool(rng, f):
    attrs = {
        "kernel_shape": [int(v) for v in rng.integers(1, 4, size=2)],
        "p": int(rng.choice([1, 2, 3])),
        "strides": [int(v) for v in rng.integers(1, 3, size=2)],
    }
    if rng.random() < 0.5:
        attrs["pads"] = [int(v) for v in rng.integers(0, 2, size=4)]
    elif rng.random() < 0.5:
        attrs["auto_pad"] = str(rng.choice(["SAME_UPPER", "SAME_LOWER", "VALID"]))
    if rng.random() < 0.5:
        attrs["dilations"] = [int(v) for v in rng.integers(1, 3, size=2)]
        attrs["ceil_mode"] = int(rng.integers(0, 2))
    x = f(1, 2, int(rng.integers(3, 8)), int(rng.integers(3, 8)))
    return "LpPool", 18, {"x": x}, {}, 1, attrs


def _dft(rng, f):
    x = f(2, int(rng.integers(1, 8)), 3, int(rng.choice([1, 2])))
    axis = int(rng.choice([1, 2, -2, -3]))
    inverse = int(rng.integers(0, 2))
    onesided = int(rng.integers(0, 2)) if x.shape[-1] == 1 or inverse else 0
    length = int(rng.integers(1, 9))
    if inverse and onesided:  # a half spectrum of n // 2 + 1 bins (see the module docstring)
        length = 2 * (x.shape[axis] - 1) + int(rng.integers(0, 2))
    attrs = {"inverse": inverse, "onesided": onesided}
    return "DFT", 20, {"x": x}, {"n": _i(length), "a": _i(axis)}, 1, attrs


def _stft(rng, f):
    n = int(rng.integers(4, 16))
    frame = int(rng.integers(2, n + 1))
    consts = {"s": _i(int(rng.integers(1, 4))), "w": f(frame), "l": _i(frame)}
    return "STFT", 17, {"x": f(2, n, 1)}, consts, 1, {"onesided": int(rng.integers(0, 2))}


def _loss(rng, f):
    c = int(rng.integers(2, 5))
    extra = tuple(int(v) for v in rng.integers(1, 4, size=int(rng.integers(0, 3))))
    shape = (int(rng.integers(1, 4)), c, *extra)
    feeds = {"x": f(*shape), "t": rng.integers(0, c, size=(shape[0], *extra))}
    attrs = {"reduction": str(rng.choice(["none", "sum", "mean"]))}
    if rng.random() < 0.5:
        attrs["ignore_index"] = int(rng.integers(0, c))
    consts = {"w": np.abs(f(c))} if rng.random() < 0.5 else {}
    if rng.random() < 0.5:
        return "SoftmaxCrossEntropyLoss", 13, feeds, consts, 2, attrs
    return "NegativeLogLikelihoodLoss", 13, feeds, consts, 1, attrs


def _col2im(rng, f):
    while True:
        image, block = rng.integers(2, 7, size=2), rng.integers(1, 3, size=2)
        dil, strides = rng.integers(1, 3, size=2), rng.integers(1, 3, size=2)
        pads = rng.integers(0, 2, size=4)
        counts = (image + pads[:2] + pads[2:] - ((block - 1) * dil + 1)) // strides + 1
        if counts.min() >= 1:
            break
    x = f(1, 2 * int(block.prod()), int(counts.prod()))
    attrs = {"dilations": dil.tolist(), "pads": pads.tolist(), "strides": strides.tolist()}
    return "Col2Im", 18, {"x": x}, {"i": _i(image), "b": _i(block)}, 1, attrs


def _tensor_scatter(rng, f):
    mode = str(rng.choice(["linear", "circular"]))
    update = f(2, 3, int(rng.integers(1, 4)), 2)
    top = 6 - update.shape[2] + 1 if mode == "linear" else 6
    feeds = {"c": f(2, 3, 6, 2), "u": update, "i": rng.integers(0, top, size=2)}
    return "TensorScatter", 24, feeds, {}, 1, {"axis": 2, "mode": mode}


def _windows(rng, f):
    if rng.random() < 0.5:
        n = _i(int(rng.integers(1, 20)))
        return "HannWindow", 17, {}, {"n": n}, 1, {"periodic": int(rng.integers(0, 2))}
    consts = {
        "m": _i(int(rng.integers(1, 10))),
        "d": _i(int(rng.choice([16, 32, 64, 128]))),
        "r": _i(int(rng.choice([8000, 16000]))),
        "lo": np.float32(rng.uniform(0, 500)),
        "hi": np.float32(rng.uniform(1000, 4000)),
    }
    return "MelWeightMatrix", 17, {}, consts, 1, {}


def _grid_sample(rng, f):
    mode = str(rng.choice(["linear", "nearest", "cubic"]))
    dims = 2 if mode == "cubic" else int(rng.choice([2, 3]))
    x = f(2, 2, *rng.integers(1, 6, size=dims))
    grid = rng.uniform(-1.6, 1.6, size=(2, *rng.integers(1, 5, size=dims), dims))
    if rng.random() < 0.3:
        grid = np.round(grid * 4) / 4  # ties at half pixels
    attrs = {
        "mode": mode,
        "padding_mode": str(rng.choice(["zeros", "border", "reflection"])),
        "align_corners": int(rng.integers(0, 2)),
    }
    return "GridSample", 20, {"x": x, "g": grid.astype(np.float32)}, {}, 1, attrs


def _roi_align(rng, f):
    opset = int(rng.choice([10, 16]))
    h, w = (int(v) for v in rng.integers(1, 9, size=2))
    k = int(rng.integers(0, 5))
    p = rng.uniform(-2, max(h, w) + 2, size=(k, 4))
    rois = np.stack([p[:, :2].min(1), p[:, 2:].min(1), p[:, :2].max(1), p[:, 2:].max(1)], 1)
    attrs = {
        "mode": str(rng.choice(["avg", "max"])),
        "output_height": int(rng.integers(1, 4)),
        "output_width": int(rng.integers(1, 4)),
        "sampling_ratio": int(rng.integers(0, 3)),
        "spatial_scale": float(rng.choice([0.5, 1.0, 1.7])),
    }
    if opset == 16:
        attrs["coordinate_transformation_mode"] = str(
            rng.choice(["half_pixel", "output_half_pixel"])
        )
    feeds = {"x": f(2, 3, h, w), "r": rois.reshape(k, 4).astype(np.float32)}
    return "RoiAlign", opset, feeds, {"b": rng.integers(0, 2, size=k)}, 1, attrs


def _deform_conv(rng, f):
    g, og = int(rng.choice([1, 2])), int(rng.choice([1, 2]))
    kh, kw = (int(v) for v in rng.integers(1, 4, size=2))
    sh, sw = (int(v) for v in rng.integers(1, 3, size=2))
    dh, dw = (int(v) for v in rng.integers(1, 3, size=2))
    pads = [int(v) for v in rng.integers(0, 2, size=4)]
    h, w = int(rng.integers(kh * dh, 8)), int(rng.integers(kw * dw, 8))
    oh = (h + pads[0] + pads[2] - ((kh - 1) * dh + 1)) // sh + 1
    ow = (w + pads[1] + pads[3] - ((kw - 1) * dw + 1)) // sw + 1
    c = 2 * g * og
    feeds = {
        "x": f(2, c, h, w),
        "w": f(3 * g, c // g, kh, kw),
        "o": f(2, og * 2 * kh * kw, oh, ow) * 2,
        "b": f(3 * g),
        "m": rng.random((2, og * kh * kw, oh, ow)).astype(np.float32),
    }
    attrs = {"group": g, "offset_group": og, "strides": [sh, sw], "dilations": [dh, dw],
             "pads": pads, "kernel_shape": [kh, kw]}  # fmt: skip
    return "DeformConv", 22, feeds, {}, 1, attrs


SWEEPS = [_rotary, _rms, _lppool, _dft, _stft, _loss, _col2im, _tensor_scatter, _windows,
          _grid_sample, _roi_align, _deform_conv]  # fmt: skip


@pytest.mark.parametrize("draw", SWEEPS, ids=[s.__name__[1:] for s in SWEEPS])
def test_random_draws_match_onnxruntime(draw):
    rng = np.random.default_rng(sum(map(ord, draw.__name__)))  # the same draws every run

    def f(*shape):
        return rng.normal(size=shape).astype(np.float32)

    compared = 0
    for _ in range(30):
        op, opset, feeds, consts, n_out, attrs = draw(rng, f)
        model = node_model(op, feeds, consts, n_out, opset, **attrs)
        try:
            expected = ort_session(model).run(None, feeds)
        except Exception:  # a draw onnxruntime refuses (e.g. a one-sided complex DFT)
            continue
        got = InferenceSession(model.SerializeToString()).run(None, feeds)
        for g, e in zip(got, expected, strict=True):
            assert g.dtype == e.dtype and g.shape == e.shape, (op, attrs, g.shape, e.shape)
            np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4, err_msg=f"{op} {attrs}")
        compared += 1
    assert compared >= 15
