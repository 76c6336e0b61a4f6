"""Sampling, pooling, signal, loss and Resize-filter ops against onnxruntime, for what the
backend node suite leaves out: GridSample at opset 16 (bicubic, reflection) and 5-D at opset
20, RoiAlign at opsets 10 and 16, MaxUnpool into a larger output_shape, LpPool at opsets 11
and 18, DeformConv with groups and offset groups, DFT at opset 17 on complex input, STFT
two-sided, windows in float64, MelWeightMatrix, the losses in float64 with weights and
ignore_index, Resize filters on uint8 and with axes, Resize-10. Then hostile sizes (DFT
lengths, window sizes, Col2Im shapes, MaxUnpool output_shape, RoiAlign regions) are refused
before allocating."""

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from runtime import Limits
from runtime.errors import BudgetExceededError, InvalidModelError
from runtime.onnx import InferenceSession
from tests.runtime.onnx.helpers import ort_session

RNG = np.random.default_rng(5)


def _f(*shape, dtype=np.float32):
    return RNG.normal(size=shape).astype(dtype)


def _model(op, opset, feeds, consts=None, n_out=1, **attrs):
    """One node; ``feeds`` are graph inputs, ``consts`` initializers (None: omitted input)."""
    consts = consts or {}
    names = [n if a is not None else "" for n, a in {**feeds, **consts}.items()]
    node = helper.make_node(op, names, [f"y{i}" for i in range(n_out)], **attrs)
    inputs = [
        helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), list(a.shape))
        for n, a in feeds.items()
    ]
    inits = [numpy_helper.from_array(np.asarray(a), n) for n, a in consts.items() if a is not None]
    outputs = [helper.make_empty_tensor_value_info(f"y{i}") for i in range(n_out)]
    graph = helper.make_graph([node], "g", inputs, outputs, inits)
    ir = 8 if opset <= 18 else 10
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=ir)


def _i64(*values):
    return np.array(values, np.int64)


def _scalar(value):
    return np.array(value, np.int64)


GRID4 = RNG.uniform(-1.3, 1.3, size=(2, 3, 4, 2)).astype(np.float32)
GRID5 = RNG.uniform(-1.3, 1.3, size=(1, 2, 3, 4, 3)).astype(np.float32)
ROIS = np.array([[0.3, 0.2, 4.7, 3.9], [1.0, 1.5, 2.0, 2.2], [-1.0, -0.5, 6.5, 5.5]], np.float32)
X_DC = _f(1, 4, 5, 6)
CROP_ROI = np.array([0.1, 0.2, 0.9, 0.7], np.float32)

# (id, op, opset, feeds, initializers, outputs, attributes)
CASES = [
    *[
        (f"gridsample16_{m}_{p}_ac{a}", "GridSample", 16, {"x": _f(2, 2, 5, 6), "g": GRID4}, {},
         1, {"mode": m, "padding_mode": p, "align_corners": a})
        for m in ("bilinear", "nearest", "bicubic")
        for p in ("zeros", "border", "reflection")
        for a in (0, 1)
    ],
    *[
        (f"gridsample20_5d_{m}_{p}", "GridSample", 20, {"x": _f(1, 2, 3, 4, 5), "g": GRID5}, {}, 1,
         {"mode": m, "padding_mode": p})
        for m in ("linear", "nearest")
        for p in ("zeros", "border", "reflection")
    ],
    ("affinegrid_3d", "AffineGrid", 20, {"t": _f(2, 3, 4)}, {"s": _i64(2, 1, 3, 4, 5)}, 1,
     {"align_corners": 0}),
    *[
        (f"roialign{o}_{m}", "RoiAlign", o, {"x": _f(2, 3, 6, 7), "r": ROIS},
         {"b": _i64(0, 1, 1)}, 1,
         {"mode": m, "output_height": 3, "output_width": 2, "spatial_scale": 0.9,
          "sampling_ratio": s})
        for o in (10, 16)
        for m, s in (("avg", 0), ("max", 2))
    ],
    ("maxunpool_output_shape", "MaxUnpool", 11, {"x": _f(1, 2, 2, 2)},
     {"i": np.array([[[[0, 3], [9, 14]], [[16, 19], [25, 31]]]], np.int64).reshape(1, 2, 2, 2)
      .astype(np.int64), "s": _i64(1, 2, 5, 5)}, 1, {"kernel_shape": [2, 2], "strides": [2, 2]}),
    ("lppool11_p3_same", "LpPool", 11, {"x": _f(1, 2, 7, 6)}, {}, 1,
     {"kernel_shape": [3, 2], "p": 3, "auto_pad": "SAME_UPPER"}),
    ("lppool18_dilated_ceil", "LpPool", 18, {"x": _f(1, 2, 9, 8)}, {}, 1,
     {"kernel_shape": [2, 2], "dilations": [2, 1], "strides": [2, 3], "ceil_mode": 1}),
    ("deformconv_groups", "DeformConv", 19,
     {"x": X_DC, "w": _f(6, 2, 3, 3), "o": _f(1, 2 * 2 * 9, 3, 4) * 1.5},
     {"b": _f(6), "m": RNG.random((1, 2 * 9, 3, 4)).astype(np.float32)}, 1,
     {"group": 2, "offset_group": 2, "pads": [1, 0, 1, 0], "strides": [2, 1]}),
    ("col2im_strided_dilated", "Col2Im", 18, {"x": _f(2, 2 * 4, 9)},
     {"i": _i64(5, 6), "b": _i64(2, 2)}, 1,
     {"strides": [2, 2], "dilations": [1, 2], "pads": [0, 1, 1, 0]}),
    ("dft17_complex_axis2_len7", "DFT", 17, {"x": _f(2, 3, 5, 2)}, {"n": _scalar(7)}, 1,
     {"axis": 2}),
    ("dft17_inverse", "DFT", 17, {"x": _f(2, 6, 2)}, {}, 1, {"inverse": 1}),
    ("dft20_onesided_f64", "DFT", 20, {"x": _f(2, 9, 1, dtype=np.float64)},
     {"n": None, "a": _scalar(1)}, 1, {"onesided": 1}),
    ("stft_twosided_window", "STFT", 17, {"x": _f(2, 20, 1)},
     {"s": _scalar(3), "w": np.hanning(6).astype(np.float32), "l": _scalar(6)}, 1, {"onesided": 0}),
    ("hann_f64", "HannWindow", 17, {}, {"n": _scalar(9)}, 1,
     {"periodic": 0, "output_datatype": TensorProto.DOUBLE}),
    ("hamming_f64", "HammingWindow", 17, {}, {"n": _scalar(8)}, 1,
     {"output_datatype": TensorProto.DOUBLE}),
    ("blackman", "BlackmanWindow", 17, {}, {"n": _scalar(11)}, 1, {}),
    ("melweightmatrix", "MelWeightMatrix", 17, {},
     {"m": _scalar(6), "d": _scalar(64), "r": _scalar(16000), "l": np.float32(50.0),
      "u": np.float32(7000.0)}, 1, {}),
    ("nll_f64_weight_ignore", "NegativeLogLikelihoodLoss", 13,
     {"x": _f(3, 4, 5, dtype=np.float64), "t": np.array([[0, 1, 3, 3, 2], [1, 2, 0, 3, 1],
                                                         [3, 3, 3, 0, 0]], np.int64)},
     {"w": np.array([0.5, 1.0, 2.0, 0.25])}, 1, {"ignore_index": 3}),
    ("sce_none_log_prob", "SoftmaxCrossEntropyLoss", 13,
     {"x": _f(3, 4, 2), "t": np.array([[0, 1], [3, 2], [1, 1]], np.int32)}, {}, 2,
     {"reduction": "none"}),
    ("resize_cubic_exclude_outside", "Resize", 13, {"x": _f(1, 1, 5, 6)},
     {"roi": None, "scales": np.array([1, 1, 1.7, 0.6], np.float32)}, 1,
     {"mode": "cubic", "exclude_outside": 1, "cubic_coeff_a": -0.5}),
    ("resize_antialias_uint8", "Resize", 18,
     {"x": RNG.integers(0, 256, size=(1, 7, 9, 3)).astype(np.uint8)},
     {"roi": None, "scales": np.array([1, 0.5, 0.4, 1], np.float32)}, 1,
     {"mode": "linear", "antialias": 1}),
    ("resize_antialias_axes", "Resize", 18, {"x": _f(2, 9, 10)},
     {"roi": None, "scales": np.array([0.45, 0.6], np.float32)}, 1,
     {"mode": "linear", "antialias": 1, "axes": [2, 1]}),
    ("resize_crop_nearest", "Resize", 13, {"x": _f(1, 2, 6, 7)},
     {"roi": np.array([0, 0, 0.1, -0.2, 1, 1, 0.9, 0.7], np.float32), "scales": None,
      "sizes": _i64(1, 2, 4, 5)}, 1,
     {"mode": "nearest", "coordinate_transformation_mode": "tf_crop_and_resize",
      "extrapolation_value": 9.0}),
    # edge values, as onnxruntime gives them
    ("affinegrid_single_pixel", "AffineGrid", 20, {"t": _f(1, 3, 4)}, {"s": _i64(1, 1, 1, 1, 2)},
     1, {"align_corners": 1}),
    ("hann_symmetric_size_1", "HannWindow", 17, {}, {"n": _scalar(1)}, 1, {"periodic": 0}),
    ("nll_empty_batch_mean", "NegativeLogLikelihoodLoss", 13, {"x": _f(0, 3)},
     {"t": np.zeros(0, np.int64)}, 1, {}),
    ("resize_cubic_empty_axis", "Resize", 13, {"x": _f(1, 1, 0, 4)},
     {"roi": None, "scales": np.array([1, 1, 2, 2], np.float32)}, 1, {"mode": "cubic"}),
    ("resize10_nearest_down_up", "Resize", 10, {"x": _f(1, 2, 7, 5)},
     {"scales": np.array([1, 1, 0.6, 2.5], np.float32)}, 1, {"mode": "nearest"}),
    ("resize10_linear", "Resize", 10, {"x": _f(1, 2, 4, 5)},
     {"scales": np.array([1, 1, 1.5, 0.7], np.float32)}, 1, {"mode": "linear"}),
    ("resize_not_smaller_axes", "Resize", 18, {"x": _f(1, 2, 6, 7)},
     {"roi": None, "scales": None, "sizes": _i64(4, 9)}, 1,
     {"mode": "linear", "axes": [2, 3], "keep_aspect_ratio_policy": "not_smaller"}),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_matches_onnxruntime(case):
    _, op, opset, feeds, consts, n_out, attrs = case
    model = _model(op, opset, feeds, consts, n_out, **attrs)
    expected = ort_session(model).run(None, feeds)
    got = InferenceSession(model.SerializeToString()).run(None, feeds)
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == e.dtype and g.shape == e.shape, (g.dtype, g.shape, e.dtype, e.shape)
        if e.dtype.kind == "f":
            np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)
        elif case[0] == "resize_antialias_uint8":
            # onnxruntime filters uint8 in fixed point and rounds after each axis; this runtime
            # filters in float64 and rounds once: they may differ by one level.
            np.testing.assert_allclose(g.astype(int), e.astype(int), rtol=0, atol=1)
        else:
            np.testing.assert_array_equal(g, e)


# (id, op, opset, feeds, initializers, attributes, error): sizes read from tensors or
# attributes that would allocate beyond the run's budget, or that do not fit.
HOSTILE = [
    ("dft_length", "DFT", 20, {"x": _f(1, 4, 1)}, {"n": _scalar(1 << 40)}, {},
     BudgetExceededError),
    ("window_size", "HannWindow", 17, {}, {"n": _scalar(1 << 40)}, {}, BudgetExceededError),
    ("mel_dft_length", "MelWeightMatrix", 17, {},
     {"m": _scalar(8), "d": _scalar(1 << 40), "r": _scalar(16000), "l": np.float32(0),
      "u": np.float32(8000)}, {}, BudgetExceededError),
    ("stft_frames", "STFT", 17, {"x": _f(1, 8, 1)}, {"s": _scalar(0)}, {}, InvalidModelError),
    ("col2im_image", "Col2Im", 18, {"x": _f(1, 4, 1)},
     {"i": _i64(1 << 20, 1 << 20), "b": _i64(2, 2)}, {}, InvalidModelError),
    ("col2im_blocks", "Col2Im", 18, {"x": _f(1, 4, 5)}, {"i": _i64(3, 3), "b": _i64(2, 2)}, {},
     InvalidModelError),
    ("maxunpool_output_shape", "MaxUnpool", 11, {"x": _f(1, 1, 2, 2)},
     {"i": np.zeros((1, 1, 2, 2), np.int64), "s": _i64(1, 1, 1 << 20, 1 << 20)},
     {"kernel_shape": [2, 2]}, BudgetExceededError),
    ("maxunpool_index", "MaxUnpool", 11, {"x": _f(1, 1, 2, 2)},
     {"i": np.full((1, 1, 2, 2), 99, np.int64)}, {"kernel_shape": [2, 2], "strides": [2, 2]},
     InvalidModelError),
    ("roialign_region", "RoiAlign", 16, {"x": _f(1, 1, 4, 4)},
     {"r": np.array([[0, 0, 1e9, 1e9]], np.float32), "b": _i64(0)}, {}, BudgetExceededError),
    ("roialign_batch", "RoiAlign", 16, {"x": _f(1, 1, 4, 4)},
     {"r": np.array([[0, 0, 2, 2]], np.float32), "b": _i64(3)}, {}, InvalidModelError),
    ("gridsample_output", "GridSample", 20, {"x": _f(1, 64, 2, 2)},
     {"g": np.zeros((1, 1 << 12, 1 << 10, 2), np.float32)}, {}, BudgetExceededError),
    ("deformconv_offset", "DeformConv", 19, {"x": _f(1, 1, 4, 4), "w": _f(1, 1, 2, 2)},
     {"o": _f(1, 8, 2, 2)}, {}, InvalidModelError),
    ("nll_target", "NegativeLogLikelihoodLoss", 13, {"x": _f(2, 3)}, {"t": _i64(0, 7)}, {},
     ValueError),
]  # fmt: skip


@pytest.mark.parametrize("case", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_sizes_are_refused_before_allocating(case):
    _, op, opset, feeds, consts, attrs, error = case
    model = _model(op, opset, feeds, consts, **attrs)
    session = InferenceSession(model.SerializeToString(), limits=Limits(max_tensor_bytes=64 << 20))
    with pytest.raises(error, match=op):
        session.run(None, feeds)
