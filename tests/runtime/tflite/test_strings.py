"""STRING tensors against LiteRT's reference kernels: the string buffer format of constants,
``set_tensor`` / ``get_tensor`` / details as LiteRT's Python wrapper gives them, and every
builtin that moves or compares strings in LiteRT; operators that LiteRT refuses on strings are
refused here too; hostile string buffers are refused naming the tensor."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from runtime import Interpreter
from runtime.errors import InvalidInputError, InvalidModelError, UnsupportedOpError
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._builder import GraphBuilder, string_buffer
from tests.runtime.tflite._litert import litert_interpreter

S = T.STRING
WORDS = np.array(
    [[b"a", b"bc", b"", b"d\x00e"], [b"\xff\xfe", b"fgh", b"a", b"bc"], [b"x", b"", b"y", b"zz"]],
    dtype=object,
)


def run_both(model: bytes, feeds: dict) -> tuple[Interpreter, object]:
    """Our interpreter and LiteRT's (reference kernels), both run on ``feeds``."""
    ours = Interpreter(model_content=model, experimental_preserve_all_tensors=True)
    ref = litert_interpreter(model_content=model)
    for it in (ours, ref):
        it.allocate_tensors()
        for index, value in feeds.items():
            it.set_tensor(index, value)
        it.invoke()
    return ours, ref


def assert_same_outputs(ours, ref) -> None:
    for d in ref.get_output_details():
        want, got = ref.get_tensor(d["index"]), ours.get_tensor(d["index"])
        assert got.dtype == want.dtype and got.shape == want.shape, (got, want)
        np.testing.assert_array_equal(got, want)
        if want.dtype == object:
            assert all(type(v) is bytes for v in got.ravel())


def unary(op, out_shape, out_type=S, extra=(), options=None, x=WORDS):
    g = GraphBuilder()
    xi = g.add(list(x.shape), S, "x")
    extra_ids = [g.add(list(np.shape(v)), t, f"c{k}", data=v) for k, (t, v) in enumerate(extra)]
    y = g.add(out_shape, out_type, "y")
    g.op(op, [xi, *extra_ids], [y], options)
    return g.finish([xi], [y]), {xi: x}


def i32(v):
    return (T.INT32, np.array(v, np.int32))


CASES = {
    "reshape": lambda: unary(Op.RESHAPE, [2, 6], extra=[i32([2, 6])]),
    "squeeze": lambda: unary(Op.SQUEEZE, [4], x=WORDS[:1], options={"squeeze_dims": [0]}),
    "expand_dims": lambda: unary(Op.EXPAND_DIMS, [3, 1, 4], extra=[i32(1)]),
    "shape": lambda: unary(Op.SHAPE, [2], T.INT32, options={"out_type": int(T.INT32)}),
    "rank": lambda: unary(Op.RANK, [], T.INT32),
    "gather": lambda: unary(
        Op.GATHER, [2, 3], extra=[i32([[3, 0, 1], [11, 11, 2]])], x=WORDS.ravel()
    ),
    "gather_nd": lambda: unary(Op.GATHER_ND, [3], extra=[i32([[0, 1], [2, 3], [1, 0]])]),
    "gather_nd_rows": lambda: unary(Op.GATHER_ND, [2, 4], extra=[i32([[2], [0]])]),
    "slice": lambda: unary(Op.SLICE, [2, 2], extra=[i32([1, 1]), i32([2, 2])]),
    "strided_slice": lambda: unary(
        Op.STRIDED_SLICE,
        [2, 2],
        extra=[i32([0, 3]), i32([3, 0]), i32([2, -2])],
        options={"begin_mask": 0, "end_mask": 0},
    ),
    "tile": lambda: unary(Op.TILE, [6, 8], extra=[i32([2, 2])]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_string_ops_match_litert(name):
    model, feeds = CASES[name]()
    ours, ref = run_both(model, feeds)
    assert_same_outputs(ours, ref)


@pytest.mark.parametrize("op", [Op.EQUAL, Op.NOT_EQUAL])
@pytest.mark.parametrize("other_shape", [(3, 4), (1, 4), (3, 1), ()])
def test_string_comparisons_broadcast_like_litert(op, other_shape):
    g = GraphBuilder()
    x = g.add([3, 4], S, "x")
    z = g.add(list(other_shape), S, "z")
    y = g.add([3, 4], T.BOOL, "y")
    g.op(op, [x, z], [y])
    model = g.finish([x, z], [y])
    if other_shape:
        other = WORDS[::-1, ::-1].copy()[tuple(slice(0, n) for n in other_shape)]
        ours, ref = run_both(model, {x: WORDS, z: other})
        assert_same_outputs(ours, ref)
    else:
        # LiteRT's Python wrapper cannot set a 0-d string (it reads stray memory), so this case
        # is checked against numpy: b"" equals exactly the empty strings of WORDS.
        ours = Interpreter(model_content=model)
        ours.allocate_tensors()
        ours.set_tensor(x, WORDS)
        ours.set_tensor(z, np.array(b"", dtype=object))
        ours.invoke()
        want = WORDS == b""
        np.testing.assert_array_equal(ours.get_tensor(y), want if op == Op.EQUAL else ~want)


def test_if_and_while_carry_strings_like_litert():
    g = GraphBuilder()
    cond, x = g.add([], T.BOOL, "cond"), g.add([4], S, "x")
    y, n = g.add([4], S, "y"), g.add([], T.INT32, "n")
    then = g.sub()
    tx, ti = then.add([4], S, "tx"), then.add([4], T.INT32, "ti", data=[3, 2, 1, 0])
    ty = then.add([4], S, "ty")
    then.op(Op.GATHER, [tx, ti], [ty], {"axis": 0})
    other = g.sub()
    ex, es = other.add([4], S, "ex"), other.add([1], T.INT32, "es", data=[4])
    ey = other.add([4], S, "ey")
    other.op(Op.RESHAPE, [ex, es], [ey])
    branches = {
        "then_subgraph_index": g.add_subgraph(then, [tx], [ty], "then"),
        "else_subgraph_index": g.add_subgraph(other, [ex], [ey], "else"),
    }
    g.op(Op.IF, [cond, x], [y], branches)
    # while i < 3: i += 1; s = s rotated by one (GATHER)
    c = g.sub()
    ci, cs = c.add([], T.INT32, "ci"), c.add([4], S, "cs")
    limit, ok = c.add([], T.INT32, "limit", data=3), c.add([], T.BOOL, "ok")
    c.op(Op.LESS, [ci, limit], [ok])
    b = g.sub()
    bi, bs = b.add([], T.INT32, "bi"), b.add([4], S, "bs")
    one, bi2 = b.add([], T.INT32, "one", data=1), b.add([], T.INT32, "bi2")
    rot, bs2 = b.add([4], T.INT32, "rot", data=[1, 2, 3, 0]), b.add([4], S, "bs2")
    b.op(Op.ADD, [bi, one], [bi2], {})
    b.op(Op.GATHER, [bs, rot], [bs2], {"axis": 0})
    loop = {
        "cond_subgraph_index": g.add_subgraph(c, [ci, cs], [ok], "cond"),
        "body_subgraph_index": g.add_subgraph(b, [bi, bs], [bi2, bs2], "body"),
    }
    start, z = g.add([], T.INT32, "start", data=0), g.add([4], S, "z")
    g.op(Op.WHILE, [start, y], [n, z], loop)
    model = g.finish([cond, x], [y, n, z])
    for flag in (True, False):
        ours, ref = run_both(model, {cond: np.array(flag), x: WORDS[0]})
        assert_same_outputs(ours, ref)


def test_fill_with_a_constant_string():
    g = GraphBuilder()
    dims = g.add([2], T.INT32, "dims")
    value = g.add([], S, "value", data=np.array(b"zz\x00", dtype=object))
    y = g.add([2, 3], S, "y")
    g.op(Op.FILL, [dims, value], [y])
    ours, ref = run_both(g.finish([dims], [y]), {dims: np.array([2, 3], np.int32)})
    assert_same_outputs(ours, ref)


def test_constant_strings_and_details():
    g = GraphBuilder()
    c = g.add([3, 4], S, "words", data=WORDS)
    s = g.add([1], T.INT32, "shape", data=[12])
    y = g.add([12], S, "y")
    g.op(Op.RESHAPE, [c, s], [y])
    ours, ref = run_both(g.finish([], [y]), {})
    assert_same_outputs(ours, ref)
    np.testing.assert_array_equal(ours.get_tensor(c), ref.get_tensor(c))
    for a, b in zip(ours.get_tensor_details(), ref.get_tensor_details()):
        assert a["dtype"] is b["dtype"], (a, b)
    assert ours.get_output_details()[0]["dtype"] is np.bytes_


@pytest.mark.parametrize(
    "value",
    [
        np.array([["é", "a"], ["", "bc"]]),  # unicode: UTF-8, as LiteRT's wrapper
        np.array([[b"a\x00", b"b"], [b"", b"c"]]),  # numpy bytes drop trailing NULs
        np.array([["é", b"a\x00"], [b"", "q"]], dtype=object),
    ],
)
def test_set_tensor_takes_what_litert_takes(value):
    model, _ = unary(Op.RESHAPE, [4], extra=[i32([4])], x=value)
    ours, ref = run_both(model, {0: value})
    assert_same_outputs(ours, ref)


def test_set_tensor_refuses_what_litert_refuses():
    model, _ = unary(Op.RESHAPE, [4], extra=[i32([4])], x=WORDS[:2, :2])
    for it in (Interpreter(model_content=model), litert_interpreter(model_content=model)):
        it.allocate_tensors()
        with pytest.raises(ValueError, match="Got value of type INT32 but expected type STRING"):
            it.set_tensor(0, np.zeros((2, 2), np.int32))
        with pytest.raises(ValueError):
            it.set_tensor(0, np.array([[1, b"a"], [b"b", b"c"]], dtype=object))
        with pytest.raises(ValueError, match="Dimension mismatch"):
            it.set_tensor(0, WORDS)
    ours = Interpreter(model_content=model)
    ours.allocate_tensors()
    with pytest.raises(InvalidInputError, match="item 0 is a int"):
        ours.set_tensor(0, np.array([[1, b"a"], [b"b", b"c"]], dtype=object))


@pytest.mark.parametrize("value", [np.array([b"a"]), np.array(["a"]), np.array([b"a"], object)])
def test_strings_given_to_a_float_input_are_named_string_like_litert(value):
    g = GraphBuilder()
    x, y = g.add([1], T.FLOAT32, "x"), g.add([1], T.FLOAT32, "y")
    g.op(Op.RELU, [x], [y])
    model = g.finish([x], [y])
    for it in (Interpreter(model_content=model), litert_interpreter(model_content=model)):
        it.allocate_tensors()
        with pytest.raises(ValueError, match="Got value of type STRING but expected type FLOAT32"):
            it.set_tensor(x, value)


def test_unset_string_input_reads_empty_and_resizes():
    """LiteRT crashes reading a string input never set; here it reads as empty strings, and a
    resize re-plans shapes through the string kernels."""
    model, _ = unary(Op.EQUAL, [3, 4], T.BOOL, extra=[(S, WORDS)])
    ours = Interpreter(model_content=model)
    ours.resize_tensor_input(0, [1, 4])
    ours.allocate_tensors()
    np.testing.assert_array_equal(ours.get_tensor(0), np.full((1, 4), b"", object))
    ours.invoke()
    np.testing.assert_array_equal(ours.get_tensor(2), WORDS == b"")


@pytest.mark.parametrize(
    "op, extra, out_shape",
    [
        (Op.TRANSPOSE, [i32([1, 0])], [4, 3]),
        (Op.REVERSE_V2, [i32([1])], [3, 4]),
        (Op.CONCATENATION, [], [3, 4]),
        (Op.ZEROS_LIKE, [], [3, 4]),
        (Op.CAST, [], [3, 4]),
        (Op.PAD, [i32([[0, 0], [1, 1]])], [3, 6]),
        (Op.GATHER, [i32([0])], [3, 1]),  # string params of rank 2
    ],
)
def test_ops_litert_refuses_on_strings_are_refused(op, extra, out_shape):
    opts = {"axis": 1} if op in (Op.CONCATENATION, Op.GATHER) else None
    model, feeds = unary(op, out_shape, extra=extra, options=opts)
    with pytest.raises((UnsupportedOpError, InvalidModelError), match="STRING"):
        Interpreter(model_content=model)
    ref = litert_interpreter(model_content=model)
    with pytest.raises(RuntimeError):
        ref.allocate_tensors()
        for k, v in feeds.items():
            ref.set_tensor(k, v)
        ref.invoke()


def _constant_string_model(raw: bytes, shape=(2,)) -> bytes:
    g = GraphBuilder()
    g.buffers.append({"data": list(raw)})
    g.tensors.append({"shape": list(shape), "type": int(S), "name": "evil", "buffer": 1})
    s = g.add([1], T.INT32, "shape", data=[int(np.prod(shape))])
    y = g.add([int(np.prod(shape))], S, "y")
    g.op(Op.RESHAPE, [0, s], [y])
    return g.finish([], [y])


def _buf(count, offsets, payload=b""):
    return struct.pack(f"<{1 + len(offsets)}i", count, *offsets) + payload


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"\x02\x00", "has no count"),
        (_buf(2, [16, 17]), "too short"),
        (_buf(0x7FFFFFFF, [8]), "holds 2147483647 strings"),
        (_buf(-1, []), "holds -1 strings"),
        (_buf(2, [16, 18, 17], b"ab"), "last offset"),
        (_buf(2, [16, 19, 18], b"ab"), "decrease"),
        (_buf(2, [12, 14, 18], b"ab"), "first offset"),
        (_buf(2, [16, 1 << 30, 18], b"ab"), "decrease"),
    ],
)
def test_hostile_string_buffers_are_refused_naming_the_tensor(raw, message):
    with pytest.raises(InvalidModelError, match=f"'evil'.*{message}"):
        Interpreter(model_content=_constant_string_model(raw))


def test_builder_buffer_round_trips():
    raw = string_buffer([b"ab", b""])
    assert raw == _buf(2, [16, 18, 18], b"ab")
    ours, ref = run_both(_constant_string_model(raw), {})
    assert_same_outputs(ours, ref)
