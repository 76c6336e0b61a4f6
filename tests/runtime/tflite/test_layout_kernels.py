"""DEPTH_TO_SPACE, SPACE_TO_DEPTH, SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND, MIRROR_PAD,
BROADCAST_TO, CUMSUM, GATHER_ND, SCATTER_ND, ONE_HOT, TOPK_V2 against LiteRT's reference
kernels through one-op models: integer outputs bit for bit, float within 1e-5."""

from __future__ import annotations

import numpy as np
import pytest

from runtime import Interpreter
from runtime.errors import BudgetExceededError, InvalidModelError
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._litert import litert_interpreter
from tests.runtime.tflite.test_kernels import const, inp, one_op_model, out

NP = {
    T.FLOAT32: np.float32,
    T.INT8: np.int8,
    T.UINT8: np.uint8,
    T.INT16: np.int16,
    T.INT32: np.int32,
    T.INT64: np.int64,
    T.BOOL: np.bool_,
}
# (type, scale, zero point) of each value type tested; quantized ones keep their parameters.
TYPES = {
    "float32": (T.FLOAT32, None, None),
    "int8": (T.INT8, 0.05, -3),
    "int16": (T.INT16, 0.01, 0),
    "uint8": (T.UINT8, 0.05, 128),
    "int32": (T.INT32, None, None),
    "int64": (T.INT64, None, None),
    "bool": (T.BOOL, None, None),
}


def random(rng, shape, ttype):
    dtype = NP[ttype]
    if ttype == T.FLOAT32:
        return rng.normal(0, 2, shape).astype(dtype)
    if ttype == T.BOOL:
        return rng.random(shape) < 0.5
    info = np.iinfo(dtype)
    lo, hi = max(int(info.min), -1000), min(int(info.max), 1000)
    return rng.integers(lo, hi + 1, shape).astype(dtype)


def compare(data: bytes, seed=0, runs=2, feeds=None):
    """Ours and LiteRT (BUILTIN_REF) on the same feeds; every output compared."""
    rng = np.random.default_rng(seed)
    ref = litert_interpreter(model_content=data)
    ours = Interpreter(model_content=data)
    ref.allocate_tensors()
    ours.allocate_tensors()
    for _ in range(runs):
        for k, d in enumerate(ref.get_input_details()):
            if feeds is not None:
                x = feeds[k]
            else:
                x = random(
                    rng, d["shape"], {np.dtype(v): t for t, v in NP.items()}[np.dtype(d["dtype"])]
                )
            ref.set_tensor(d["index"], x)
            ours.set_tensor(d["index"], x)
        ref.invoke()
        ours.invoke()
        for d in ref.get_output_details():
            a, b = ref.get_tensor(d["index"]), ours.get_tensor(d["index"])
            assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
            if a.dtype.kind == "f":
                np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
            else:
                np.testing.assert_array_equal(b, a)


def _i32(v):
    return const(np.asarray(v, np.int32), T.INT32)


@pytest.mark.parametrize("tname", ["float32", "int8", "uint8", "int32"])
@pytest.mark.parametrize("shape,bs", [((1, 2, 3, 8), 2), ((2, 1, 2, 9), 3), ((1, 2, 2, 4), 1)])
def test_depth_to_space(tname, shape, bs):
    t, s, z = TYPES[tname]
    n, h, w, ch = shape
    o = (n, h * bs, w * bs, ch // (bs * bs))
    model = one_op_model(
        Op.DEPTH_TO_SPACE, [inp(shape, t, s, z)], [out(o, t, s, z)], {"block_size": bs}
    )
    compare(model)


@pytest.mark.parametrize("tname", ["float32", "int8", "uint8", "int32"])
@pytest.mark.parametrize("shape,bs", [((1, 4, 6, 2), 2), ((2, 3, 3, 1), 3), ((1, 2, 2, 3), 1)])
def test_space_to_depth(tname, shape, bs):
    t, s, z = TYPES[tname]
    n, h, w, ch = shape
    o = (n, h // bs, w // bs, ch * bs * bs)
    model = one_op_model(
        Op.SPACE_TO_DEPTH, [inp(shape, t, s, z)], [out(o, t, s, z)], {"block_size": bs}
    )
    compare(model)


@pytest.mark.parametrize("tname", ["float32", "int8", "int16", "int32"])
@pytest.mark.parametrize(
    "shape,block,pads",
    [
        ((1, 4, 4, 2), [2, 2], [[0, 0], [0, 0]]),
        ((2, 3, 5, 1), [2, 3], [[1, 0], [0, 1]]),
        ((1, 5, 3), [3], [[1, 0]]),
    ],
)
def test_space_to_batch_and_back(tname, shape, block, pads):
    t, s, z = TYPES[tname]
    spatial = [d + p[0] + p[1] for d, p in zip(shape[1:-1], pads)]
    mid = (shape[0] * int(np.prod(block)), *[d // b for d, b in zip(spatial, block)], shape[-1])
    model = one_op_model(
        Op.SPACE_TO_BATCH_ND,
        [inp(shape, t, s, z), _i32(block), _i32(pads)],
        [out(mid, t, s, z)],
    )
    compare(model)
    back = [shape[0], *[d * b - p[0] - p[1] for d, b, p in zip(mid[1:-1], block, pads)], shape[-1]]
    model = one_op_model(
        Op.BATCH_TO_SPACE_ND,
        [inp(mid, t, s, z), _i32(block), _i32(pads)],
        [out(back, t, s, z)],
    )
    compare(model)


@pytest.mark.parametrize("tname", ["float32", "int8", "int16", "uint8", "int32"])
@pytest.mark.parametrize("mode", [0, 1])
@pytest.mark.parametrize(
    "shape,pads", [((3, 4), [[1, 2], [2, 0]]), ((2, 3, 3, 2), [[0, 1], [2, 2], [1, 1], [0, 0]])]
)
def test_mirror_pad(tname, mode, shape, pads):
    t, s, z = TYPES[tname]
    o = [d + p[0] + p[1] for d, p in zip(shape, pads)]
    model = one_op_model(
        Op.MIRROR_PAD, [inp(shape, t, s, z), _i32(pads)], [out(o, t, s, z)], {"mode": mode}
    )
    compare(model)


@pytest.mark.parametrize("tname", ["float32", "int8", "int16", "int32", "int64", "bool"])
@pytest.mark.parametrize(
    "shape,target", [((3, 1), (2, 3, 4)), ((1,), (5,)), ((2, 1, 3), (2, 4, 3)), ((), (2, 2))]
)
def test_broadcast_to(tname, shape, target):
    t, s, z = TYPES[tname]
    model = one_op_model(
        Op.BROADCAST_TO, [inp(shape, t, s, z), _i32(target)], [out(target, t, s, z)], version=2
    )
    compare(model)


@pytest.mark.parametrize("tname", ["float32", "int32", "int64"])
@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("shape,axis", [((7,), 0), ((3, 4, 5), 1), ((3, 4, 5), -1)])
def test_cumsum(tname, exclusive, reverse, shape, axis):
    t = TYPES[tname][0]
    model = one_op_model(
        Op.CUMSUM,
        [inp(shape, t), _i32(axis)],
        [out(shape, t)],
        {"exclusive": exclusive, "reverse": reverse},
    )
    compare(model)


@pytest.mark.parametrize("tname", ["float32", "int8", "int16", "uint8", "int32", "int64", "bool"])
@pytest.mark.parametrize(
    "shape,indices",
    [
        ((4, 3), [[1], [3], [0]]),
        ((4, 3, 2), [[1, 2], [3, 0]]),
        ((2, 3, 2), [[[0, 1, 1]], [[1, 2, 0]]]),
    ],
)
def test_gather_nd(tname, shape, indices):
    t, s, z = TYPES[tname]
    idx = np.asarray(indices, np.int32)
    o = idx.shape[:-1] + shape[idx.shape[-1] :]
    model = one_op_model(Op.GATHER_ND, [inp(shape, t, s, z), _i32(idx)], [out(o, t, s, z)])
    compare(model)


@pytest.mark.parametrize("tname", ["float32", "int8", "int32"])
@pytest.mark.parametrize(
    "indices,shape",
    [([[1], [3], [1]], (5, 2)), ([[0, 1], [2, 2]], (3, 3, 2)), ([[4]], (6,))],
)
def test_scatter_nd(tname, indices, shape):
    t, s, z = TYPES[tname]
    idx = np.asarray(indices, np.int32)
    upd = idx.shape[:-1] + shape[idx.shape[-1] :]
    if t == T.INT8:
        s, z = None, None  # LiteRT's SCATTER_ND takes int8 as plain integers
    model = one_op_model(
        Op.SCATTER_ND, [_i32(idx), inp(upd, t, s, z), _i32(shape)], [out(shape, t, s, z)]
    )
    compare(model)


@pytest.mark.parametrize("tname", ["float32", "int8", "int32"])
@pytest.mark.parametrize("shape,depth,axis", [((4,), 5, -1), ((2, 3), 4, 0), ((2, 3), 3, 1)])
def test_one_hot(tname, shape, depth, axis):
    t = TYPES[tname][0]
    rank = len(shape) + 1
    a = axis % rank
    o = shape[:a] + (depth,) + shape[a:]
    on, off = np.asarray(3, NP[t]), np.asarray(-1, NP[t])
    model = one_op_model(
        Op.ONE_HOT,
        [inp(shape, T.INT32), _i32(depth), const(on, t), const(off, t)],
        [out(o, t)],
        {"axis": axis},
    )
    rng = np.random.default_rng(1)
    compare(model, feeds=[rng.integers(-1, depth + 1, shape).astype(np.int32)])


@pytest.mark.parametrize("tname", ["float32", "int8", "int16", "uint8", "int32", "int64"])
@pytest.mark.parametrize("shape,k", [((10,), 3), ((3, 8), 8), ((2, 2, 6), 1)])
def test_topk_v2(tname, shape, k):
    t, s, z = TYPES[tname]
    o = shape[:-1] + (k,)
    model = one_op_model(
        Op.TOPK_V2, [inp(shape, t, s, z), _i32(k)], [out(o, t, s, z), out(o, T.INT32)]
    )
    compare(model)
    # Many equal values: ties go to the lower index.
    x = np.random.default_rng(2).integers(-2, 2, shape).astype(NP[t])
    compare(model, feeds=[x], runs=1)


def test_bad_parameters_are_typed_errors():
    model = one_op_model(
        Op.DEPTH_TO_SPACE, [inp((1, 2, 2, 3))], [out((1, 4, 4, 1))], {"block_size": 2}
    )
    it = Interpreter(model_content=model)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], np.zeros((1, 2, 2, 3), np.float32))
    with pytest.raises(InvalidModelError, match="block_size"):
        it.invoke()
    model = one_op_model(Op.GATHER_ND, [inp((3, 2)), _i32([[3]])], [out((1, 2))])
    it = Interpreter(model_content=model)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], np.zeros((3, 2), np.float32))
    with pytest.raises(InvalidModelError, match="outside"):
        it.invoke()
    model = one_op_model(
        Op.MIRROR_PAD, [inp((2, 2)), _i32([[2, 0], [0, 0]])], [out((4, 2))], {"mode": 0}
    )
    it = Interpreter(model_content=model)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], np.zeros((2, 2), np.float32))
    with pytest.raises(InvalidModelError, match="paddings"):
        it.invoke()


@pytest.mark.parametrize("tname", ["float32", "int8", "uint8"])
@pytest.mark.parametrize("shape", [(5,), (3, 7), (2, 3, 4, 16), (2, 1)])
@pytest.mark.parametrize("zp", [0, 17])
def test_l2_normalization(tname, shape, zp):
    t, s, _ = TYPES[tname]
    if t == T.FLOAT32:
        in_q, out_q = (None, None), (None, None)
    else:
        base = 128 if t == T.UINT8 else 0
        in_q, out_q = (s, base + zp), (1.0 / 128.0, base)
    model = one_op_model(Op.L2_NORMALIZATION, [inp(shape, t, *in_q)], [out(shape, t, *out_q)])
    compare(model, seed=zp)
    if t != T.FLOAT32:
        # Rows at the zero point (an all-zero vector) and constant rows.
        x = np.full(shape, in_q[1], NP[t])
        compare(model, feeds=[x], runs=1)


@pytest.mark.parametrize("shape", [(1, 2, 3, 8), (2, 1, 1, 5)])
@pytest.mark.parametrize(
    "radius,bias,alpha,beta", [(2, 1.0, 1e-4, 0.75), (1, 2.0, 0.5, 0.5), (0, 1.0, 1.0, 1.0)]
)
def test_local_response_normalization(shape, radius, bias, alpha, beta):
    model = one_op_model(
        Op.LOCAL_RESPONSE_NORMALIZATION,
        [inp(shape)],
        [out(shape)],
        {"radius": radius, "bias": bias, "alpha": alpha, "beta": beta},
    )
    compare(model)


def _invoke(model, *feeds):
    it = Interpreter(model_content=model)
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), feeds):
        it.set_tensor(d["index"], x)
    it.invoke()
    return it


@pytest.mark.parametrize(
    "model,feeds",
    [
        (
            one_op_model(Op.BROADCAST_TO, [inp((1,)), _i32([1 << 20, 1 << 20])], [out((1, 1))]),
            [np.zeros(1, np.float32)],
        ),
        (
            one_op_model(
                Op.ONE_HOT,
                [inp((4,), T.INT32), _i32(1 << 30), const(np.float32(1)), const(np.float32(0))],
                [out((4, 1))],
                {"axis": -1},
            ),
            [np.zeros(4, np.int32)],
        ),
        (
            one_op_model(
                Op.SCATTER_ND,
                [inp((1, 2), T.INT32), inp((1,)), _i32([1 << 20, 1 << 20])],
                [out((1, 1))],
            ),
            [np.zeros((1, 2), np.int32), np.zeros(1, np.float32)],
        ),
        (
            one_op_model(
                Op.SPACE_TO_BATCH_ND,
                [inp((1, 2, 2, 1)), _i32([1, 1]), _i32([[1 << 20, 0], [1 << 20, 0]])],
                [out((1, 2, 2, 1))],
            ),
            [np.zeros((1, 2, 2, 1), np.float32)],
        ),
    ],
    ids=["broadcast_to", "one_hot", "scatter_nd", "space_to_batch_nd"],
)
def test_hostile_sizes_are_refused_before_allocation(model, feeds):
    with pytest.raises(BudgetExceededError):
        _invoke(model, *feeds)
