"""The float32 kernels on NaN, +-inf and overflowing values against LiteRT's reference kernels
(BUILTIN_REF): the positions of NaN and inf exactly (same sign), FLT_MAX where the reference
clamps an overflow to its activation range (``CalculateActivationRange``: even NONE is
[lowest, max]), finite values within 1e-5 relative (1e-6 absolute near 0).

Sums run in another order than the reference loops (BLAS, numpy's pairwise sums), and
OpenBLAS's sgemm kernels can even give inf for a dot product holding both +inf and -inf
products: inputs whose overflow depends on that order are left out (one sign of overflow per
window, row or reduction).

Left out on purpose: float -> int casts of NaN/inf (undefined behaviour in C++: the reference
kernel's result is no contract), so the hybrid kernels' quantized NaN/inf inputs too; QUANTIZE
of NaN/inf (test_edge_values.py); ARG_MAX/ARG_MIN along the last axis on rows of fewer than 8
values holding NaN (see test_arg_max_min); MediaPipe's custom ops (BUILTIN_REF has no kernel for
them: test_mediapipe_custom.py checks MaxPoolingWithArgmax2D on NaN and inf against MediaPipe's
loop).
"""

from __future__ import annotations

import numpy as np
import pytest

from runtime import Interpreter
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._builder import GraphBuilder
from tests.runtime.tflite._litert import litert, litert_interpreter
from tests.runtime.tflite.test_basic_rnn import rnn_model
from tests.runtime.tflite.test_float_chains import ROW, _norm_model

NAN, INF, BIG = np.float32(np.nan), np.float32(np.inf), np.float32(3e38)
FLT_MAX = np.finfo(np.float32).max
# Every special value, ordinary ones and zero: PAIRS below crosses them all.
SPECIALS = np.array([NAN, INF, -INF, BIG, -BIG, 1.5, -2.0, 0.0, 0.25], np.float32)
ACTS = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3}
# (the inputs are made with overflowing numpy arithmetic on purpose)
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")


def _pairs():
    a = np.repeat(SPECIALS, len(SPECIALS))
    b = np.tile(SPECIALS, len(SPECIALS))
    return a.reshape(1, 9, 9), b.reshape(1, 9, 9)


def _nhwc(seed, shape, places):
    """Ordinary values in [-1, 1] with the specials of ``places`` (flat index -> value)."""
    x = np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)
    flat = x.reshape(-1)
    for i, v in places.items():
        if i < flat.size:
            flat[i] = v
    return x


def assert_same_as_reference(ours, ref):
    assert ours.dtype == ref.dtype and ours.shape == ref.shape, (ours.dtype, ours.shape, ref.shape)
    if ours.dtype.kind != "f":
        np.testing.assert_array_equal(ours, ref)
        return
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref), err_msg="NaN positions")
    # Infinities and +-FLT_MAX exactly: the clamp of an overflow must not turn into a tolerance.
    extreme = np.isinf(ref) | (np.abs(ref) == FLT_MAX)
    np.testing.assert_array_equal(ours[extreme], ref[extreme], err_msg="inf / FLT_MAX values")
    finite = ~np.isnan(ref) & ~extreme
    # (atol: a sum that cancels to near 0 keeps the rounding of its terms of size ~1)
    np.testing.assert_allclose(ours[finite], ref[finite], rtol=1e-5, atol=1e-6)


def check(data: bytes, feeds: list[np.ndarray], reference=True):
    """Run LiteRT (its reference kernels, or where it has none its builtin kernels without
    XNNPACK) and this runtime on ``feeds``; compare every output."""
    if reference:
        ref = litert_interpreter(model_content=data)
    else:
        kind = litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        ref = litert.Interpreter(model_content=data, experimental_op_resolver_type=kind)
    outs = []
    for it in (ref, Interpreter(model_content=data)):
        details = it.get_input_details()
        for d, x in zip(details, feeds):
            it.resize_tensor_input(d["index"], x.shape)
        it.allocate_tensors()
        for d, x in zip(details, feeds):
            it.set_tensor(d["index"], x)
        it.invoke()
        outs.append([it.get_tensor(d["index"]) for d in it.get_output_details()])
    for ref, ours in zip(*outs):
        assert_same_as_reference(ours, ref)


def _one_op(code, in_shapes, out_shape, options=None, consts=None, out_type=T.FLOAT32, n_out=1):
    """One operator; ``consts`` maps an input position to its constant data."""
    g = GraphBuilder()
    consts = consts or {}
    ins, graph_inputs = [], []
    for k, shape in enumerate(in_shapes):
        if k in consts:
            data = np.asarray(consts[k])
            ttype = T.INT32 if data.dtype.kind == "i" else T.FLOAT32
            ins.append(g.add(shape, ttype, data=data))
        else:
            ttype = T.BOOL if isinstance(shape, tuple) and shape[:1] == ("bool",) else T.FLOAT32
            ins.append(g.add(list(shape[1:] if ttype == T.BOOL else shape), ttype))
            graph_inputs.append(ins[-1])
    types = out_type if isinstance(out_type, list) else [out_type] * n_out
    shapes = out_shape if n_out > 1 else [out_shape]
    outs = [g.add(list(s), t) for s, t in zip(shapes, types)]
    g.op(code, ins, outs, options)
    return g.finish(graph_inputs, outs)


# -- element-wise binary ops: every pair of specials --------------------------------------------

BINARY = ["ADD", "SUB", "MUL", "DIV", "SQUARED_DIFFERENCE", "MAXIMUM", "MINIMUM", "POW"]
BINARY += ["FLOOR_DIV", "FLOOR_MOD"]
WITH_ACT = {"ADD", "SUB", "MUL", "DIV"}


@pytest.mark.parametrize(
    "name, act",
    [(n, a) for n in BINARY for a in (("NONE", "RELU", "RELU6") if n in WITH_ACT else ("NONE",))],
)
def test_binary_on_every_pair_of_specials(name, act):
    a, b = _pairs()
    if name == "FLOOR_DIV":
        b[b == 0] = 1.0  # (a zero divisor: see test_floor_div_by_zero_is_refused)
    options = {"fused_activation_function": ACTS[act]} if name in WITH_ACT else None
    check(_one_op(getattr(Op, name), [a.shape, b.shape], a.shape, options), [a, b])


def test_floor_div_by_zero_is_refused():
    # LiteRT's float FLOOR_DIV fails its invoke on a zero divisor ("Division by 0")
    data = _one_op(Op.FLOOR_DIV, [(2,), (2,)], (2,))
    feeds = [np.array([1.0, NAN], np.float32), np.array([2.0, -0.0], np.float32)]
    for it in (litert_interpreter(model_content=data), Interpreter(model_content=data)):
        it.allocate_tensors()
        for d, x in zip(it.get_input_details(), feeds):
            it.set_tensor(d["index"], x)
        with pytest.raises((RuntimeError, ValueError), match="(?i)division by (0|zero)"):
            it.invoke()


@pytest.mark.parametrize("act", ["NONE", "RELU"])
@pytest.mark.parametrize("name", ["ADD", "SUB", "MUL", "DIV"])
def test_binary_with_a_broadcast_constant(name, act):
    a = np.concatenate([SPECIALS, SPECIALS * 2]).reshape(2, 9, 1) * np.ones((1, 1, 3), np.float32)
    c = np.array([3e38, -2.0, 0.5], np.float32)
    options = {"fused_activation_function": ACTS[act]}
    check(_one_op(getattr(Op, name), [a.shape, c.shape], a.shape, options, {1: c}), [a])


# -- convolutions and matrix products ---------------------------------------------------------
# Weights in [1.5, 2.5]: a product with a special overflows by itself, so the result does not
# depend on the order of the sums (BLAS sums in another order than the reference loops).

# 5x5x2 (flat index (h * 5 + w) * 2 + c): overflows up left (+) and down right (-), three
# pixels apart, so no 3x3 window mixes the signs; NaN in the middle and two corners.
WINDOW_SPECIALS = {0: BIG, 3: INF, 10: BIG, 49: -BIG, 38: -INF, 46: -BIG, 25: NAN, 40: NAN}
WINDOW_SPECIALS |= {9: NAN}


def _weights(seed, shape):
    return np.random.default_rng(seed).uniform(1.5, 2.5, shape).astype(np.float32)


@pytest.mark.parametrize("act", ["NONE", "RELU", "RELU6"])
@pytest.mark.parametrize("kernel, stride, padding", [(1, 1, 1), (2, 1, 1), (3, 2, 0)])
def test_conv_2d(act, kernel, stride, padding):
    x = _nhwc(0, (1, 5, 5, 2), WINDOW_SPECIALS)
    w = _weights(1, (3, kernel, kernel, 2))
    b = np.array([0.5, 3e38, -1.0], np.float32)
    oh = 5 if padding == 0 else (5 - kernel) // stride + 1
    oh = -(-5 // stride) if padding == 0 else oh
    opts = {"padding": padding, "stride_w": stride, "stride_h": stride}
    opts["fused_activation_function"] = ACTS[act]
    data = _one_op(Op.CONV_2D, [x.shape, w.shape, b.shape], (1, oh, oh, 3), opts, {1: w, 2: b})
    check(data, [x])


@pytest.mark.parametrize("act", ["NONE", "RELU", "RELU6"])
@pytest.mark.parametrize("kernel, multiplier", [(1, 1), (3, 1), (3, 2)])
def test_depthwise_conv_2d(act, kernel, multiplier):
    x = _nhwc(2, (1, 5, 5, 2), WINDOW_SPECIALS)
    w = _weights(3, (1, kernel, kernel, 2 * multiplier))
    b = np.linspace(-1, 1, 2 * multiplier).astype(np.float32)
    opts = {"padding": 0, "stride_w": 1, "stride_h": 1, "depth_multiplier": multiplier}
    opts["fused_activation_function"] = ACTS[act]
    out = (1, 5, 5, 2 * multiplier)
    check(_one_op(Op.DEPTHWISE_CONV_2D, [x.shape, w.shape, b.shape], out, opts, {1: w, 2: b}), [x])


@pytest.mark.parametrize("act", ["NONE", "RELU", "RELU6"])
@pytest.mark.parametrize("rows", [1, 6])
def test_fully_connected(act, rows):
    x = _nhwc(
        4,
        (rows, 8),
        {0: BIG, 3: INF, 9: NAN, 15: -BIG, 20: -INF, 17: -BIG, 26: BIG, 47: NAN, 41: INF},
    )
    w = _weights(5, (4, 8))
    b = np.array([0.0, 3e38, -3e38, 1.0], np.float32)
    opts = {"fused_activation_function": ACTS[act]}
    check(
        _one_op(Op.FULLY_CONNECTED, [x.shape, w.shape, b.shape], (rows, 4), opts, {1: w, 2: b}), [x]
    )


@pytest.mark.parametrize("act", ["NONE", "RELU", "RELU6"])
def test_transpose_conv(act):
    x = _nhwc(6, (1, 3, 3, 2), {0: BIG, 4: NAN, 9: -BIG, 17: INF})
    w = _weights(7, (3, 2, 2, 2))
    b = np.array([0.0, 3e38, -1.0], np.float32)
    shape = np.array([1, 6, 6, 3], np.int32)
    opts = {"padding": 0, "stride_w": 2, "stride_h": 2, "fused_activation_function": ACTS[act]}
    data = _one_op(
        Op.TRANSPOSE_CONV,
        [[4], w.shape, x.shape, b.shape],
        (1, 6, 6, 3),
        opts,
        {0: shape, 1: w, 3: b},
    )
    check(data, [x])


@pytest.mark.parametrize("act", ["NONE", "RELU", "RELU6"])
def test_conv_3d(act):
    x = _nhwc(8, (1, 3, 4, 4, 2), {0: BIG, 11: NAN, 30: -BIG, 50: INF, 77: INF})
    w = _weights(9, (2, 2, 2, 2, 3))
    b = np.array([0.0, 3e38, -1.0], np.float32)
    opts = {"padding": 1, "stride_d": 1, "stride_w": 1, "stride_h": 1}
    opts["fused_activation_function"] = ACTS[act]
    check(
        _one_op(Op.CONV_3D, [x.shape, w.shape, b.shape], (1, 2, 3, 3, 3), opts, {1: w, 2: b}), [x]
    )


@pytest.mark.parametrize("act", ["NONE", "RELU", "RELU6"])
def test_conv_3d_transpose(act):
    x = _nhwc(24, (1, 2, 3, 3, 2), {0: BIG, 7: NAN, 13: -BIG, 30: INF})
    w = _weights(25, (2, 2, 2, 3, 2))
    b = np.array([0.0, 3e38, -1.0], np.float32)
    shape = np.array([1, 4, 6, 6, 3], np.int32)
    opts = {"padding": 1, "stride_d": 2, "stride_w": 2, "stride_h": 2}
    opts["fused_activation_function"] = ACTS[act]
    ins = [[5], w.shape, x.shape, b.shape]
    data = _one_op(Op.CONV_3D_TRANSPOSE, ins, tuple(shape), opts, {0: shape, 1: w, 3: b})
    check(data, [x])


def test_concatenation():
    # (LiteRT refuses a fused activation other than NONE on CONCATENATION)
    a, b = _pairs()
    opts = {"axis": 1, "fused_activation_function": 0}
    check(_one_op(Op.CONCATENATION, [a.shape, b.shape], (1, 18, 9), opts), [a, b])


def test_add_n():
    # each partial sum clamped: BIG + BIG - BIG is FLT_MAX - BIG, not inf - BIG
    a, b = _pairs()
    check(_one_op(Op.ADD_N, [a.shape, b.shape, a.shape], a.shape), [a, b, -a])


def test_batch_matmul():
    x = _nhwc(10, (2, 3, 4), {0: BIG, 5: NAN, 10: -BIG, 14: INF, 22: -INF})
    y = _weights(11, (2, 4, 2))
    check(_one_op(Op.BATCH_MATMUL, [x.shape, y.shape], (2, 3, 2)), [x, y])


# -- pooling --------------------------------------------------------------------------------------
# NaN first, in the middle and last of a window, after and before a larger value.

POOL_SPECIALS = {0: NAN, 1: -BIG, 2: 5.0, 10: NAN, 16: BIG, 19: NAN, 26: -INF, 27: -INF}
POOL_SPECIALS |= {40: INF, 50: NAN, 51: 7.0, 60: BIG, 62: BIG, 63: -BIG}


@pytest.mark.parametrize("act", ["NONE", "RELU", "RELU6"])
@pytest.mark.parametrize("name", ["AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D"])
@pytest.mark.parametrize("size, stride, padding", [(2, 2, 1), (3, 1, 0), (4, 4, 1)])
def test_pooling(name, act, size, stride, padding):
    x = _nhwc(12, (1, 4, 4, 4), POOL_SPECIALS)
    out = 4 // stride if padding == 0 else (4 - size) // stride + 1
    opts = {"padding": padding, "stride_w": stride, "stride_h": stride}
    opts |= {"filter_width": size, "filter_height": size, "fused_activation_function": ACTS[act]}
    check(_one_op(getattr(Op, name), [x.shape], (1, out, out, 4), opts), [x])


@pytest.mark.parametrize("order", [0, 1, 2])
def test_max_pool_nan_before_and_after_the_largest(order):
    # A window of four: NaN first, middle or last around the larger value 3.
    windows = [[NAN, 1.0, 3.0, 2.0], [1.0, 3.0, NAN, 2.0], [1.0, 3.0, 2.0, NAN], [NAN] * 4]
    w = np.array(windows[order:] + windows[:order], np.float32).reshape(4, 2, 2)
    x = np.ascontiguousarray(w.transpose(1, 0, 2)).reshape(1, 2, 8, 1)  # window k: columns 2k, 2k+1
    opts = {"padding": 1, "stride_w": 2, "stride_h": 2, "filter_width": 2, "filter_height": 2}
    check(_one_op(Op.MAX_POOL_2D, [x.shape], (1, 1, 4, 1), opts), [x])


# -- activations and normalizations ---------------------------------------------------------------

ROWS = np.array(
    [
        [NAN, 1.0, 2.0, -1.0],
        [1.0, NAN, 2.0, 3.0],
        [1.0, 2.0, 3.0, NAN],
        [INF, 1.0, 2.0, -3.0],
        [-INF, 1.0, 2.0, 0.0],
        [BIG, BIG, 1.0, 2.0],
        [-BIG, -BIG, -1.0, 0.0],
        [INF, -INF, 0.0, 1.0],
        [0.5, -0.25, 3.0, -6.5],
        [NAN, NAN, NAN, NAN],
        [-INF, -INF, NAN, -INF],
        [INF, NAN, INF, INF],
    ],
    np.float32,
)

UNARY = [
    "RELU",
    "RELU6",
    "RELU_N1_TO_1",
    "RELU_0_TO_1",
    "HARD_SWISH",
    "LOGISTIC",
    "TANH",
    "ELU",
    "ABS",
    "NEG",
    "SQRT",
    "RSQRT",
    "EXP",
    "LOG",
    "SIN",
    "COS",
    "SQUARE",
    "FLOOR",
    "CEIL",
    "ROUND",
    "SIGN",
]


@pytest.mark.parametrize("name", UNARY)
def test_unary(name):
    x = np.concatenate([SPECIALS, SPECIALS * 7, [-0.0, 2.5, -2.5, 0.5, -0.5, 89.0, -104.0]])
    x = x.astype(np.float32).reshape(1, -1)
    # BUILTIN_REF has no ELU, CEIL or ROUND: their builtin kernels are the reference.
    reference = name not in ("ELU", "CEIL", "ROUND")
    check(_one_op(getattr(Op, name), [x.shape], x.shape), [x], reference)


@pytest.mark.parametrize("approximate", [False, True])
def test_gelu(approximate):
    x = np.concatenate([SPECIALS, SPECIALS * 7]).astype(np.float32).reshape(1, -1)
    check(_one_op(Op.GELU, [x.shape], x.shape, {"approximate": approximate}), [x])


def test_leaky_relu():
    x = np.concatenate([SPECIALS, SPECIALS * 7]).astype(np.float32).reshape(1, -1)
    check(_one_op(Op.LEAKY_RELU, [x.shape], x.shape, {"alpha": 0.2}), [x])


def test_prelu():
    x = np.stack([SPECIALS, SPECIALS[::-1]]).reshape(2, 9, 1) * np.ones((1, 1, 3), np.float32)
    alpha = np.array([0.5, 3.0, -2.0], np.float32)
    check(_one_op(Op.PRELU, [x.shape, alpha.shape], x.shape, None, {1: alpha}), [x])


@pytest.mark.parametrize("beta", [1.0, 0.5])
def test_softmax(beta):
    check(_one_op(Op.SOFTMAX, [ROWS.shape], ROWS.shape, {"beta": beta}), [ROWS])


def test_log_softmax():
    check(_one_op(Op.LOG_SOFTMAX, [ROWS.shape], ROWS.shape), [ROWS])


def test_l2_normalization():
    # (LiteRT accepts only NONE as its fused activation)
    check(_one_op(Op.L2_NORMALIZATION, [ROWS.shape], ROWS.shape), [ROWS])


def test_local_response_normalization():
    x = ROWS.reshape(1, 3, 4, 4)
    opts = {"radius": 1, "bias": 1.0, "alpha": 0.5, "beta": 0.75}
    check(_one_op(Op.LOCAL_RESPONSE_NORMALIZATION, [x.shape], x.shape, opts), [x])


# -- reductions, arg max, top-k, cumsum ----------------------------------------------------------

REDUCTIONS = ["MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD"]


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("name", REDUCTIONS)
def test_reduction(name, axis):
    x = ROWS
    axes = np.array([axis], np.int32)
    out = (4,) if axis == 0 else (12,)
    check(_one_op(getattr(Op, name), [x.shape, [1]], out, {"keep_dims": False}, {1: axes}), [x])


@pytest.mark.parametrize("keep", [False, True])
@pytest.mark.parametrize("name", REDUCTIONS)
def test_reduction_over_height_and_width(name, keep):
    # (a global pooling: MEAN over [1, 2] runs LiteRT's 4-D mean)
    x = _nhwc(26, (1, 4, 3, 5), {})
    x[0, 1, 2, 0] = NAN
    x[0, 0, 1, 1] = x[0, 3, 0, 1] = BIG  # one sign of overflow in a channel
    x[0, 2, 2, 2] = -INF
    x[0, 0, 0, 3], x[0, 3, 2, 3] = INF, -INF
    x[0, :, :, 4] = -INF
    axes = np.array([1, 2], np.int32)
    out = (1, 1, 1, 5) if keep else (1, 5)
    check(_one_op(getattr(Op, name), [x.shape, [2]], out, {"keep_dims": keep}, {1: axes}), [x])


@pytest.mark.parametrize("shape, axis", [((12, 4), 0), ((2, 12, 2), 1), ((4, 12), 1)])
@pytest.mark.parametrize("name", ["ARG_MAX", "ARG_MIN"])
def test_arg_max_min(name, shape, axis):
    # Left out: rows of fewer than 8 values holding NaN along the last axis. LiteRT runs the
    # last axis through a vectorized loop whose answer there depends on the row's length
    # (ARG_MIN of [NaN, 1, 2, 3, 4] is 4, of [NaN, 1, 2, 3] is 0, of [NaN, 1, 2] is 1); from
    # 8 values on it agrees with reference_ops' NaN-aware compare, which this runtime follows.
    x = ROWS.T.reshape(shape) if shape == (4, 12) else ROWS.reshape(shape)
    axes = np.array([axis], np.int32)
    out = tuple(d for k, d in enumerate(shape) if k != axis)
    opts = {"output_type": T.INT32}
    data = _one_op(getattr(Op, name), [shape, [1]], out, opts, {1: axes}, out_type=T.INT32)
    check(data, [np.ascontiguousarray(x)])


def test_topk_v2():
    k = np.array([3], np.int32)
    data = _one_op(
        Op.TOPK_V2, [ROWS.shape, [1]], [(12, 3), (12, 3)], None, {1: k}, [T.FLOAT32, T.INT32], 2
    )
    check(data, [ROWS])


@pytest.mark.parametrize("exclusive, reverse", [(False, False), (True, True)])
def test_cumsum(exclusive, reverse):
    axis = np.array([1], np.int32)
    opts = {"exclusive": exclusive, "reverse": reverse}
    check(_one_op(Op.CUMSUM, [ROWS.shape, [1]], ROWS.shape, opts, {1: axis}), [ROWS])


# -- comparisons, select, resize ------------------------------------------------------------------

COMPARISONS = ["LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "EQUAL", "NOT_EQUAL"]


@pytest.mark.parametrize("name", COMPARISONS)
def test_comparison(name):
    a, b = _pairs()
    check(_one_op(getattr(Op, name), [a.shape, b.shape], a.shape, out_type=T.BOOL), [a, b])


def test_select_v2():
    a, b = _pairs()
    cond = (np.arange(a.size) % 3 == 0).reshape(a.shape)
    data = _one_op(Op.SELECT_V2, [("bool", *a.shape), a.shape, b.shape], a.shape)
    check(data, [cond, a, b])


@pytest.mark.parametrize(
    "align_corners, half_pixel", [(False, False), (False, True), (True, False)]
)
@pytest.mark.parametrize("name", ["RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"])
def test_resize(name, align_corners, half_pixel):
    x = ROWS.reshape(1, 3, 4, 4)
    size = np.array([5, 7], np.int32)
    opts = {"align_corners": align_corners, "half_pixel_centers": half_pixel}
    check(_one_op(getattr(Op, name), [x.shape, [2]], (1, 5, 7, 4), opts, {1: size}), [x])


# -- fused plans: the layer norm chain (_float_chains) --------------------------------------------


@pytest.mark.parametrize("activation", [0, 1, 3])
def test_layer_norm_chain_on_overflowing_rows(activation):
    data = _norm_model(activation=activation)
    rng = np.random.default_rng(7)
    base = rng.uniform(-1, 1, (1, ROW)).astype(np.float32)
    feeds = []
    for places in ({0: BIG, 5: -BIG}, {3: 2e19}, {1: -3e19, 2: 3e19}, {4: INF}, {7: NAN}, {}):
        x = base.copy()
        for i, v in places.items():
            x[0, i] = v
        feeds.append(x)
    ours = Interpreter(model_content=data)
    ref = litert_interpreter(model_content=data)
    for it in (ours, ref):
        it.allocate_tensors()
    assert len(ours._main.chained_plan) == 1  # (the chain runs, not the operators one by one)
    for x in feeds:
        for it in (ours, ref):
            it.set_tensor(it.get_input_details()[0]["index"], x)
            it.invoke()
        index = ours.get_output_details()[0]["index"]
        assert_same_as_reference(ours.get_tensor(index), ref.get_tensor(index))


# -- large results: NONE's clamp tests the result first (c.float_clamp) ---------------------------


def _large_model(name):
    """(model, input shape) of one operator with NONE whose result has >= 2048 values."""
    opts = {"fused_activation_function": 0}
    if name == "ADD":
        return _one_op(Op.ADD, [(64, 64), (64, 64)], (64, 64), opts), [(64, 64), (64, 64)]
    if name == "CONV_2D":
        w, b = _weights(20, (3, 1, 1, 2)), np.zeros(3, np.float32)
        opts |= {"padding": 0, "stride_w": 1, "stride_h": 1}
        x = (1, 32, 32, 2)
        return _one_op(Op.CONV_2D, [x, w.shape, [3]], (1, 32, 32, 3), opts, {1: w, 2: b}), [x]
    if name == "DEPTHWISE_CONV_2D":
        w, b = _weights(21, (1, 3, 3, 2)), np.zeros(2, np.float32)
        opts |= {"padding": 0, "stride_w": 1, "stride_h": 1, "depth_multiplier": 1}
        x = (1, 32, 32, 2)
        return _one_op(Op.DEPTHWISE_CONV_2D, [x, w.shape, [2]], x, opts, {1: w, 2: b}), [x]
    if name == "FULLY_CONNECTED":
        w, b = _weights(22, (4, 8)), np.zeros(4, np.float32)
        return _one_op(
            Op.FULLY_CONNECTED, [(600, 8), w.shape, [4]], (600, 4), opts, {1: w, 2: b}
        ), [(600, 8)]
    # pools on 64x64x32: MAX_POOL's strided passes (too many taps for its gather)
    opts |= {"padding": 1, "stride_w": 2, "stride_h": 2, "filter_width": 2, "filter_height": 2}
    x = (1, 64, 64, 32)
    return _one_op(getattr(Op, name), [x], (1, 32, 32, 32), opts), [x]


@pytest.mark.parametrize("what", ["overflow", "nan", "finite"])
@pytest.mark.parametrize(
    "name",
    ["ADD", "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D", "AVERAGE_POOL_2D"],
)
def test_large_results(name, what):
    data, shapes = _large_model(name)
    rng = np.random.default_rng(23)
    feeds = []
    for shape in shapes:
        x = rng.uniform(-1, 1, shape).astype(np.float32)
        flat = x.reshape(-1)
        picks = rng.choice(flat.size, 40, replace=False)
        if what == "overflow":
            flat[picks[:20]] = BIG
            flat[picks[20:30]] = INF
        elif what == "nan":
            flat[picks[:5]] = NAN
        feeds.append(x)
    if name == "MAX_POOL_2D" and what == "nan":
        feeds[0][0, :2, :2, 0] = NAN  # an all-NaN window
    check(data, feeds)


# -- ApplyActivationToVector (RNN, SVDF, LSTM cells; hybrid FULLY_CONNECTED) ----------------------


@pytest.mark.parametrize("act", ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"])
def test_rnn_activation_on_inf_and_nan(act):
    # No clamp to FLT_MAX there: RELU is std::max(0.0f, x), so +inf stays and NaN is 0.
    x = np.array([[INF, 0.5, -0.5, 1.0, 2.0], [NAN, 1.0, 1.0, 1.0, 1.0]], np.float32)
    check(rnn_model(act=ACTS[act], seed=3), [x])
