"""Single ops against onnxruntime on random data, for the variants the compiler will emit and
the backend suite covers thinly: grouped/dilated/strided/auto-padded Conv, pooling with pads
and ceil_mode, recurrent ops in every direction with sequence_lens and initial states, and the
quantized ops (int8 results compared exactly unless stated)."""

import numpy as np
import pytest
from onnx import TensorProto, numpy_helper

from runtime.onnx import InferenceSession
from tests.runtime.onnx.helpers import FLOAT, ort_session, single_op_model

RNG = np.random.default_rng(1234)


def _both(model, feeds, optimize=True):
    ours = InferenceSession(model.SerializeToString()).run(None, feeds)
    theirs = ort_session(model, optimize=optimize).run(None, feeds)
    return ours, theirs


def _close(ours, theirs, tol=1e-5):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=0, atol=tol * max(1.0, np.abs(b).max()))


def _const(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


@pytest.mark.parametrize(
    "attrs, channels, out_channels",
    [
        ({"group": 1, "strides": [2, 1], "pads": [1, 0, 2, 1]}, 4, 6),
        ({"group": 2, "dilations": [2, 2], "pads": [2, 2, 2, 2]}, 4, 6),
        ({"group": 4, "auto_pad": "SAME_UPPER", "strides": [2, 2]}, 4, 8),
        ({"group": 1, "auto_pad": "SAME_LOWER", "strides": [3, 2]}, 3, 5),
        ({"group": 1, "auto_pad": "VALID", "dilations": [1, 3]}, 2, 3),
    ],
)
def test_conv_variants(attrs, channels, out_channels):
    x = RNG.normal(size=(3, channels, 11, 10)).astype(np.float32)
    w = RNG.normal(size=(out_channels, channels // attrs["group"], 3, 3)).astype(np.float32)
    b = RNG.normal(size=(out_channels,)).astype(np.float32)
    model = single_op_model(
        "Conv",
        [("x", FLOAT, x.shape)],
        [("y", FLOAT, None)],
        attrs,
        [_const("w", w), _const("b", b)],
    )
    _close(*_both(model, {"x": x}))


def test_conv_1d_and_3d():
    for spatial in [(9,), (5, 6, 4)]:
        x = RNG.normal(size=(2, 3, *spatial)).astype(np.float32)
        w = RNG.normal(size=(4, 3) + (2,) * len(spatial)).astype(np.float32)
        model = single_op_model(
            "Conv",
            [("x", FLOAT, x.shape)],
            [("y", FLOAT, None)],
            {"pads": [1] * 2 * len(spatial)},
            [_const("w", w)],
        )
        _close(*_both(model, {"x": x}))


@pytest.mark.parametrize(
    "op, attrs",
    [
        ("MaxPool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
        ("MaxPool", {"kernel_shape": [2, 3], "strides": [2, 2], "ceil_mode": 1}),
        ("MaxPool", {"kernel_shape": [2, 2], "dilations": [2, 2]}),
        ("MaxPool", {"kernel_shape": [3, 3], "auto_pad": "SAME_UPPER", "strides": [2, 2]}),
        ("AveragePool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
        (
            "AveragePool",
            {
                "kernel_shape": [3, 3],
                "strides": [2, 2],
                "pads": [1, 1, 1, 1],
                "count_include_pad": 1,
            },
        ),
        ("AveragePool", {"kernel_shape": [2, 3], "strides": [2, 2], "ceil_mode": 1}),
        ("AveragePool", {"kernel_shape": [3, 3], "auto_pad": "SAME_LOWER"}),
    ],
)
def test_pool_variants(op, attrs):
    x = RNG.normal(size=(2, 3, 9, 8)).astype(np.float32)
    model = single_op_model(op, [("x", FLOAT, x.shape)], [("y", FLOAT, None)], attrs)
    _close(*_both(model, {"x": x}))


def _rnn_inputs(op, direction, batch=3, seq=5, inputs=4, hidden=6):
    gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    nd = 2 if direction == "bidirectional" else 1
    consts = [
        _const("W", RNG.normal(0, 0.5, (nd, gates * hidden, inputs)).astype(np.float32)),
        _const("R", RNG.normal(0, 0.5, (nd, gates * hidden, hidden)).astype(np.float32)),
        _const("B", RNG.normal(0, 0.5, (nd, 2 * gates * hidden)).astype(np.float32)),
        _const("sequence_lens", np.array([5, 2, 4][:batch], dtype=np.int32)),
        _const("initial_h", RNG.normal(size=(nd, batch, hidden)).astype(np.float32)),
    ]
    if op == "LSTM":
        consts.append(_const("initial_c", RNG.normal(size=(nd, batch, hidden)).astype(np.float32)))
    x = RNG.normal(size=(seq, batch, inputs)).astype(np.float32)
    return x, consts, hidden


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize(
    "op, extra",
    [
        ("LSTM", {}),
        ("GRU", {"linear_before_reset": 0}),
        ("GRU", {"linear_before_reset": 1}),
        ("RNN", {}),
    ],
)
def test_recurrent_ops(op, extra, direction):
    x, consts, hidden = _rnn_inputs(op, direction)
    outputs = [("Y", FLOAT, None), ("Y_h", FLOAT, None)]
    if op == "LSTM":
        outputs.append(("Y_c", FLOAT, None))
    model = single_op_model(
        op,
        [("X", FLOAT, x.shape)],
        outputs,
        {"hidden_size": hidden, "direction": direction, **extra},
        consts,
    )
    _close(*_both(model, {"X": x}), tol=1e-5)


def test_quantize_linear_rounds_half_to_even_and_saturates():
    scale = np.float32(0.5)
    x = np.array([0.25, 0.75, 1.25, -0.25, -0.75, 100.0, -100.0, 0.2, np.nan], np.float32)
    model = single_op_model(
        "QuantizeLinear",
        [("x", FLOAT, x.shape)],
        [("y", TensorProto.INT8, None)],
        {},
        [_const("s", scale), _const("zp", np.int8(3))],
    )
    (ours,) = InferenceSession(model.SerializeToString()).run(None, {"x": x})
    # x / 0.5 = 0.5, 1.5, 2.5, -0.5, -1.5 -> 0, 2, 2, -0, -2 (ties to even), + 3, saturated;
    # NaN saturates to the minimum, as onnxruntime does.
    np.testing.assert_array_equal(ours, np.array([3, 5, 5, 3, 1, 127, -128, 3, -128], np.int8))
    (theirs,) = ort_session(model).run(None, {"x": x})
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_per_axis_quantize_and_dequantize(axis):
    x = RNG.normal(size=(3, 4, 5)).astype(np.float32) * 4
    n = x.shape[axis]
    scale = RNG.uniform(0.01, 0.1, n).astype(np.float32)
    zp = RNG.integers(-10, 10, n).astype(np.int8)
    q_model = single_op_model(
        "QuantizeLinear",
        [("x", FLOAT, x.shape)],
        [("y", TensorProto.INT8, None)],
        {"axis": axis},
        [_const("s", scale), _const("zp", zp)],
    )
    ours, theirs = _both(q_model, {"x": x})
    np.testing.assert_array_equal(ours[0], theirs[0])
    dq_model = single_op_model(
        "DequantizeLinear",
        [("q", TensorProto.INT8, x.shape)],
        [("y", FLOAT, None)],
        {"axis": axis},
        [_const("s", scale), _const("zp", zp)],
    )
    ours, theirs = _both(dq_model, {"q": theirs[0]})
    np.testing.assert_array_equal(ours[0], theirs[0])


def test_dynamic_quantize_linear():
    x = RNG.normal(size=(4, 7)).astype(np.float32) * 3
    model = single_op_model(
        "DynamicQuantizeLinear",
        [("x", FLOAT, x.shape)],
        [("y", TensorProto.UINT8, None), ("s", FLOAT, None), ("zp", TensorProto.UINT8, None)],
    )
    ours, theirs = _both(model, {"x": x})
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_qlinear_conv_per_channel_and_qlinear_matmul():
    x = RNG.integers(-128, 128, (2, 4, 9, 9)).astype(np.int8)
    w = RNG.integers(-127, 128, (6, 2, 3, 3)).astype(np.int8)
    consts = [
        _const("xs", np.float32(0.02)),
        _const("xz", np.int8(-3)),
        _const("w", w),
        _const("ws", RNG.uniform(0.001, 0.01, 6).astype(np.float32)),
        _const("wz", np.zeros(6, np.int8)),
        _const("ys", np.float32(0.05)),
        _const("yz", np.int8(5)),
        _const("B", RNG.integers(-500, 500, 6).astype(np.int32)),
    ]
    model = single_op_model(
        "QLinearConv",
        [("x", TensorProto.INT8, x.shape)],
        [("y", TensorProto.INT8, None)],
        {"group": 2, "pads": [1, 1, 1, 1], "strides": [2, 1]},
        [],
    )
    model.graph.node[0].input[:] = ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "B"]
    model.graph.initializer.extend(consts)
    ours, theirs = _both(model, {"x": x})
    np.testing.assert_array_equal(ours[0], theirs[0])

    a = RNG.integers(-128, 128, (5, 16)).astype(np.int8)
    b = RNG.integers(-127, 128, (16, 3)).astype(np.int8)
    model = single_op_model(
        "QLinearMatMul", [("a", TensorProto.INT8, a.shape)], [("y", TensorProto.INT8, None)]
    )
    model.graph.node[0].input[:] = ["a", "as", "az", "b", "bs", "bz", "ys", "yz"]
    model.graph.initializer.extend(
        [
            _const("as", np.float32(0.03)),
            _const("az", np.int8(2)),
            _const("b", b),
            _const("bs", np.float32(0.004)),
            _const("bz", np.int8(0)),
            _const("ys", np.float32(0.07)),
            _const("yz", np.int8(-1)),
        ]
    )
    ours, theirs = _both(model, {"a": a})
    np.testing.assert_array_equal(ours[0], theirs[0])


def test_integer_matmul_and_conv():
    a = RNG.integers(0, 256, (4, 8)).astype(np.uint8)
    b = RNG.integers(0, 256, (8, 3)).astype(np.uint8)
    model = single_op_model(
        "MatMulInteger",
        [("a", TensorProto.UINT8, a.shape)],
        [("y", TensorProto.INT32, None)],
        {},
        [_const("b", b), _const("az", np.uint8(7)), _const("bz", np.uint8(9))],
    )
    model.graph.node[0].input[:] = ["a", "b", "az", "bz"]
    ours, theirs = _both(model, {"a": a})
    np.testing.assert_array_equal(ours[0], theirs[0])
    x = RNG.integers(0, 256, (1, 2, 6, 6)).astype(np.uint8)
    w = RNG.integers(0, 256, (3, 2, 3, 3)).astype(np.uint8)
    model = single_op_model(
        "ConvInteger",
        [("x", TensorProto.UINT8, x.shape)],
        [("y", TensorProto.INT32, None)],
        {"pads": [1, 1, 1, 1]},
        [_const("w", w), _const("xz", np.uint8(100))],
    )
    ours, theirs = _both(model, {"x": x})
    np.testing.assert_array_equal(ours[0], theirs[0])


@pytest.mark.parametrize("op", ["QLinearAdd", "QLinearMul"])
def test_com_microsoft_binary_ops(op):
    # onnxruntime's SIMD kernels for these use fixed point (spec §4.3), which breaks exact
    # rounding ties its own way. We compute the definition in float32 and round ties to even,
    # so results may differ by one step, and only where the exact result is (nearly) a tie.
    a = RNG.integers(-128, 128, (8, 33)).astype(np.int8)
    b = RNG.integers(-128, 128, (8, 33)).astype(np.int8)
    sa, za, sb, zb, sy, zy = 0.05, 3, 0.02, -7, (0.06 if op == "QLinearAdd" else 0.2), 1
    model = single_op_model(
        op,
        [("a", TensorProto.INT8, a.shape), ("b", TensorProto.INT8, b.shape)],
        [("y", TensorProto.INT8, None)],
        domain="com.microsoft",
    )
    model.graph.node[0].input[:] = ["a", "as", "az", "b", "bs", "bz", "ys", "yz"]
    model.graph.initializer.extend(
        [
            _const("as", np.float32(sa)),
            _const("az", np.int8(za)),
            _const("bs", np.float32(sb)),
            _const("bz", np.int8(zb)),
            _const("ys", np.float32(sy)),
            _const("yz", np.int8(zy)),
        ]
    )
    ours, theirs = _both(model, {"a": a, "b": b})
    fa, fb = sa * (a.astype(np.float64) - za), sb * (b.astype(np.float64) - zb)
    exact = (fa + fb if op == "QLinearAdd" else fa * fb) / sy + zy
    ties = np.abs(np.abs(exact - np.floor(exact)) - 0.5) < 1e-3
    diff = np.abs(ours[0].astype(int) - theirs[0].astype(int))
    assert diff.max() <= 1
    assert not np.any(diff[~ties & (np.abs(exact) < 127)])


def test_conv_cut_into_sample_blocks_gives_the_same_result(monkeypatch):
    # A batch whose im2col copy exceeds the budget runs in blocks of samples; same numbers.
    from runtime.onnx.ops import conv

    x = RNG.normal(size=(7, 4, 10, 9)).astype(np.float32)
    w = RNG.normal(size=(6, 2, 3, 3)).astype(np.float32)
    b = RNG.normal(size=(6,)).astype(np.float32)
    whole = conv.Conv(x, w, b, group=2, pads=[1, 1, 1, 1])
    monkeypatch.setattr(conv, "IM2COL_BUDGET", 2 * 6 * 90 * 9 * 2)  # two samples per block
    np.testing.assert_array_equal(conv.Conv(x, w, b, group=2, pads=[1, 1, 1, 1]), whole)


@pytest.mark.parametrize(
    "op, opset, attrs, extra_inputs",
    [
        ("Softmax", 11, {"axis": 1}, []),
        ("LogSoftmax", 11, {}, []),
        ("Split", 11, {"axis": 1, "split": [1, 2]}, []),
        ("Squeeze", 11, {"axes": [0]}, []),
        ("Unsqueeze", 11, {"axes": [0, 4]}, []),
        ("Slice", 9, {"starts": [0, 1], "ends": [2, 3], "axes": [0, 2]}, []),
        ("Pad", 10, {"pads": [0, 1, 0, 2, 0, 1, 0, 0], "mode": "reflect"}, []),
        ("Clip", 10, {"min": -0.5, "max": 0.25}, []),
        ("ReduceMean", 13, {"axes": [1, 2], "keepdims": 0}, []),
        ("ReduceSum", 13, {"keepdims": 1}, [("axes", np.array([-1]))]),
        ("Dropout", 11, {"ratio": 0.3}, []),
    ],
)
def test_older_opset_variants(op, opset, attrs, extra_inputs):
    # Ops whose inputs moved to attributes or whose semantics changed across opsets.
    x = RNG.normal(size=(1, 3, 4, 5)).astype(np.float32)
    outputs = [("y", FLOAT, None)] + ([("y2", FLOAT, None)] if op == "Split" else [])
    model = single_op_model(
        op,
        [("x", FLOAT, x.shape)],
        outputs,
        attrs,
        [_const(n, v) for n, v in extra_inputs],
        opset=opset,
    )
    _close(*_both(model, {"x": x}))


@pytest.mark.parametrize(
    "op, attrs", [("QLinearSigmoid", {}), ("QLinearLeakyRelu", {"alpha": 0.1})]
)
def test_com_microsoft_lookup_table_ops_on_every_int8_value(op, attrs):
    # onnxruntime builds a 256-entry table with MLAS's own logistic approximation; we compute
    # the float definition. Compared on all 256 inputs: one step at most, and rarely
    # (measured here: identical on all 256 for both ops).
    x = np.arange(-128, 128, dtype=np.int8).reshape(16, 16)
    model = single_op_model(
        op,
        [("x", TensorProto.INT8, x.shape)],
        [("y", TensorProto.INT8, None)],
        attrs,
        domain="com.microsoft",
    )
    model.graph.node[0].input[:] = ["x", "xs", "xz", "ys", "yz"]
    model.graph.initializer.extend(
        [
            _const("xs", np.float32(0.0625)),
            _const("xz", np.int8(-3)),
            _const("ys", np.float32(1 / 256 if op == "QLinearSigmoid" else 0.05)),
            _const("yz", np.int8(-128 if op == "QLinearSigmoid" else 2)),
        ]
    )
    ours, theirs = _both(model, {"x": x})
    diff = np.abs(ours[0].astype(int) - theirs[0].astype(int))
    assert diff.max() <= 1
    assert (diff > 0).sum() <= 4


@pytest.mark.parametrize(
    "attrs, scales",
    [
        # What compiler/export/onnx writes for UpSampling2D.
        (
            {
                "mode": "nearest",
                "coordinate_transformation_mode": "asymmetric",
                "nearest_mode": "floor",
            },
            [1, 1, 2, 3],
        ),
        ({"mode": "nearest"}, [1, 1, 0.5, 1.7]),
        ({"mode": "linear"}, [1, 1, 2, 2]),
        # align_corners with scales whose products are not integers: the spec (and the ONNX
        # backend suite) divide by input * scale - 1, onnxruntime by output - 1. We follow the
        # spec; compared here with sizes, where both agree.
        ({"mode": "linear", "coordinate_transformation_mode": "align_corners"}, ("sizes", [7, 3])),
        (
            {"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"},
            [1, 1, 0.5, 3],
        ),
    ],
)
def test_resize(attrs, scales):
    x = RNG.normal(size=(2, 3, 5, 6)).astype(np.float32)
    model = single_op_model("Resize", [("x", FLOAT, x.shape)], [("y", FLOAT, None)], attrs)
    if scales[0] == "sizes":
        model.graph.node[0].input[:] = ["x", "", "", "sizes"]
        model.graph.initializer.append(_const("sizes", np.array([2, 3, *scales[1]], np.int64)))
    else:
        model.graph.node[0].input[:] = ["x", "", "scales"]
        model.graph.initializer.append(_const("scales", np.array(scales, np.float32)))
    _close(*_both(model, {"x": x}))


@pytest.mark.parametrize(
    "op, attrs, opset", [("Erf", {}, 17), ("Gelu", {}, 20), ("Gelu", {"approximate": "tanh"}, 20)]
)
def test_erf_and_gelu(op, attrs, opset):
    x = (RNG.normal(size=(4, 50)) * 3).astype(np.float32)
    model = single_op_model(op, [("x", FLOAT, x.shape)], [("y", FLOAT, None)], attrs, opset=opset)
    _close(*_both(model, {"x": x}))
