"""EMBEDDING_LOOKUP (plain and hybrid), EMBEDDING_LOOKUP_SPARSE, and RESIZE_BILINEAR /
RESIZE_NEAREST_NEIGHBOR in every flag combination and type (float32, int8, uint8) against
LiteRT's reference kernels through one-op models: integers bit for bit, float within 1e-5."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from runtime import Interpreter
from runtime.errors import InvalidModelError
from runtime.tflite.schema import BuiltinOperator as Op
from runtime.tflite.schema import TensorType as T
from tests.runtime.tflite._litert import litert_interpreter
from tests.runtime.tflite.test_kernels import const, inp, one_op_model, out
from tests.runtime.tflite.test_layout_kernels import compare

RESIZE_TYPES = {
    "float32": (T.FLOAT32, None, None),
    "int8": (T.INT8, 0.1, 3),
    "uint8": (T.UINT8, 0.1, 128),
}
FLAGS = list(itertools.product([False, True], [False, True]))


@pytest.mark.parametrize("tname", sorted(RESIZE_TYPES))
@pytest.mark.parametrize("align, half", FLAGS)
@pytest.mark.parametrize("in_hw, out_hw", [((3, 4), (5, 7)), ((6, 5), (4, 2)), ((1, 3), (3, 1))])
def test_resize_every_flag_and_type(tname, align, half, in_hw, out_hw):
    t, s, z = RESIZE_TYPES[tname]
    size = const(np.array(out_hw, np.int32), T.INT32)
    opts = {"align_corners": align, "half_pixel_centers": half}
    nearest = one_op_model(
        Op.RESIZE_NEAREST_NEIGHBOR,
        [inp((2, *in_hw, 3), t, s, z), size],
        [out((2, *out_hw, 3), t, s, z)],
        opts,
        version=4,
    )
    compare(nearest, seed=sum(in_hw))
    bilinear = one_op_model(
        Op.RESIZE_BILINEAR,
        [inp((2, *in_hw, 3), t, s, z), size],
        [out((2, *out_hw, 3), t, s, z)],
        opts,
        version=4,
    )
    if align and half:  # refused by LiteRT's Prepare too
        with pytest.raises(InvalidModelError, match="cannot both be true"):
            Interpreter(model_content=bilinear).allocate_tensors()
        with pytest.raises(RuntimeError, match="align_corners must be False"):
            litert_interpreter(model_content=bilinear).allocate_tensors()
        return
    compare(bilinear, seed=sum(out_hw))


@pytest.mark.parametrize("tname", ["int8", "uint8"])
def test_resize_bilinear_quantized_ignores_output_params(tname):
    """LiteRT interpolates raw values whatever the output's parameters say."""
    t, s, z = RESIZE_TYPES[tname]
    data = one_op_model(
        Op.RESIZE_BILINEAR,
        [inp((1, 3, 4, 2), t, s, z), const(np.array([5, 7], np.int32), T.INT32)],
        [out((1, 5, 7, 2), t, 0.37, z + 5)],
        {},
        version=4,
    )
    compare(data)


def _table(tname, shape, rng):
    if tname == "float32":
        return rng.normal(0, 1, shape).astype(np.float32)
    if tname == "int32":
        return rng.integers(-1000, 1000, shape).astype(np.int32)
    dtype = np.int8 if tname == "int8" else np.uint8
    return rng.integers(np.iinfo(dtype).min, np.iinfo(dtype).max + 1, shape).astype(dtype)


TABLE_TYPES = {"float32": T.FLOAT32, "int8": T.INT8, "uint8": T.UINT8, "int32": T.INT32}


@pytest.mark.parametrize("tname", sorted(TABLE_TYPES))
@pytest.mark.parametrize("shape", [(6, 3), (5, 2, 3)])
def test_embedding_lookup_copies_rows(tname, shape):
    rng = np.random.default_rng(len(shape))
    t = TABLE_TYPES[tname]
    quant = (0.05, 7) if tname in ("int8", "uint8") else (None, None)
    table = const(_table(tname, shape, rng), t, *quant)
    data = one_op_model(
        Op.EMBEDDING_LOOKUP,
        [inp((4,), T.INT32), table],
        [out((4, *shape[1:]), t, *quant)],
        version=1,
    )
    compare(data, feeds=[np.array([1, 0, shape[0] - 1, 1], np.int32)], runs=1)


@pytest.mark.parametrize("tname", ["int8", "uint8"])
@pytest.mark.parametrize("per_row", [False, True])
def test_embedding_lookup_hybrid_dequantizes(tname, per_row):
    """int8/uint8 table, float32 output: value * scale (uint8 bytes read as int8, as LiteRT)."""
    rng = np.random.default_rng(5)
    values = _table(tname, (6, 4), rng)
    scale = rng.uniform(0.01, 0.2, 6).astype(np.float32) if per_row else 0.037
    zero = np.zeros(6, np.int64) if per_row else 0
    data = one_op_model(
        Op.EMBEDDING_LOOKUP,
        [inp((5,), T.INT32), const(values, TABLE_TYPES[tname], scale, zero)],
        [out((5, 4))],
        version=3,
    )
    compare(data, feeds=[np.array([5, 0, 2, 2, 1], np.int32)], runs=1)


def test_embedding_lookup_refuses_out_of_range_ids_and_bad_tables():
    data = one_op_model(
        Op.EMBEDDING_LOOKUP,
        [inp((2,), T.INT32), const(np.ones((3, 2), np.float32))],
        [out((2, 2))],
    )
    it = Interpreter(model_content=data)
    it.allocate_tensors()
    for bad in ([0, 3], [-1, 0]):
        it.set_tensor(it.get_input_details()[0]["index"], np.array(bad, np.int32))
        with pytest.raises(InvalidModelError, match=r"outside \[0, 3\)"):
            it.invoke()
    hybrid = one_op_model(
        Op.EMBEDDING_LOOKUP,
        [inp((2,), T.INT32), const(np.ones((3, 2), np.int8), T.INT8, 0.1, 4)],
        [out((2, 2))],
    )
    with pytest.raises(InvalidModelError, match="zero points 0"):
        Interpreter(model_content=hybrid).allocate_tensors()


@pytest.mark.parametrize("combiner", [0, 1, 2])  # SUM, MEAN, SQRTN
@pytest.mark.parametrize(
    "indices, dense_shape",
    [
        ([[0, 0], [0, 1], [1, 0], [2, 3]], [3, 4]),
        # a row met again after another: LiteRT divides it again, reproduced
        ([[0, 0], [1, 0], [0, 1], [0, 2]], [2, 3]),
        ([[0, 1, 0], [1, 0, 0], [1, 0, 1], [1, 2, 0]], [2, 3, 2]),
    ],
)
def test_embedding_lookup_sparse(combiner, indices, dense_shape):
    rng = np.random.default_rng(combiner)
    value = rng.normal(size=(6, 2, 3)).astype(np.float32)
    n = len(indices)
    ids = rng.integers(0, 6, n).astype(np.int32)
    weights = rng.uniform(0.5, 2.0, n).astype(np.float32)
    data = one_op_model(
        Op.EMBEDDING_LOOKUP_SPARSE,
        [
            const(ids, T.INT32),
            const(np.array(indices, np.int32), T.INT32),
            const(np.array(dense_shape, np.int32), T.INT32),
            inp((n,)),
            const(value),
        ],
        [out(tuple(dense_shape[:-1]) + (2, 3))],
        {"combiner": combiner},
    )
    compare(data, feeds=[weights], runs=1)
