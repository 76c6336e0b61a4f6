"""ARG_MAX, ARG_MIN, SPLIT_V, UNPACK, SELECT_V2 in every value type LiteRT's reference kernels
take, against BUILTIN_REF through one-op models (integers bit for bit, float within 1e-5)."""

from __future__ import annotations

import numpy as np
import pytest

from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite.test_kernels import const, inp, one_op_model, out
from tests.runtime.tflite.test_layout_kernels import NP, TYPES, compare


def _spec(tname):
    return (T.BOOL, None, None) if tname == "bool" else TYPES[tname]


def _i32(v):
    return const(np.asarray(v, np.int32), T.INT32)


@pytest.mark.parametrize("op", [Op.ARG_MAX, Op.ARG_MIN])
@pytest.mark.parametrize("tname", ["float32", "int8", "uint8", "int32", "bool"])
@pytest.mark.parametrize("shape,axis", [((3, 5), 1), ((4, 2, 3), 0), ((2, 3, 4), -1)])
@pytest.mark.parametrize("otype", [T.INT32, T.INT64])
def test_arg_min_max(op, tname, shape, axis, otype):
    t, s, z = _spec(tname)
    a = axis % len(shape)
    o = shape[:a] + shape[a + 1 :]
    model = one_op_model(
        op,
        [inp(shape, t, s, z), _i32([axis])],
        [out(o, otype)],
        {"output_type": int(otype)},
        version=2,
    )
    compare(model)
    # Ties: the first index wins.
    x = np.random.default_rng(3).integers(0, 2, shape).astype(NP[t])
    compare(model, feeds=[x], runs=1)


@pytest.mark.parametrize("tname", ["float32", "int8", "int16", "uint8", "int32"])
@pytest.mark.parametrize(
    "shape,sizes,axis",
    [((2, 7), [2, -1, 1], 1), ((6, 3), [1, 2, 3], 0), ((2, 3, 4), [0, 4], -1)],
)
def test_split_v(tname, shape, sizes, axis):
    t, s, z = TYPES[tname]
    a = axis % len(shape)
    rest = shape[a] - sum(v for v in sizes if v >= 0)
    outs = [out(shape[:a] + (rest if v == -1 else v,) + shape[a + 1 :], t, s, z) for v in sizes]
    model = one_op_model(
        Op.SPLIT_V,
        [inp(shape, t, s, z), _i32(sizes), _i32(axis)],
        outs,
        {"num_splits": len(sizes)},
    )
    compare(model)


@pytest.mark.parametrize("tname", ["float32", "int8", "int16", "uint8", "int32", "bool"])
@pytest.mark.parametrize("shape,axis", [((3, 2), 1), ((2, 3, 4), 0), ((2, 3, 4), -1)])
def test_unpack(tname, shape, axis):
    t, s, z = _spec(tname)
    a = axis % len(shape)
    o = shape[:a] + shape[a + 1 :]
    outs = [out(o, t, s, z) for _ in range(shape[a])]
    model = one_op_model(
        Op.UNPACK, [inp(shape, t, s, z)], outs, {"num": shape[a], "axis": axis}, version=2
    )
    compare(model)


@pytest.mark.parametrize("tname", ["float32", "int8", "int16", "uint8", "int32", "bool"])
@pytest.mark.parametrize(
    "cshape,ashape,bshape",
    [((3, 1), (1, 4), (3, 4)), ((2, 3), (2, 3), (2, 3)), ((), (2, 2), (2, 1))],
)
def test_select_v2(tname, cshape, ashape, bshape):
    t, s, z = _spec(tname)
    o = np.broadcast_shapes(cshape, ashape, bshape)
    model = one_op_model(
        Op.SELECT_V2,
        [inp(cshape, T.BOOL), inp(ashape, t, s, z), inp(bshape, t, s, z)],
        [out(o, t, s, z)],
    )
    compare(model)
