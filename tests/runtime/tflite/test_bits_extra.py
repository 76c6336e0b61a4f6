"""UNIQUE, FAKE_QUANT, BITCAST, BITWISE_XOR and RIGHT_SHIFT against LiteRT's reference kernels
through one-op models (integers bit for bit, float within 1e-5)."""

from __future__ import annotations

import numpy as np
import pytest

from runtime import Interpreter
from runtime.errors import UnsupportedOpError
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._litert import litert_interpreter
from tests.runtime.tflite.test_kernels import inp, one_op_model, out
from tests.runtime.tflite.test_layout_kernels import compare

NP = {
    T.FLOAT32: np.float32,
    T.INT8: np.int8,
    T.UINT8: np.uint8,
    T.INT16: np.int16,
    T.UINT16: np.uint16,
    T.INT32: np.int32,
    T.UINT32: np.uint32,
    T.INT64: np.int64,
}


def _ints(rng, shape, ttype, lo=None, hi=None):
    info = np.iinfo(NP[ttype])
    lo = info.min if lo is None else lo
    hi = info.max if hi is None else hi
    return rng.integers(lo, hi, shape, endpoint=True, dtype=np.int64).astype(NP[ttype])


@pytest.mark.parametrize("ttype", [T.FLOAT32, T.INT8, T.UINT8, T.INT16, T.INT32, T.INT64])
@pytest.mark.parametrize("idx_type", [T.INT32, T.INT64])
def test_unique(ttype, idx_type):
    rng = np.random.default_rng(int(ttype))
    x = rng.integers(-3, 4, 12).astype(NP[ttype])
    if ttype == T.UINT8:
        x = x.astype(np.int64).__abs__().astype(np.uint8)
    count = len(np.unique(x))
    data = one_op_model(
        Op.UNIQUE,
        [inp((12,), ttype)],
        [out((count,), ttype), out((12,), idx_type)],
        {"idx_out_type": int(idx_type)},
    )
    compare(data, feeds=[x], runs=1)


@pytest.mark.parametrize(
    "lo, hi, bits, narrow",
    [(-1.0, 1.0, 8, False), (-0.3, 2.7, 8, False), (0.1, 5.0, 4, False), (-6.0, -0.5, 2, False)],
)
def test_fake_quant(lo, hi, bits, narrow):
    data = one_op_model(
        Op.FAKE_QUANT,
        [inp((4, 9))],
        [out((4, 9))],
        {"min": lo, "max": hi, "num_bits": bits, "narrow_range": narrow},
    )
    rng = np.random.default_rng(bits)
    x = rng.uniform(lo - 1, hi + 1, (4, 9)).astype(np.float32)
    compare(data, feeds=[x], runs=1)


@pytest.mark.parametrize(
    "src, dst, shape, out_shape",
    [
        (T.FLOAT32, T.INT32, (2, 3), (2, 3)),
        (T.INT32, T.UINT8, (2, 3), (2, 3, 4)),
        (T.INT16, T.INT8, (5,), (5, 2)),
        (T.UINT8, T.INT32, (3, 4), (3,)),
        (T.INT8, T.INT16, (2, 2, 2), (2, 2)),
    ],
)
def test_bitcast(src, dst, shape, out_shape):
    rng = np.random.default_rng(1)
    x = rng.normal(size=shape).astype(np.float32) if src == T.FLOAT32 else _ints(rng, shape, src)
    data = one_op_model(Op.BITCAST, [inp(shape, src)], [out(out_shape, dst)])
    compare(data, feeds=[x], runs=1)


INTEGER_TYPES = [T.INT8, T.UINT8, T.INT16, T.UINT16, T.INT32, T.UINT32]


@pytest.mark.parametrize("ttype", INTEGER_TYPES)
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 4), (4,))])
def test_bitwise_xor(ttype, shapes):
    rng = np.random.default_rng(2)
    a, b = (_ints(rng, s, ttype) for s in shapes)
    data = one_op_model(
        Op.BITWISE_XOR, [inp(shapes[0], ttype), inp(shapes[1], ttype)], [out((3, 4), ttype)]
    )
    compare(data, feeds=[a, b], runs=1)


@pytest.mark.parametrize("ttype", INTEGER_TYPES)
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 4), (1, 4))])
def test_right_shift(ttype, shapes):
    rng = np.random.default_rng(3)
    bits = np.dtype(NP[ttype]).itemsize * 8
    a = _ints(rng, shapes[0], ttype)
    signed = np.dtype(NP[ttype]).kind == "i"
    # shifts from 0 to the width and beyond (clamped by the kernel); negative ones for signed
    b = _ints(rng, shapes[1], ttype, -3 if signed else 0, min(bits + 3, np.iinfo(NP[ttype]).max))
    data = one_op_model(
        Op.RIGHT_SHIFT, [inp(shapes[0], ttype), inp(shapes[1], ttype)], [out((3, 4), ttype)]
    )
    compare(data, feeds=[a, b], runs=1)


def test_fake_quant_narrow_range_is_refused_as_by_litert():
    data = one_op_model(
        Op.FAKE_QUANT,
        [inp((2,))],
        [out((2,))],
        {"min": -1.0, "max": 1.0, "num_bits": 8, "narrow_range": True},
    )
    with pytest.raises(UnsupportedOpError, match="narrow_range"):
        Interpreter(model_content=data)
    with pytest.raises(RuntimeError, match="narrow_range"):
        litert_interpreter(model_content=data).allocate_tensors()
