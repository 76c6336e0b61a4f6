"""NaN, +-inf and overflowing values through one-node models, ours against onnxruntime.

The ONNX node suite rarely feeds non-finite values, and numpy and onnxruntime's C++ kernels
often treat them differently (np.maximum propagates NaN where ``a < b ? b : a`` keeps one
operand; Eigen reductions, MLAS pooling and softmax have their own rules). Each case runs one
node as planned and as written (``keep_intermediates``) in ours and in onnxruntime. Where
onnxruntime's output is NaN or +-inf ours must be exactly that (NaN equal, same inf sign);
elsewhere it must be finite and within the case's tolerance.

Inputs mix NaN, +-inf, +-3e38 (sums and products overflow whatever the order: only cases whose
overflow does not depend on the summation order are used) and ordinary values, with NaN first,
in the middle and last in a row or window, since position decides max-style results.

Left out on purpose:
- MaxPool / GlobalMaxPool with NaN: onnxruntime's own answer depends on its path. A window
  [5, 6, NaN] gives 6 along the width of a 1-channel image (MLAS's scalar ``std::max`` from
  the lowest float, which also turns an all -inf window into -3.4e38), NaN along the height or
  with 8 channels (NCHWc: ``maxps``, which returns its second operand on NaN), and [inf, NaN,
  1] gives inf on one path and 1 on the other. No rule to follow; ours keeps numpy's (NaN).
  The pooling cases here have infinities and +-3e38 but no NaN.
- DynamicQuantizeLinear with NaN: onnxruntime's min/max (MlasFindMinMaxElement) skips or
  keeps the NaN depending on its SIMD lane (scale 0.0157, 0.0148 or NaN for the same values
  with the NaN moved): no rule; checked with infinities but without NaN.
- Resize cubic of +-3e38: onnxruntime's float32 sums overflow to inf where ours (float64)
  stay finite; left as a difference (its cases have no +-3e38).
- LayerNormalization: where its statistics are finite, onnxruntime's (vectorized Welford)
  values differ from ours in rounding only; where not, ours runs its float32 Welford steps
  one by one, giving its infinities and NaN (its lane-wise merges of long rows could differ).
- ReduceMax / ReduceMin over the innermost axis (or all axes) and Hardmax with NaN, float64
  Softmax / LogSoftmax with NaN: onnxruntime takes Eigen's vectorized maxCoeff, whose NaN
  result depends on SIMD lanes and alignment (see test_reduce_max_min); checked without NaN.
- Clip-6 with a NaN attribute or min > max: onnxruntime refuses the model (ours runs it).
- TopK with sorted=0 (not a NaN matter): onnxruntime's unsorted order is its selection
  algorithm's, and differs from ours for finite inputs too; only sorted=1 is checked.
- Cast of NaN/inf/out-of-range floats to integers: undefined behaviour in C++, onnxruntime's
  result depends on the platform (x86 gives INT_MIN), so there is nothing to match.
- Where onnxruntime and the ONNX reference implementation disagree, the cases follow
  onnxruntime (the runtime promises onnxruntime's results); those cases say so beside them.
"""

import warnings

import numpy as np
import pytest

from runtime.onnx import InferenceSession
from tests.runtime.onnx.helpers import node_model, ort_session

NAN, INF = np.nan, np.inf
BIG = 3e38

# Every special value against every other one (binary ops broadcast a column and a row).
VALUES = [NAN, INF, -INF, BIG, -BIG, 0.0, -0.0, 1.5, -2.5, 0.25, 7.0, -1e-3]

# Rows for reductions, softmax, arg/top-k, normalizations: NaN first / middle / last, infs of
# both signs, sums that overflow in every order, and an ordinary row.
ROWS = [
    [NAN, 1.0, 2.0, 3.0],
    [1.0, NAN, 2.0, 3.0],
    [1.0, 2.0, 3.0, NAN],
    [INF, -INF, 1.0, 2.0],
    [BIG, BIG, -1.0, 2.0],
    [-INF, 1.0, NAN, INF],
    [1.5, -2.0, 0.5, 4.0],
    [INF, 1.0, 2.0, 3.0],
    [-BIG, -BIG, 1.0, 1.0],
    [-INF, -INF, -1.0, 2.0],
    [3.0, 1.0, 2.0, INF],
    [-2.0, -1.0, -3.0, -INF],
]


def _f(values, dtype=np.float32):
    with np.errstate(over="ignore"):
        return np.array(values, dtype=dtype)


def _vec(dtype=np.float32):
    return _f(VALUES, dtype)


def _rows(dtype=np.float32, nan=True):
    return _f([r for r in ROWS if nan or not np.isnan(r).any()], dtype)


def _image(size=6, nan=True, dtype=np.float32):
    """(1, 3, size, size): channel 0 has one NaN inside (first/middle/last of different
    windows), channel 1 NaN at a corner plus infs, channel 2 overflowing values and -inf.
    ``nan=False``: the NaNs become ordinary values."""
    x = np.random.default_rng(0).normal(size=(1, 3, 6, 6)).astype(np.float64)
    if nan:
        x[0, 0, 2, 3] = NAN
        x[0, 1, 0, 0] = NAN
        x[0, 1, 5, 5] = NAN
    x[0, 1, 3, 1] = INF
    x[0, 1, 4, 4] = -INF
    x[0, 2, 1, 1:3] = BIG
    x[0, 2, 4, 0] = -INF
    x[0, 2, 0, 5] = -BIG
    return _f(x[:, :, :size, :size], dtype)


def _assert_same(got, want, rtol, atol, what):
    assert got.shape == want.shape and got.dtype == want.dtype, (what, got.dtype, want.dtype)
    if not np.issubdtype(want.dtype, np.floating):
        np.testing.assert_array_equal(got, want, err_msg=what)
        return
    special = ~np.isfinite(want)
    # NaN equal, infs of the same sign: exactly onnxruntime's non-finite positions.
    np.testing.assert_array_equal(got[special], want[special], err_msg=f"{what}: non-finite")
    assert np.isfinite(got[~special]).all(), f"{what}: non-finite where onnxruntime is finite"
    np.testing.assert_allclose(
        got[~special].astype(np.float64),
        want[~special].astype(np.float64),
        rtol=rtol,
        atol=atol,
        err_msg=what,
    )


def _check(op, feeds, consts=None, n_out=1, opset=17, rtol=1e-5, atol=1e-6, **attrs):
    model = node_model(op, feeds, consts, n_out, opset, **attrs)
    data = model.SerializeToString()
    want = ort_session(model).run(None, feeds)
    # onnxruntime's C++ never warns on an overflow or a NaN: ours neither, whatever numpy's
    # error state (a caller's np.seterr(all="raise") must not turn them into errors).
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        planned = InferenceSession(data).run(None, feeds)
        written = InferenceSession(data, keep_intermediates=True).run(None, feeds)
    for i, (p, w, r) in enumerate(zip(planned, written, want, strict=True)):
        _assert_same(p, r, rtol, atol, f"{op} output {i} (planned)")
        _assert_same(w, r, rtol, atol, f"{op} output {i} (as written)")


def _i64(values):
    return np.array(values, np.int64)


# --- elementwise --------------------------------------------------------------------------

UNARY = [
    ("Relu", {}),
    ("LeakyRelu", {"alpha": 0.1}),
    ("Elu", {}),
    ("Selu", {}),
    ("Celu", {}),
    ("HardSigmoid", {}),
    ("HardSwish", {}),
    ("Softplus", {}),
    ("Softsign", {}),
    ("Sigmoid", {}),
    ("Tanh", {}),
    ("Erf", {}),
    ("Abs", {}),
    ("Neg", {}),
    ("Sqrt", {}),
    ("Reciprocal", {}),
    ("Exp", {}),
    ("Log", {}),
    ("Floor", {}),
    ("Ceil", {}),
    ("Round", {}),
    ("Sign", {}),
    ("IsNaN", {}),
    ("IsInf", {}),
    ("IsInf", {"detect_negative": 0}),
    ("IsInf", {"detect_positive": 0}),
    ("Shrink", {"lambd": 0.5, "bias": 0.25}),
    ("ThresholdedRelu", {"alpha": 0.5}),
    ("Clip", {}),
]


@pytest.mark.parametrize(("op", "attrs"), UNARY, ids=[f"{o}{sorted(a)}" for o, a in UNARY])
def test_unary_float32(op, attrs):
    _check(op, {"x": _vec()}, **attrs)


COMMON_UNARY = ["Relu", "Sigmoid", "Tanh", "Abs", "Neg", "Sqrt", "Exp", "Log", "Floor", "Erf"]


def _has_kernel(op, feeds, consts=None, n_out=1, opset=17, **attrs):
    """Whether onnxruntime has a kernel for this node (types included): nothing to match else."""
    try:
        ort_session(node_model(op, feeds, consts, n_out, opset, **attrs))
    except Exception as error:
        missing = ("NOT_IMPLEMENTED", "Could not find an implementation", "Type Error")
        if not any(text in str(error) for text in missing):
            raise
        return False
    return True


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
@pytest.mark.parametrize("op", COMMON_UNARY)
def test_unary_other_floats(op, dtype):
    rtol = 1e-3 if dtype == np.float16 else 1e-6
    if _has_kernel(op, {"x": _vec(dtype)}):
        _check(op, {"x": _vec(dtype)}, rtol=rtol)
        return
    # onnxruntime has no kernel for this type (float64 Erf): its float32 kernel on the same
    # values is the oracle, within float32's precision.
    x, x32 = _vec(dtype), _vec(np.float32)
    (want,) = ort_session(node_model(op, {"x": x32})).run(None, {"x": x32})
    (got,) = InferenceSession(node_model(op, {"x": x}).SerializeToString()).run(None, {"x": x})
    _assert_same(got.astype(np.float32), want, 1e-6, 1e-7, f"{op} {np.dtype(dtype).name}")


def _other_float_cases(dtype):
    rows, vec = _rows(dtype), _vec(dtype)
    nan, one = _f(NAN, dtype), _f(1.0, dtype)
    return [
        # Softmax / LogSoftmax without NaN: onnxruntime's double kernel takes Eigen's row
        # maximum (NaN by SIMD lane, see test_reduce_max_min)
        ("Softmax", {"x": _rows(dtype, nan=False)}, None, 1, {}),
        ("LogSoftmax", {"x": _rows(dtype, nan=False)}, None, 1, {}),
        ("LogSoftmax", {"x": _rows(dtype, nan=False)}, None, 1, {"axis": 0}),
        ("LogSoftmax", {"x": _rows(dtype, nan=False)}, None, 1, {"opset": 11}),
        ("Clip", {"x": vec}, {"lo": nan, "hi": one}, 1, {}),
        ("Clip", {"x": vec}, {"lo": -one, "hi": nan}, 1, {}),
        ("ArgMax", {"x": rows}, None, 1, {"axis": 1}),
        ("ArgMin", {"x": rows}, None, 1, {"axis": 0, "select_last_index": 1}),
        ("TopK", {"x": rows}, {"k": _i64([2])}, 2, {}),
        ("CumSum", {"x": rows}, {"a": _i64(1)}, 1, {}),
        ("Div", {"a": vec[:, None], "b": vec[None, :]}, None, 1, {}),
        ("Pow", {"a": vec[:, None], "b": vec[None, :]}, None, 1, {}),
        ("LeakyRelu", {"x": vec}, None, 1, {"alpha": 0.1}),
        ("Elu", {"x": vec}, None, 1, {}),
        ("HardSigmoid", {"x": vec}, None, 1, {}),
        ("Sign", {"x": vec}, None, 1, {}),
        ("IsNaN", {"x": vec}, None, 1, {}),
        ("IsInf", {"x": vec}, None, 1, {}),
        ("Round", {"x": vec}, None, 1, {}),
        ("Mod", {"a": vec[:, None], "b": vec[None, :]}, None, 1, {"fmod": 1}),
    ]


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_other_floats(dtype):
    checked = 0
    for op, feeds, consts, n_out, attrs in _other_float_cases(dtype):
        opset = attrs.pop("opset", 17)
        if _has_kernel(op, feeds, consts, n_out, opset, **attrs):
            rtol = 1e-3 if dtype == np.float16 else 1e-6
            _check(op, feeds, consts, n_out, opset, rtol=rtol, **attrs)
            checked += 1
    assert checked >= 5  # (onnxruntime's CPU kernels cover these types for most of them)


def test_gelu():
    _check("Gelu", {"x": _vec()}, opset=20)
    _check("Gelu", {"x": _vec()}, opset=20, approximate="tanh")


@pytest.mark.parametrize(
    "bounds",
    [(-1.0, 2.0), (NAN, 2.0), (-1.0, NAN), (-INF, INF), (3.0, 1.0)],
    ids=["plain", "nan-min", "nan-max", "inf-bounds", "min-above-max"],
)
def test_clip_bounds(bounds):
    # A NaN bound clips nothing in onnxruntime (std::max / std::min keep x); the ONNX reference
    # (np.clip) gives NaN everywhere. Ours follows onnxruntime.
    lo, hi = bounds
    _check("Clip", {"x": _vec(), "lo": _f(lo), "hi": _f(hi)})
    _check("Clip", {"x": _vec()}, {"lo": _f(lo), "hi": _f(hi)})
    _check("Clip", {"x": _vec()}, {"lo": _f(lo)})
    if lo <= hi:  # (onnxruntime refuses Clip-6 attributes that are NaN or min > max)
        _check("Clip", {"x": _vec()}, opset=6, min=float(lo), max=float(hi))


def test_prelu():
    x = np.tile(_vec()[:, None], (1, 3))
    _check("PRelu", {"x": x, "s": _f([0.1, NAN, -INF])})
    _check("PRelu", {"x": x}, {"s": _f([0.1, 2.0, -0.5])})


BINARY = ["Div", "Pow", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Add", "Mul"]


@pytest.mark.parametrize("op", BINARY)
def test_binary_grid(op):
    a, b = _vec()[:, None], _vec()[None, :]
    _check(op, {"a": a, "b": b}, opset=16)


def test_mod_fmod():
    a, b = _vec()[:, None], _vec()[None, :]
    _check("Mod", {"a": a, "b": b}, fmod=1)


@pytest.mark.parametrize("op", ["Max", "Min", "Sum", "Mean"])
def test_variadic(op):
    a = _vec()[:, None, None]
    b = _vec()[None, :, None]
    c = _f([NAN, 1.0, -INF])[None, None, :]
    _check(op, {"a": a, "b": b, "c": c})
    _check(op, {"a": a, "b": b})
    _check(op, {"b": b, "a": a})
    _check(op, {"a": _vec()})


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
@pytest.mark.parametrize("op", ["Max", "Min"])
def test_variadic_other_floats(op, dtype):
    _check(op, {"a": _vec(dtype)[:, None], "b": _vec(dtype)[None, :]})


def test_where():
    cond = np.array([[True], [False], [True]])
    x = _vec()[None, :]
    _check("Where", {"c": cond, "x": x, "y": _vec()[::-1].copy()[None, :]})


# --- softmax family -----------------------------------------------------------------------


@pytest.mark.parametrize("opset", [11, 13])
@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax", "Hardmax"])
def test_softmax_family(op, opset):
    # Hardmax marks the first element equal to Eigen's vectorized row maximum, whose NaN result
    # depends on SIMD lanes and alignment (see test_reduce_max_min): its rows have no NaN.
    x = _rows(nan=op != "Hardmax")
    _check(op, {"x": x}, opset=opset)
    _check(op, {"x": x}, opset=opset, axis=0)
    _check(op, {"x": x.reshape(-1, 2, 4)}, opset=opset, axis=1)


# --- reductions ---------------------------------------------------------------------------

REDUCE = [
    "ReduceSum",
    "ReduceMean",
    "ReduceProd",
    "ReduceLogSumExp",
    "ReduceL1",
    "ReduceL2",
    "ReduceSumSquare",
]


@pytest.mark.parametrize("opset", [13, 18])
@pytest.mark.parametrize("op", REDUCE)
def test_reduce(op, opset):
    x = _rows()
    takes_axes_input = opset >= 18 or op == "ReduceSum"
    for axes in ([1], [0], [0, 1], None):
        for keepdims in (0, 1):
            if axes is None:
                _check(op, {"x": x}, opset=opset, keepdims=keepdims)
            elif takes_axes_input:
                _check(op, {"x": x}, {"axes": _i64(axes)}, opset=opset, keepdims=keepdims)
            else:
                _check(op, {"x": x}, opset=opset, axes=axes, keepdims=keepdims)


@pytest.mark.parametrize("opset", [13, 18])
@pytest.mark.parametrize("op", ["ReduceMax", "ReduceMin"])
def test_reduce_max_min(op, opset):
    """Keeping the innermost axis, onnxruntime's loop keeps a NaN first element of a reduced
    slice and passes over later ones. Reducing the innermost axis (or all) it takes Eigen's
    vectorized maxCoeff: with NaN the result depends on SIMD lanes and the buffer's alignment
    ([1, NaN, 2, 3] gives 2, the same NaN among 19 values gives NaN or 18): those reductions
    are checked without NaN (infinities and +-3e38 kept)."""

    def check(x, axes, **attrs):
        if opset >= 18:
            _check(op, {"x": x}, {"axes": _i64(axes)}, opset=opset, **attrs)
        else:
            _check(op, {"x": x}, opset=opset, axes=axes, **attrs)

    for keepdims in (0, 1):
        check(_rows(), [0], keepdims=keepdims)
        check(_rows(nan=False), [1], keepdims=keepdims)
        check(_rows(nan=False), [0, 1], keepdims=keepdims)
        cube = _rows().reshape(3, 4, 4)
        check(cube, [1], keepdims=keepdims)
        check(cube, [0, 1], keepdims=keepdims)
        check(cube, [0], keepdims=keepdims)
        check(np.ascontiguousarray(cube.transpose(1, 2, 0)), [0, 1], keepdims=keepdims)


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
@pytest.mark.parametrize("op", ["ReduceMax", "ReduceMin", "ReduceSum", "ReduceMean"])
def test_reduce_other_floats(op, dtype):
    _check(op, {"x": _rows(dtype)}, {"axes": _i64([0])}, opset=18, rtol=1e-3)
    _check(op, {"x": _rows(dtype, nan=False)}, {"axes": _i64([1])}, opset=18, rtol=1e-3)


@pytest.mark.parametrize("select_last_index", [0, 1])
@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
def test_arg(op, select_last_index):
    for axis in (0, 1):
        _check(op, {"x": _rows()}, axis=axis, select_last_index=select_last_index)


def test_arg_nan_at_every_position():
    # onnxruntime: a NaN first element is the answer (index 0), a later NaN is never taken.
    rows = []
    for at in range(19):
        for row in (np.arange(19.0), np.arange(19.0)[::-1], np.zeros(19)):
            row = row.copy()
            row[at] = NAN
            rows.append(row)
    x = _f(rows)
    for op in ("ArgMax", "ArgMin"):
        for last in (0, 1):
            _check(op, {"x": x}, axis=1, select_last_index=last)
            _check(op, {"x": x.astype(np.float64)}, axis=1, select_last_index=last)
            _check(op, {"x": np.ascontiguousarray(x.T)}, axis=0, select_last_index=last)


@pytest.mark.parametrize("largest", [0, 1])
def test_topk(largest):
    for axis in (0, 1):
        _check("TopK", {"x": _rows()}, {"k": _i64([2])}, n_out=2, axis=axis, largest=largest)


@pytest.mark.parametrize(("exclusive", "reverse"), [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_cumsum(exclusive, reverse):
    for axis in (0, 1):
        _check("CumSum", {"x": _rows()}, {"a": _i64(axis)}, exclusive=exclusive, reverse=reverse)


# --- pooling ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "attrs",
    [
        {"kernel_shape": [2, 2]},
        {"kernel_shape": [3, 3], "strides": [1, 1], "pads": [1, 1, 1, 1]},
        {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [0, 0, 1, 1], "ceil_mode": 1},
        {"kernel_shape": [2, 2], "dilations": [2, 2]},
        {"kernel_shape": [1, 3], "strides": [1, 3]},
    ],
    ids=["2x2", "3x3pad", "3x3s2ceil", "dilated", "1x3"],
)
def test_max_pool(attrs):
    # Without NaN (see the module docstring: onnxruntime's MaxPool NaN depends on its path).
    _check("MaxPool", {"x": _image(nan=False)}, **attrs)
    _check("MaxPool", {"x": _image(nan=False)}, n_out=2, **attrs)


@pytest.mark.parametrize("count_include_pad", [0, 1])
@pytest.mark.parametrize(
    "attrs",
    [
        {"kernel_shape": [2, 2]},
        {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]},
        {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [0, 0, 1, 1], "ceil_mode": 1},
    ],
    ids=["2x2", "3x3pad", "3x3s2ceil"],
)
def test_average_pool(attrs, count_include_pad):
    _check("AveragePool", {"x": _image()}, count_include_pad=count_include_pad, **attrs)


@pytest.mark.parametrize("op", ["GlobalMaxPool", "GlobalAveragePool", "GlobalLpPool"])
def test_global_pool(op):
    _check(op, {"x": _image(nan=op != "GlobalMaxPool")})
    _check(op, {"x": _image(size=2, nan=op != "GlobalMaxPool")})


def test_lp_pool():
    for p in (1, 2, 3):
        _check("LpPool", {"x": _image()}, opset=18, kernel_shape=[2, 2], p=p)
        _check("GlobalLpPool", {"x": _image()}, p=p)
        _check("GlobalLpPool", {"x": _image()[0]}, p=p)


# --- arithmetic kernels -------------------------------------------------------------------


def _matrix():
    m = np.random.default_rng(1).normal(size=(4, 5))
    m[0, 0], m[1, 2], m[2, 4], m[3, 1] = NAN, INF, -INF, BIG
    return _f(m)


def test_matmul_gemm_einsum():
    a = _matrix()
    b = _f(np.random.default_rng(2).normal(size=(5, 3)))
    b[2, 1] = 0.0  # inf * 0 is NaN
    _check("MatMul", {"a": a, "b": b})
    _check("Gemm", {"a": a, "b": b, "c": _f([1.0, NAN, INF])})
    _check("Gemm", {"a": a}, {"b": b}, alpha=2.0, beta=0.5)
    _check("Einsum", {"a": a, "b": b}, equation="ij,jk->ik")
    _check("Einsum", {"a": a}, equation="ij->i")


def test_conv():
    w = _f(np.random.default_rng(3).normal(size=(4, 3, 3, 3)))
    w[1, 0, 1, 1] = 0.0
    _check("Conv", {"x": _image()}, {"w": w}, pads=[1, 1, 1, 1])
    _check("Conv", {"x": _image(), "w": w}, strides=[2, 2])
    _check("Conv", {"x": _image()}, {"w": w[:, :, :1, :1].copy()})
    dw = _f(np.random.default_rng(4).normal(size=(3, 1, 3, 3)))
    _check("Conv", {"x": _image()}, {"w": dw}, group=3, pads=[1, 1, 1, 1])


# --- normalizations -----------------------------------------------------------------------


def test_layer_normalization():
    """onnxruntime's kernel takes Welford's running mean and sum of squares in float32: a row
    whose float32 sum overflows keeps a finite mean ([3e38] * 4: mean 3e38, variance 0, y = B;
    [3e38, 3e38, -1, 2]: the sum of squares overflows, y = B), one whose steps overflow gives
    NaN ([3e38, 3e38, -3e38, -3e38])."""
    scale, bias = _f([1, 2, 0.5, 1]), _f([0, 1, 0, -1])
    x = _f([*ROWS, [BIG] * 4, [BIG, BIG, -BIG, -BIG], [2e19, -2e19, 1, 3], [1e20, 1e20, 1, 2]])
    _check("LayerNormalization", {"x": x}, {"s": scale, "b": bias}, n_out=3)
    _check("LayerNormalization", {"x": x}, {"s": scale}, n_out=3)
    _check("LayerNormalization", {"x": x.reshape(4, 2, 2, 2, 2)}, {"s": _f([[1, 2], [0.5, 1]])},
           axis=-2, n_out=3)  # fmt: skip
    _check("LayerNormalization", {"x": x, "s": _f([1, NAN, INF, 1])}, axis=0)
    wide = np.random.default_rng(5).normal(size=(4, 37)).astype(np.float32)
    wide[1, ::2], wide[2] = -BIG, BIG
    wide[3, 7] = BIG
    _check("LayerNormalization", {"x": wide}, {"s": np.ones(37, np.float32)}, n_out=3)


def test_batch_normalization():
    x = _image()
    c = {"s": _f([1, 2, 0.5]), "b": _f([0, 1, -1]), "m": _f([0, 0.5, 1]), "v": _f([1, 2, 0.5])}
    _check("BatchNormalization", {"x": x}, c)
    odd = {"s": _f([INF, 1, 1]), "b": _f([0, NAN, 1]), "m": _f([0, 0, INF]), "v": _f([1, 1, 1])}
    _check("BatchNormalization", {"x": x}, odd)


def test_instance_normalization():
    _check("InstanceNormalization", {"x": _image()}, {"s": _f([1, 2, 0.5]), "b": _f([0, 1, -1])})
    x = _rows().reshape(3, 4, 4)
    _check("InstanceNormalization", {"x": x}, {"s": _f([1, 2, 0.5, 1]), "b": _f([0, 1, -1, 0])})


def test_lp_normalization_and_mvn():
    for p in (1, 2):
        for axis in (0, 1):
            _check("LpNormalization", {"x": _rows()}, p=p, axis=axis)
    _check("MeanVarianceNormalization", {"x": _image()})
    _check("MeanVarianceNormalization", {"x": _rows()}, axes=[1])


# --- resize -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
def test_resize(mode):
    # cubic: no +-3e38 (onnxruntime's float32 sums overflow where ours, in float64, do not).
    x = _image(size=4)
    if mode == "cubic":
        x[np.abs(x) == BIG] = 0.5
    scales = _f([1, 1, 2, 2])
    _check("Resize", {"x": x}, {"r": _f([]), "s": scales}, opset=13, mode=mode)
    _check(
        "Resize",
        {"x": x},
        {"r": _f([]), "s": _f([1, 1, 0.5, 0.75])},
        opset=13,
        mode=mode,
        coordinate_transformation_mode="align_corners" if mode != "nearest" else "asymmetric",
    )


_TRANSFORMS = ["half_pixel", "align_corners", "asymmetric", "pytorch_half_pixel"]


@pytest.mark.parametrize("transform", _TRANSFORMS)
@pytest.mark.parametrize("mode", ["linear", "cubic"])
def test_resize_one_axis(mode, transform):
    """onnxruntime's bilinear / bicubic kernels interpolate an axis of scale 1 too (weights
    (1, 0) / (0, 1, 0, 0) on its neighbours: a non-finite neighbour gives NaN), take whole
    coordinates from floor(x) (cubic: taps x-1 .. x+2), and weigh an edge pixel taken twice
    (0.5, 0.5)."""
    x = _f([[[[1, 2, 3, 0.5], [4, INF, 6, -1], [7, 8, NAN, 2], [-INF, 1, 2, 3]]]])
    attrs = {"mode": mode, "coordinate_transformation_mode": transform}
    for scales in ([1, 1, 1, 2], [1, 1, 2, 1], [1, 1, 1, 0.5], [1, 1, 1.5, 1.25]):
        _check("Resize", {"x": x}, {"r": _f([]), "s": _f(scales)}, opset=13, **attrs)
    _check("Resize", {"x": x[0, 0]}, {"r": _f([]), "s": _f([1, 2])}, opset=13, **attrs)
    row = _f([[[[1, -INF, 2, INF, 3]]]])
    _check("Resize", {"x": row}, {"r": _f([]), "s": _f([1, 1, 1, 2])}, opset=13, **attrs)
    if mode == "cubic":
        attrs["exclude_outside"] = 1
        _check("Resize", {"x": x}, {"r": _f([]), "s": _f([1, 1, 1, 2])}, opset=13, **attrs)


def test_resize_linear_other_layouts():
    # trilinear (3-D, 5-D) and NHWC (4-D with the innermost scale 1) kernels
    x = _f([[[1, 2, 3], [4, INF, 6]], [[7, 8, NAN], [1, 2, 3]]])
    _check("Resize", {"x": x}, {"r": _f([]), "s": _f([1, 1, 2])}, opset=13, mode="linear")
    _check("Resize", {"x": x[None, None]}, {"r": _f([]), "s": _f([1, 1, 1, 2, 1])}, opset=13,
           mode="linear")  # fmt: skip
    nhwc = np.ascontiguousarray(_image(size=4).transpose(0, 2, 3, 1))
    _check("Resize", {"x": nhwc}, {"r": _f([]), "s": _f([1, 2, 1, 1])}, opset=13, mode="linear")
    _check("Resize", {"x": x}, {"r": _f([]), "s": _f([2])}, opset=18, axes=[2], mode="linear")


# --- quantization and casts ---------------------------------------------------------------


@pytest.mark.parametrize("zero_point", [np.int8(3), np.uint8(128)], ids=["int8", "uint8"])
def test_quantize_linear(zero_point):
    _check("QuantizeLinear", {"x": _vec()}, {"s": _f(0.1), "z": zero_point})
    _check("QuantizeLinear", {"x": _vec()}, {"s": _f(0.1), "z": zero_point}, opset=13)


def test_dynamic_quantize_linear():
    """onnxruntime: scale 1 when the range (with 0) is empty, zero point max(0, min(255,
    -min / scale)) with std::min / std::max (-inf in x: -(-inf) / inf is NaN, giving 255).
    The ONNX reference gives scale 1/255 for an all-zero input; ours follows onnxruntime.
    Rows with NaN are left out (see the module docstring)."""
    _check("DynamicQuantizeLinear", {"x": _f([1.0, -2.0, 3.5, 0.25])}, n_out=3)
    for row in [*ROWS, [0.0, 0.0, -0.0], [-1e-45, 0, 0], [2.0, 1.0], [-INF, -INF], [INF, 0]]:
        if not np.isnan(row).any():
            _check("DynamicQuantizeLinear", {"x": _f(row)}, n_out=3)
    for at in (0, 1, 18):
        for value in (INF, -INF):
            x = np.linspace(-1, 3, 19).astype(np.float32)
            x[at] = value
            _check("DynamicQuantizeLinear", {"x": x}, n_out=3)


def test_cast_float_to_float16_overflow():
    x = _f([7e4, -7e4, BIG, -BIG, 65504, 65519, 65520, -65520, NAN, INF, -INF, 1e-8])
    _check("Cast", {"x": x}, to=10)
    _check("Cast", {"x": x.astype(np.float64)}, to=10)
    _check("Cast", {"x": _f([1e39, -1e39, 3.5e38], np.float64)}, to=1)
