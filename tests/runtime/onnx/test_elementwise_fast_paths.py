"""The per-call fast paths of the element-wise kernels, each against the general path (numpy's
own definition, bit for bit) or onnxruntime, with the cases that must take the general path.

- MatMul of a float [..., M, K] by a 2-D [K, N] of its type: one matrix as a 2-D product
  (ndarray.dot: numpy's matmul's bits), a batch through matmul, without the batch-broadcast
  shape walk; the size check kept for a result larger than both operands; other types, ranks
  and mismatched dims still refused or computed by the general path.
- Log / Sqrt / Reciprocal and the trigonometric ops: no floating-point warning on log(0),
  sqrt(-1), 1 / 0, acos(2) (onnxruntime's C gives -inf / NaN / inf silently), and numpy's error
  state left as it was.
- Add / Sub / Mul / Div with a one-value float constant and Pow by a constant 2, bound at load
  (``runtime.onnx._bind_constants``): the plain kernel's bits (the constant fed at run time),
  onnxruntime's values, in place only on a fresh result, other types and ranks to the plain
  kernel.
- ReduceMean: numpy's mean bit for bit, its sums divided in place only when large.
- Binary ops whose one operand broadcasts into the other without growing it (a per-channel
  [1, C, 1, 1]): numpy's ufunc without the broadcast-shape walk; growth on both sides still
  checked, other types refused.
- HardSigmoid's clip as maximum / minimum: numpy's clip bit for bit (signed zeros, NaN).
- Add / Sub / Mul / Div write into a large second operand that is a fresh result only they
  read (``runtime.onnx._plan._in_place_arithmetic``): the bits of the graph as written, feeds
  and graph outputs untouched; Tanh overwrites a fresh input the same way.
"""

import warnings

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from runtime import Limits
from runtime._budget import Budget, running
from runtime.errors import BudgetExceededError, InvalidModelError
from runtime.onnx import InferenceSession, _bind_constants
from runtime.onnx.ops import activation, elementwise, math_ops, reduce, trig
from tests.runtime.onnx.helpers import ort_session

RNG = np.random.default_rng(15)


def _general_matmul(a, b):
    return elementwise._matmul(a, b)


# --- MatMul -------------------------------------------------------------------------------

# (a's shape, a transposed view?, b's shape, b transposed view?)
_ONE_MATRIX = [
    ((8, 257), False, (257, 32), False),
    ((1, 1, 8, 257), True, (257, 32), False),  # melspectrogram's transposed spectrum
    ((1, 1, 8, 257), False, (257, 32), True),
    ((1, 5), False, (5, 1), False),
    ((1, 3, 7), False, (7, 64), False),
    ((17, 64), True, (64, 3), True),
    ((2, 600), False, (600, 214), False),
]


def _array(shape, transposed, dtype=np.float32):
    if transposed:
        swapped = shape[:-2] + (shape[-1], shape[-2])
        return RNG.standard_normal(swapped).astype(dtype).swapaxes(-1, -2)
    return RNG.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("a_shape", "a_t", "b_shape", "b_t"), _ONE_MATRIX)
def test_matmul_one_matrix_has_numpys_bits(a_shape, a_t, b_shape, b_t, dtype):
    a, b = _array(a_shape, a_t, dtype), _array(b_shape, b_t, dtype)
    got = elementwise.MatMul(a, b)
    expected = np.matmul(a, b)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got, _general_matmul(a, b))


@pytest.mark.parametrize("a_shape", [(2, 8, 257), (2, 3, 5, 7), (3, 1, 4)])
def test_matmul_batch_of_matrices_is_numpys_matmul(a_shape):
    a = RNG.standard_normal(a_shape).astype(np.float32)
    b = RNG.standard_normal((a_shape[-1], 9)).astype(np.float32)
    np.testing.assert_array_equal(elementwise.MatMul(a, b), np.matmul(a, b))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # other types: the general path, exact for integers
        (np.arange(12, dtype=np.int32).reshape(3, 4), np.arange(8, dtype=np.int32).reshape(4, 2)),
        (np.ones((2, 3), np.float16), np.ones((3, 4), np.float16)),
        # 1-D operands, a batched right operand
        (np.ones(3, np.float32), np.ones((3, 4), np.float32)),
        (np.ones((2, 3), np.float32), np.ones(3, np.float32)),
        (np.ones((2, 2, 3), np.float32), np.ones((2, 3, 4), np.float32)),
        (np.ones((2, 3), np.float32), np.ones((5, 3, 4), np.float32)),
        # an inner dim of 0: zeros of a's rows by b's columns
        (np.ones((1, 4, 0), np.float32), np.ones((0, 6), np.float32)),
    ],
)
def test_matmul_general_cases_match_numpy(a, b):
    got = elementwise.MatMul(a, b)
    expected = np.matmul(a, b)
    assert got.dtype == a.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected.astype(a.dtype))


@pytest.mark.parametrize(
    ("a", "b", "match"),
    [
        (np.ones((2, 3), np.float32), np.ones((3, 4), np.float64), "element types"),
        (np.ones((1, 2, 3), np.float32), np.ones((4, 5), np.float32), "inner dims"),
        (np.ones((2, 3), np.float32), np.ones((), np.float32), "rank"),
    ],
)
def test_matmul_refuses_bad_operands(a, b, match):
    with pytest.raises(InvalidModelError, match=match):
        elementwise.MatMul(a, b)


def _matmul_model(a_shape, b_shape):
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["y"])],
        "matmul",
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, a_shape),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, b_shape),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


@pytest.mark.parametrize(
    ("a_shape", "b_shape"), [((600, 1), (1, 600)), ((1, 600, 2), (2, 600)), ((2, 300, 1), (1, 600))]
)
def test_kernel_checks_a_result_larger_than_both_operands(a_shape, b_shape):
    a, b = np.ones(a_shape, np.float32), np.ones(b_shape, np.float32)
    with running(Budget(Limits(max_tensor_bytes=1 << 20))):
        with pytest.raises(BudgetExceededError, match="MatMul"):
            elementwise.MatMul(a, b)
        # one column: no larger than ``a``
        assert elementwise.MatMul(a, b[:, :1]).shape == a_shape[:-1] + (1,)


def test_matmul_larger_than_both_operands_is_refused_in_a_run():
    # [600, 1] @ [1, 600]: 360,000 elements from operands of 600, over a 1 MB tensor limit
    model = _matmul_model([600, 1], [1, 600]).SerializeToString()
    feeds = {"a": np.ones((600, 1), np.float32), "b": np.ones((1, 600), np.float32)}
    session = InferenceSession(model, limits=Limits(max_tensor_bytes=1 << 20))
    with pytest.raises(BudgetExceededError, match="MatMul"):
        session.run(None, feeds)
    # the same product within the limit runs
    (y,) = InferenceSession(model).run(None, feeds)
    assert y.shape == (600, 600) and np.all(y == 1)


@pytest.mark.parametrize(
    ("a_shape", "b_shape"), [((1, 1, 8, 257), (257, 32)), ((2, 16, 40), (40, 8)), ((3, 5), (5, 7))]
)
def test_matmul_fast_path_matches_onnxruntime(a_shape, b_shape):
    model = _matmul_model(list(a_shape), list(b_shape))
    feeds = {
        "a": RNG.standard_normal(a_shape).astype(np.float32),
        "b": RNG.standard_normal(b_shape).astype(np.float32),
    }
    (ours,) = InferenceSession(model.SerializeToString()).run(None, feeds)
    (theirs,) = ort_session(model).run(None, feeds)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


# --- quiet unary ops ------------------------------------------------------------------------

_SPECIAL = np.array([0.0, -0.0, -1.0, 1.0, np.inf, -np.inf, np.nan, 2.0, 1e-40], np.float32)


@pytest.mark.parametrize(
    ("kernel", "ufunc"),
    [
        (elementwise.Log, np.log),
        (elementwise.Sqrt, np.sqrt),
        (elementwise.Reciprocal, np.reciprocal),
        (trig.Acos, np.arccos),
        (trig.Atanh, np.arctanh),
        (trig.Cosh, np.cosh),
    ],
)
def test_unary_ops_are_quiet_and_exact(kernel, ufunc):
    before = np.geterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = kernel(_SPECIAL)
    assert np.geterr() == before
    with np.errstate(all="ignore"):
        expected = ufunc(_SPECIAL)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32))


def test_float_mod_by_zero_is_quiet():
    a = np.array([1.0, -2.0, 0.0], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = math_ops.Mod(a, np.zeros(3, np.float32), fmod=1)
    assert np.isnan(got).all()


def test_quiet_ops_keep_an_enclosing_error_state():
    with np.errstate(divide="raise"):
        elementwise.Log(np.zeros(2, np.float32))
        assert np.geterr()["divide"] == "raise"
        with pytest.raises(FloatingPointError):
            np.log(np.zeros(2, np.float32))


# --- arithmetic with a one-value constant (runtime.onnx._bind_constants) ----------------------


def _binary_models(op, value, const_first, x_type=TensorProto.FLOAT, producer=None):
    """``op`` of x (or ``producer``'s fresh result of x) and a constant, with the constant as
    an initializer (bound at load) and as a graph input (the plain kernel)."""
    c = np.asarray(value)
    nodes = [helper.make_node(producer, ["x", "x"], ["p"])] if producer else []
    operand = "p" if producer else "x"
    names = ["c", operand] if const_first else [operand, "c"]
    nodes.append(helper.make_node(op, names, ["y"]))
    x = helper.make_tensor_value_info("x", x_type, None)
    c_type = helper.np_dtype_to_tensor_dtype(c.dtype)
    y = [helper.make_tensor_value_info("y", x_type, None)]

    def model(inputs, inits):
        graph = helper.make_graph(nodes, "g", inputs, y, initializer=inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)

    bound = model([x], [helper.make_tensor("c", c_type, c.shape, c.reshape(-1).tolist())])
    fed = model([x, helper.make_tensor_value_info("c", c_type, list(c.shape))], [])
    return bound, fed, c


_VALUES = [np.float32(0.75), np.full((1,), -3.5, np.float32), np.full((1, 1, 1), 1e-3, np.float32)]


@pytest.mark.filterwarnings("ignore:divide by zero")  # (numpy's, as the plain kernel's)
@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
@pytest.mark.parametrize("value", _VALUES, ids=["0-d", "[1]", "[1,1,1]"])
@pytest.mark.parametrize("const_first", [False, True], ids=["x-op-c", "c-op-x"])
def test_one_value_constant_has_the_plain_kernels_bits(op, value, const_first):
    bound, fed, c = _binary_models(op, value, const_first)
    ours = InferenceSession(bound.SerializeToString())
    assert isinstance(ours._planned.nodes[0].fn, _bind_constants.OneValue)
    plain = InferenceSession(fed.SerializeToString())
    theirs = ort_session(bound)
    # a rank of at least the constant's (the bound path), a lower one (the plain kernel's
    # broadcast), one value, and a 0-d x
    for shape in [(2, 3, 5), (1, 1, 8, 32), (4,), ()]:
        x = RNG.standard_normal(shape).astype(np.float32)
        x.reshape(-1)[:1] = 0.0  # (a zero divisor: inf / NaN, quietly or not, as plain)
        (got,) = ours.run(None, {"x": x})
        (expected,) = plain.run(None, {"x": x, "c": c})
        assert got.shape == expected.shape == np.broadcast_shapes(shape, c.shape)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, expected)
        (reference,) = theirs.run(None, {"x": x})
        np.testing.assert_allclose(got, reference, rtol=1e-6)


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
def test_one_value_constant_overwrites_only_a_fresh_result(op):
    # x * x is fresh and read only by the bound node: a large one is overwritten in place
    bound, fed, c = _binary_models(op, np.float32(1.5), False, producer="Mul")
    ours = InferenceSession(bound.SerializeToString())
    fn = ours._planned.nodes[-1].fn
    assert isinstance(fn, _bind_constants.OneValue) and fn.in_place
    x = RNG.standard_normal((3, 40, 40)).astype(np.float32)
    kept = x.copy()
    (got,) = ours.run(None, {"x": x})
    (expected,) = InferenceSession(fed.SerializeToString()).run(None, {"x": x, "c": c})
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(x, kept)
    # a feed is never overwritten
    bound, _, _ = _binary_models(op, np.float32(1.5), False)
    assert not InferenceSession(bound.SerializeToString())._planned.nodes[0].fn.in_place
    InferenceSession(bound.SerializeToString()).run(None, {"x": x})
    np.testing.assert_array_equal(x, kept)


def test_one_value_constant_leaves_other_types_to_the_plain_kernel():
    kernel = _bind_constants.OneValue(
        np.add, np.array(1.0, np.float32), 0, False, False, elementwise.Add
    )
    with pytest.raises(InvalidModelError, match="element types"):
        kernel(np.ones(3, np.float64), np.ones((), np.float32))
    # a 0-d float constant beside an integer one: not bound (Div truncates integers)
    bound, _, _ = _binary_models("Div", np.int64(3), False, x_type=TensorProto.INT64)
    session = InferenceSession(bound.SerializeToString())
    assert not isinstance(session._planned.nodes[0].fn, _bind_constants.OneValue)
    (got,) = session.run(None, {"x": np.array([-7, 7], np.int64)})
    np.testing.assert_array_equal(got, [-2, 2])


@pytest.mark.parametrize(
    ("exponent", "bound"),
    [(np.float32(2), True), (np.full((1,), 2, np.int64), True), (np.float32(3), False)],
)
def test_pow_by_a_constant_two(exponent, bound):
    model, fed, c = _binary_models("Pow", exponent, False)
    ours = InferenceSession(model.SerializeToString())
    assert (getattr(ours._planned.nodes[0].fn, "func", None) is _bind_constants._squared) == bound
    theirs = ort_session(model)
    for shape in [(2, 257), (3,), ()]:
        x = RNG.standard_normal(shape).astype(np.float32)
        (got,) = ours.run(None, {"x": x})
        (expected,) = InferenceSession(fed.SerializeToString()).run(None, {"x": x, "c": c})
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_allclose(got, theirs.run(None, {"x": x})[0], rtol=1e-6)
    # an integer base takes the plain kernel, exact
    np.testing.assert_array_equal(
        _bind_constants._squared(np.array([3, -4], np.int32), exponent, _rank=exponent.ndim),
        elementwise.Pow(np.array([3, -4], np.int32), exponent),
    )


# --- ReduceMean's division ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("shape", "axes"),
    [((1, 129, 7), [1]), ((1, 1, 7), [-1]), ((4, 4), [1]), ((3, 5), [0, 1]), ((8, 300, 5), [2])],
)
def test_reduce_mean_is_numpys_mean(shape, axes, dtype):
    # (the last: 2,400 sums, divided in place)
    x = RNG.standard_normal(shape).astype(dtype)
    for keepdims in (0, 1):
        got = reduce.ReduceMean(x, axes=axes, keepdims=keepdims)
        expected = np.mean(x, axis=tuple(axes), keepdims=bool(keepdims))
        assert got.dtype == dtype and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)


# --- arithmetic broadcasting without growth --------------------------------------------------


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div", "Max", "Min", "Less", "Equal"])
@pytest.mark.parametrize(
    ("a_shape", "b_shape"),
    [
        ((1, 96, 4, 6), (1, 96, 1, 1)),  # per channel (a squeeze-excite scale)
        ((1, 96, 1, 1), (1, 96, 4, 6)),  # (the other way round)
        ((2, 3, 5), (3, 1)),
        ((2, 3, 5), (1, 1, 5)),
        ((4, 1), (1, 5)),  # both grow: the general path, with its size check
        ((3, 0, 2), (3, 1, 1)),
    ],
)
def test_broadcast_into_an_operand_is_numpys_ufunc(op, a_shape, b_shape):
    a = RNG.standard_normal(a_shape).astype(np.float32)
    b = RNG.standard_normal(b_shape).astype(np.float32) + 3.0
    ufunc = {
        "Add": np.add,
        "Sub": np.subtract,
        "Mul": np.multiply,
        "Div": np.divide,
        "Max": np.maximum,
        "Min": np.minimum,
        "Less": np.less,
        "Equal": np.equal,
    }[op]
    got = getattr(elementwise, op)(a, b)
    expected = ufunc(a, b)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    if a_shape == (1, 96, 4, 6) and op in ("Add", "Mul"):  # a channels-last view
        view = np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
        np.testing.assert_array_equal(getattr(elementwise, op)(view, b), expected)


def test_broadcast_growth_is_still_checked_and_typed():
    with running(Budget(Limits(max_tensor_bytes=1 << 20))):
        with pytest.raises(BudgetExceededError, match="Add"):
            elementwise.Add(np.ones((600, 1), np.float32), np.ones((1, 600), np.float32))
    with pytest.raises(InvalidModelError, match="element types"):
        elementwise.Mul(np.ones((2, 3), np.float32), np.ones((1, 3), np.float64))
    with pytest.raises(InvalidModelError, match="broadcast"):
        elementwise.Add(np.ones((2, 3), np.float32), np.ones((2, 1, 2), np.float32))


# --- HardSigmoid / HardSwish -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("size", [1, 7, 15, 1015])
@pytest.mark.parametrize(("alpha", "beta"), [(0.2, 0.5), (1 / 6, 0.5), (-1.0, -0.0)])
def test_hard_sigmoid_is_numpys_clip_bit_for_bit(dtype, size, alpha, beta):
    special = [0.0, -0.0, 1.0, -1.0, 2.5, -2.5, np.nan, np.inf, -np.inf, 1e-30, 5e-8]
    x = np.resize(np.concatenate([special, RNG.standard_normal(size) * 4]), size).astype(dtype)
    with np.errstate(invalid="ignore"):
        expected = np.clip(x * np.asarray(alpha, dtype) + np.asarray(beta, dtype), 0, 1)
        got = activation.HardSigmoid(x, alpha=alpha, beta=beta)
    assert got.dtype == dtype and got.shape == x.shape
    bits = {2: np.uint16, 4: np.uint32, 8: np.uint64}[x.itemsize]
    np.testing.assert_array_equal(got.view(bits), expected.astype(dtype).view(bits))


def test_hard_swish_matches_onnxruntime():
    graph = helper.make_graph(
        [
            helper.make_node("HardSwish", ["x"], ["y"]),
            helper.make_node("HardSigmoid", ["x"], ["z"]),
        ],
        "hard",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 96, 1, 1])],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
            helper.make_tensor_value_info("z", TensorProto.FLOAT, None),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    x = (RNG.standard_normal((1, 96, 1, 1)) * 5).astype(np.float32)
    ours = InferenceSession(model.SerializeToString()).run(None, {"x": x})
    theirs = ort_session(model).run(None, {"x": x})
    for got, expected in zip(ours, theirs, strict=True):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


# --- writing into a fresh second operand ------------------------------------------------------


def _second_operand_model(extra_output=False):
    nodes = [
        helper.make_node("Mul", ["x", "x"], ["p"]),  # fresh, read by Sub alone
        helper.make_node("Sub", ["x", "p"], ["s"]),  # x is a feed: p is overwritten
        helper.make_node("Mul", ["c", "s"], ["q"]),  # a constant first: s is overwritten
        helper.make_node("Div", ["x", "q"], ["r"]),
        helper.make_node("Add", ["x", "r"], ["y"]),
    ]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if extra_output:
        outputs.append(helper.make_tensor_value_info("p", TensorProto.FLOAT, None))
    graph = helper.make_graph(
        nodes,
        "second",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
        outputs,
        [helper.make_tensor("c", TensorProto.FLOAT, [], [0.75])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    return model.SerializeToString()


def _overwrites(session) -> list:
    flags = []
    for node in session._planned.nodes:
        fn = node.fn
        if isinstance(fn, _bind_constants.OneValue):
            flags.append(fn.in_place)
        else:
            flags.append(getattr(fn, "keywords", {}).get("_into_second", False))
    return flags


@pytest.mark.filterwarnings("ignore:divide by zero")
@pytest.mark.parametrize("extra_output", [False, True])
def test_a_fresh_second_operand_is_overwritten_with_the_same_bits(extra_output):
    model = _second_operand_model(extra_output)
    session = InferenceSession(model)
    # p is read elsewhere (a graph output) in the second model: Sub then makes a new array
    assert _overwrites(session)[1:] == [not extra_output, True, True, True]
    written = InferenceSession(model, keep_intermediates=True)
    for shape in [(3, 40, 40), (5, 7), ()]:  # (large: in place; small and 0-d: new arrays)
        x = RNG.standard_normal(shape).astype(np.float32)
        kept = x.copy()
        got = session.run(None, {"x": x})
        expected = written.run(None, {"x": x})
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_array_equal(g, e)
        np.testing.assert_array_equal(x, kept)  # the feed is never written
    theirs = ort_session(onnx.load_from_string(model))
    x = RNG.standard_normal((3, 40, 40)).astype(np.float32)
    np.testing.assert_allclose(
        session.run(None, {"x": x})[0], theirs.run(None, {"x": x})[0], rtol=1e-5, atol=1e-5
    )


def test_kernel_writes_into_the_second_operand_only_when_it_is_the_result():
    a = RNG.standard_normal((1, 64, 1)).astype(np.float32)
    b = RNG.standard_normal((4, 64, 16)).astype(np.float32)
    expected = np.subtract(a, b)
    got = elementwise.Sub(a, b, _into_second=True)
    assert got is b
    np.testing.assert_array_equal(got, expected)
    # b broadcasts into a (the result is a's shape), or is small or read-only: a new array
    big = RNG.standard_normal((4, 64, 16)).astype(np.float32)
    one = np.full((1, 64, 1), 2.0, np.float32)
    assert elementwise.Mul(big, one, _into_second=True) is not one
    small = np.ones((2, 3), np.float32)
    assert elementwise.Add(small, small.copy(), _into_second=True) is not small
    frozen = np.ones((4, 64, 16), np.float32)
    frozen.flags.writeable = False
    assert elementwise.Div(big, frozen, _into_second=True) is not frozen


def _tanh_model(tanh_input_is_output=False):
    nodes = [
        helper.make_node("Mul", ["x", "x"], ["p"]),  # fresh: Tanh overwrites it
        helper.make_node("Tanh", ["p"], ["t"]),
        helper.make_node("Add", ["c", "t"], ["a"]),  # Tanh's result is fresh: overwritten
        helper.make_node("Tanh", ["x"], ["u"]),  # a feed: never overwritten
        helper.make_node("Mul", ["a", "u"], ["y"]),
    ]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if tanh_input_is_output:
        outputs.append(helper.make_tensor_value_info("p", TensorProto.FLOAT, None))
    graph = helper.make_graph(
        nodes,
        "tanh",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
        outputs,
        [helper.make_tensor("c", TensorProto.FLOAT, [], [1.0])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    return model.SerializeToString()


@pytest.mark.parametrize("tanh_input_is_output", [False, True])
def test_tanh_overwrites_only_a_fresh_input(tanh_input_is_output):
    model = _tanh_model(tanh_input_is_output)
    session = InferenceSession(model)
    nodes = session._planned.nodes
    flags = [getattr(n.fn, "keywords", {}).get("_in_place", False) for n in nodes]
    assert flags[1] == (not tanh_input_is_output) and flags[3] is False
    assert isinstance(nodes[2].fn, _bind_constants.OneValue) and nodes[2].fn.in_place
    written = InferenceSession(model, keep_intermediates=True)
    for shape in [(4, 30, 30), (3, 5)]:
        x = RNG.standard_normal(shape).astype(np.float32)
        kept = x.copy()
        for got, expected in zip(
            session.run(None, {"x": x}), written.run(None, {"x": x}), strict=True
        ):
            np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(x, kept)
    x = RNG.standard_normal((4, 30, 30)).astype(np.float32)
    theirs = ort_session(onnx.load_from_string(model)).run(None, {"x": x})
    np.testing.assert_allclose(session.run(None, {"x": x})[0], theirs[0], rtol=1e-5, atol=1e-6)
